"""payoutd's own OpenAPI document, fuzzed by schemathesis against the in-process app.

Every operation the document lists gets generated requests, data that fits the schema
and data that does not, sent with a valid key (the merchant's for merchant calls, the
operator's for `/v1/admin` and the sandbox rules). Each response must be no 5xx, carry a
status code the operation documents, and match the documented schema of that status.
At least 1,000 requests go out in all; the ledger check is clean afterwards.

Hypothesis drives generation synchronously, so the app runs on an event loop of its own
(an anyio blocking portal): every request and every database call of the test, setup
and the ledger check included, runs there, and the engine's connections never cross
event loops. Reproduce a run with
PAYOUTD_FUZZ_SEED=<the seed printed>."""

from __future__ import annotations

import functools
import os
import random
import re
import traceback
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from payoutd.api.app import create_app
from payoutd.bootstrap import build
from payoutd.chains.sandbox import SandboxChain
from payoutd.services import merchants
from payoutd.worker import jobs
from tests import support

MIN_REQUESTS = 1000
# per operation and generation mode; operations with few distinct inputs run fewer
EXAMPLES = int(os.environ.get("PAYOUTD_FUZZ_EXAMPLES", "30"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
SKIP = {"/healthz", "/metrics", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}
OPERATOR_PATHS = ("/v1/admin/", "/v1/sandbox/rules")
DEPOSITS = {"BTC": "5", "USDT": "100000", "ETH": "50", "LTC": "100", "TRX": "100000",
            "TON": "1000", "DOGE": "100000"}
BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


class Fuzzer:
    """Sends schemathesis' cases to the app through the portal, checks every answer."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient, fuzz_seed: int) -> None:
        self.portal = portal
        self.client = client
        self.seed = fuzz_seed
        self.sent: Counter[str] = Counter()
        self.failures: list[str] = []

    def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        """The requests-style arguments schemathesis serializes a case to, sent with
        httpx."""
        kwargs = dict(kwargs)
        kwargs.pop("cookies", None)  # payoutd documents no cookie parameter
        data = kwargs.pop("data", None)
        if isinstance(data, bytes | str):
            kwargs["content"] = data
        elif data is not None:
            kwargs["data"] = data
        response: httpx.Response = self.portal.call(
            functools.partial(self.client.request, **kwargs))
        return response

    def fuzz(self, op: Any, mode: GenerationMode, auth: dict[str, str],
             path_parameters: dict[str, str] | None = None) -> None:
        seen: list[str] = []
        strategy = op.as_strategy(generation_mode=mode, path_parameters=path_parameters)

        @seed(self.seed)
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case: schemathesis.Case[Any]) -> None:
            kwargs = case.as_transport_kwargs(base_url=str(self.client.base_url),
                                              headers=auth)
            try:
                response = self.send(kwargs)
            except Exception as exc:  # the app raised: a 500 with the traceback at hand
                self.sent[op.label] += 1
                if len(seen) < 3:
                    trace = "".join(traceback.format_exception(exc)[-6:])
                    seen.append(f"{op.label} ({mode.value}) raised\n"
                                f"{case.as_curl_command()}\n{trace}")
                return
            self.sent[op.label] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=auth,
                                       transport_kwargs=kwargs)
            except (AssertionError, BaseExceptionGroup) as exc:
                if len(seen) < 3:
                    seen.append(f"{op.label} ({mode.value}) -> {response.status_code} "
                                f"{response.text[:300]}\n{case.as_curl_command()}\n{exc}")

        try:
            run()
        except Unsatisfiable:
            # nothing this operation takes can be made invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, op.label
        self.failures.extend(seen)


def objects(fuzzer: Fuzzer, merchant: dict[str, str], portal: BlockingPortal,
            settle: Any) -> dict[str, str]:
    """A paid payout in a batch, a queued one, an offer, a webhook endpoint with
    deliveries, a read key and a saved address of the merchant's."""

    def post(path: str, body: Any) -> dict[str, Any]:
        r = fuzzer.send({"method": "POST", "url": path, "headers": merchant, "json": body})
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    endpoint = post("/v1/webhook-endpoints", {"url": "https://merchant.example/hooks"})
    paid = post("/v1/payouts", {"amount": "0.01", "currency": "BTC", "address": BTC_ADDR})
    portal.call(settle)
    r = fuzzer.send({"method": "GET", "url": f"/v1/payouts/{paid['id']}", "headers": merchant})
    assert r.json()["status"] == "paid" and r.json()["batch_id"], r.text
    batch_id = r.json()["batch_id"]
    r = fuzzer.send({"method": "GET", "url": f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                     "headers": merchant})
    assert r.json()["data"], r.text
    return {
        "payout_id": post("/v1/payouts", {"amount": "0.02", "currency": "BTC",
                                          "address": BTC_ADDR, "approval": "manual"})["id"],
        "batch_id": batch_id,
        "endpoint_id": endpoint["id"],
        "delivery_id": r.json()["data"][0]["id"],
        "key_id": post("/v1/api-keys", {"scopes": ["read"]})["id"],
        "address_id": post("/v1/addresses", {"network": "BTC", "address": BTC_ADDR})["id"],
        "currency": "BTC",
    }


def test_generated_requests_get_documented_answers(database_url: str | None,
                                                  tmp_path: Path) -> None:
    fuzz_seed = int(os.environ.get("PAYOUTD_FUZZ_SEED") or random.randrange(2**32))
    print(f"schemathesis seed {fuzz_seed} (PAYOUTD_FUZZ_SEED)")
    # only the static rates: a generated `rate_source` must not reach a real exchange
    cfg = support.test_settings(tmp_path, database_url, rate_sources=["static"])
    rt = build(cfg, clock=support.FakeClock())
    app = create_app(rt)

    async def setup() -> tuple[str, str, str]:
        if database_url is not None:
            await support.truncate_all(rt)
        async with rt.db.unit() as uow:
            operator = await merchants.create_operator_key(uow, rt.ctx, "fuzz")
            m, issued = await merchants.create_merchant(uow, rt.ctx, "Fuzz")
            for currency, amount in DEPOSITS.items():
                await merchants.deposit(uow, rt.ctx, m.id, currency, Decimal(amount))
        return operator.plaintext, issued.plaintext, m.id

    async def settle() -> None:
        """The worker and the sandbox miner, until the payouts are paid."""
        for _ in range(5):
            await jobs.tick(rt.db, rt.ctx)
            for chain in rt.ctx.chains.values():
                if isinstance(chain, SandboxChain):
                    await chain.mine(rt.ctx.clock.now())
        await jobs.dispatch_events(rt.db, rt.ctx)

    async def ledger() -> dict[str, Any]:
        async with rt.db.read() as uow:
            return (await uow.ledger.check()).as_dict()

    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://payoutd.test")
        fuzzer = Fuzzer(portal, client, fuzz_seed)
        try:
            operator_key, merchant_key, merchant_id = portal.call(setup)
            merchant = {"Authorization": f"Bearer {merchant_key}"}
            operator = {"Authorization": f"Bearer {operator_key}"}
            # real objects, so that generated requests also meet what exists
            ids = objects(fuzzer, merchant, portal, settle) | {"merchant_id": merchant_id}

            document = fuzzer.send({"method": "GET", "url": "/openapi.json"}).json()
            schema = schemathesis.openapi.from_dict(document)
            operations = []
            for result in schema.get_all_operations():
                assert isinstance(result, Ok), result
                operations.append(result.ok())
            operations = [op for op in operations if op.path not in SKIP]
            assert len(operations) >= 30, [op.label for op in operations]

            for op in operations:
                auth = operator if op.path.startswith(OPERATOR_PATHS) else merchant
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    fuzzer.fuzz(op, mode, auth)
                names = re.findall(r"{([^}]+)}", op.path)
                if names and all(name in ids for name in names):
                    # the merchant's own objects: the answers that carry them, checked
                    fuzzer.fuzz(op, GenerationMode.POSITIVE, auth,
                                {name: ids[name] for name in names})

            report = portal.call(ledger)
            r = fuzzer.send({"method": "GET", "url": "/v1/admin/ledger/check",
                             "headers": operator})
            assert r.status_code == 200 and r.json() == report, r.text
        finally:
            portal.call(client.aclose)
            portal.call(rt.close)

    total = sum(fuzzer.sent.values())
    print(f"schemathesis: {total} requests over {len(fuzzer.sent)} operations")
    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)
    assert total >= MIN_REQUESTS, fuzzer.sent
    assert report["ok"], report
