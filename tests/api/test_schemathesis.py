"""payoutd's own OpenAPI document, fuzzed by schemathesis 4 against payoutd running as a
real process (`payoutd serve --role api`: uvicorn on a loopback port), on SQLite and on
PostgreSQL.

`schemathesis run` reads the document from the server and runs every phase it has
(examples; coverage: boundary values and each way to break every parameter; fuzzing;
stateful: chains of calls along the links it infers) with every check it has: no 5xx;
every status code, content type, header and body as documented; data the schema
refuses is refused; data the schema accepts is accepted (but for the refusals the schema
cannot express, `MAY_REFUSE`); what was created can be read and what was deleted cannot;
a method the path does not take is 405 with an `Allow` header; a request without its
key is refused. Three runs:

- merchant: every operation of a merchant, with the merchant's key;
- operator: the operator's calls (/v1/admin, the sandbox's) and the reads an operator
  key may make (batches, assets, operations), with the operator's key;
- objects: the operations on one object, on the merchant's own objects (a paid payout
  in a batch, an offer, a webhook endpoint with a delivery, a read key, a saved address)
  and the operator's calls on that merchant and its offer.

The merchant's key must outlive the runs: the merchant run leaves out key deletion
(its stateful phase would find the key's own id in `GET /v1/api-keys`), which the
objects run fuzzes with the read key's id and no stateful phase; tests/api/test_access.py
tests deletion itself. Afterwards both keys still work and the ledger check is clean.

Nothing leaves the machine: the server runs no worker, so nothing is sent and no webhook
is delivered to the URLs the fuzzer makes up. The objects are made beforehand in this
process, whose worker jobs record deliveries without delivering them.

At least `MIN_CASES` generated cases per database, no failure of any check. Reproduce a
run with PAYOUTD_FUZZ_SEED=<the seed printed>; PAYOUTD_FUZZ_EXAMPLES sets schemathesis'
`max-examples` (per operation and phase)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from payoutd.api.app import create_app
from payoutd.bootstrap import build
from payoutd.chains.sandbox import SandboxChain
from payoutd.services import merchants
from payoutd.worker import jobs
from payoutd.worker.imports import import_pass
from tests import live, support

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MIN_CASES = 2000
EXAMPLES = int(os.environ.get("PAYOUTD_FUZZ_EXAMPLES", "25"))
DEPOSITS = {
    "BTC": "5",
    "USDT": "100000",
    "ETH": "50",
    "LTC": "100",
    "TRX": "100000",
    "TON": "1000",
    "DOGE": "100000",
}
BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
SERVER_SETTINGS = {
    "rate_sources": '["static"]',  # a generated `rate_source` must not reach an exchange
    "min_payout_eur": "0",
    "sandbox_batch_window_seconds": "0",
    "api_rate_limit_per_minute": "1000000",  # the fuzzer's pace is not what is tested
    "db_pool_size": "10",
}

OPERATOR_PATHS = r"^/v1/(admin/|sandbox/rules)"
KEY_DELETION = "DELETE /v1/api-keys/{key_id}"
# An answer to schema-valid data is 2xx, or one of these refusals that depend on state or
# on who asks: 401/403 (the key), 404 (an id the fuzzer made up), 409 (a state that does
# not allow it), 429 (a key's rate limit)
ACCEPTS = ["2xx", "401", "403", "404", "409", "429"]
# ...and what the schema cannot say, per operation
CURSOR = ["400"]  # a string that fits the schema but no cursor payoutd issued
MAY_REFUSE: dict[str, list[str]] = {
    "GET /v1/payouts": CURSOR,
    "GET /v1/batches": CURSOR,
    "GET /v1/webhook-endpoints": CURSOR,
    "GET /v1/webhook-endpoints/{endpoint_id}/deliveries": CURSOR,
    "GET /v1/payouts/{payout_id}/deliveries": CURSOR,
    "GET /v1/sandbox/transactions": CURSOR,
    "GET /v1/customers": CURSOR,
    "GET /v1/bank-accounts": CURSOR,
    "GET /v1/wallets": CURSOR,
    "GET /v1/ramp-payouts": CURSOR,
    # 422: a currency, network or address the chain's rules refuse, an amount beyond the
    # asset's limits or decimals or the balance (or, for a simulated deposit, not a
    # positive decimal string), a missing TOTP code, an unknown event
    # type or service, an IP allowlist entry that is no address, an unknown currency in
    # the path; and an integer field given as 50.0 (JSON Schema's "integer" allows it,
    # payoutd takes JSON integers only)
    "POST /v1/payouts": ["422"],
    "POST /v1/quotes": ["422"],
    "GET /v1/limits": ["422"],
    "POST /v1/addresses": ["422"],
    "POST /v1/api-keys": ["422"],
    "PUT /v1/address-allowlist": ["422"],
    "POST /v1/webhook-endpoints": ["422"],
    "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret": ["422"],
    "POST /v1/admin/deposits": ["422"],
    "PUT /v1/admin/merchants/{merchant_id}/fees/{currency}": ["422"],
    "POST /v1/sandbox/rules": ["422"],
    "POST /v1/sandbox/deposits": ["422"],
    # a name of only whitespace, as Python's str.strip sees it ("\x1e" is; JSON Schema's
    # patterns cannot say so)
    "POST /v1/admin/merchants": ["422"],
    # the parties of ramp payouts: a name of only whitespace (as above), a customer the
    # merchant does not have, a routing number, IBAN or BIC whose check fails, numbers of
    # the other currency, an address the network's rules refuse
    "POST /v1/customers": ["422"],
    "POST /v1/bank-accounts": ["422"],
    "POST /v1/wallets": ["422"],
    "POST /compat/sphere/v1/customer": ["422"],
    "POST /compat/sphere/v1/bankAccount": ["422"],
    "POST /compat/sphere/v1/wallet": ["422"],
    # a CSV body is a string to JSON Schema: its header must name the payout API's fields
    # (400 for no CSV at all, 422 for other columns)
    "POST /v1/payout-imports": ["400", "422"],
    "GET /v1/payout-imports": CURSOR,
    "GET /v1/payout-imports/{import_id}/rows": CURSOR,
    # ramp payouts: a source or destination of the other kind, currency or network, a
    # customer whose KYC is not approved, no funding account for the network; Sphere's
    # webhook URL that resolves to no public address
    "POST /v1/ramp-payouts": ["422"],
    "POST /compat/sphere/v1/payout": ["422"],
    "POST /compat/sphere/v1/webhook": ["422"],
    # the operator's bank: a file that is no statement; assign without a ramp payout (or
    # dismiss with one), a payout of the other kind or currency; a USD file without the
    # configured ACH company id; a transfer of a currency by a network that does not move it
    "POST /v1/admin/bank/statements": ["422"],
    "POST /v1/admin/bank/review/{item_id}/resolve": ["422"],
    "POST /v1/admin/bank/exports": ["422"],
    "POST /v1/sandbox/bank/transfers": ["422"],
}
# Data the schema forbids is refused with one of schemathesis' own refusal statuses...
REJECTS = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
# ...or, per operation, with a status the limit at fault has: a JSON import of more rows
# than `maxItems` is 413 `payload_too_large`, as the same rows in a CSV file are
REJECTS_ALSO: dict[str, list[str]] = {"POST /v1/payout-imports": ["413"]}


@dataclass
class Run:
    name: str
    key: str  # the Authorization header's key
    filters: list[str]  # schemathesis' --include-*/--exclude-* options
    phases: str = "examples,coverage,fuzzing,stateful"
    # per operation: the key (the operator's calls in a merchant run), path parameters
    keys: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)


def config(run: Run, url: str, fuzz_seed: int) -> str:
    """schemathesis.toml for a run (TOML's basic strings are JSON's)."""
    q = json.dumps
    lines = [
        f"base-url = {q(url)}",
        f"seed = {fuzz_seed}",
        "[headers]",
        f"Authorization = {q('Bearer ' + run.key)}",
        "[generation]",
        f"max-examples = {EXAMPLES}",
        # what no database stores (NUL, lone surrogates) is refused with 422 whatever the
        # schema says (payoutd.api.inputs); the refusal has its own tests
        "allow-x00 = false",
        'codec = "utf-8"',
        "[checks]",
        "enabled = true",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {q(ACCEPTS)}",
    ]
    names = sorted(set(MAY_REFUSE) | set(REJECTS_ALSO) | set(run.keys) | set(run.parameters))
    for name in names:
        lines += ["[[operations]]", f"include-name = {q(name)}"]
        if name in run.keys:
            lines += [f"headers = {{ Authorization = {q('Bearer ' + run.keys[name])} }}"]
        if name in run.parameters:
            pairs = ", ".join(f"{k} = {q(v)}" for k, v in run.parameters[name].items())
            lines += [f"parameters = {{ {pairs} }}"]
        if name in MAY_REFUSE:
            lines += [
                "[operations.checks.positive_data_acceptance]",
                f"expected-statuses = {q(ACCEPTS + MAY_REFUSE[name])}",
            ]
        if name in REJECTS_ALSO:
            lines += [
                "[operations.checks.negative_data_rejection]",
                f"expected-statuses = {q(REJECTS + REJECTS_ALSO[name])}",
            ]
    return "\n".join(lines) + "\n"


def schemathesis_run(run: Run, url: str, fuzz_seed: int, tmp_path: Path) -> dict[str, Any]:
    """One `schemathesis run`: its JSON report, and its output when a check failed."""
    directory = tmp_path / run.name
    directory.mkdir()
    (directory / "schemathesis.toml").write_text(config(run, url, fuzz_seed))
    report = directory / "report.json"
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        "schemathesis.toml",
        "run",
        f"{url}/openapi.json",
        "--phases",
        run.phases,
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *run.filters,
    ]
    done = subprocess.run(command, cwd=directory, capture_output=True, text=True, timeout=600)
    assert report.exists(), done.stdout + done.stderr
    result: dict[str, Any] = json.loads(report.read_text())
    result["output"] = done.stdout + done.stderr
    return result


def make_objects(database_url: str | None, tmp_path: Path) -> dict[str, str]:
    """The keys and the merchant's objects, made in process on the database the server
    will serve: a paid payout in a batch, an offer, a webhook endpoint with a delivery, a
    read key and a saved address."""
    cfg = support.test_settings(tmp_path, database_url, rate_sources=["static"])
    rt = build(cfg)
    app = create_app(rt)
    made: dict[str, str] = {}

    async def setup() -> None:
        if database_url is not None:
            await support.truncate_all(rt)
        async with rt.db.unit() as uow:
            operator = await merchants.create_operator_key(uow, rt.ctx, "fuzz")
            m, issued = await merchants.create_merchant(uow, rt.ctx, "Fuzz")
            for currency, amount in DEPOSITS.items():
                await merchants.deposit(uow, rt.ctx, m.id, currency, Decimal(amount))
        made.update(
            operator_key=operator.plaintext, merchant_key=issued.plaintext, merchant_id=m.id
        )
        headers = {"Authorization": f"Bearer {issued.plaintext}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://payoutd.test", headers=headers
        ) as c:

            async def post(path: str, body: Any) -> str:
                r = await c.post(path, json=body)
                assert r.status_code == 201, r.text
                return str(r.json()["id"])

            made["endpoint_id"] = await post(
                "/v1/webhook-endpoints", {"url": "https://merchant.example/hooks"}
            )
            paid = await post(
                "/v1/payouts", {"amount": "0.01", "currency": "BTC", "address": BTC_ADDR}
            )
            for _ in range(5):  # the worker's jobs and the sandbox miner, until paid
                await jobs.tick(rt.db, rt.ctx)
                for chain in rt.ctx.chains.values():
                    if isinstance(chain, SandboxChain):
                        await chain.mine(rt.ctx.clock.now())
            await jobs.dispatch_events(rt.db, rt.ctx)  # deliveries recorded, none sent
            r = await c.get(f"/v1/payouts/{paid}")
            assert r.json()["status"] == "paid" and r.json()["batch_id"], r.text
            made["batch_id"] = r.json()["batch_id"]
            r = await c.get(f"/v1/webhook-endpoints/{made['endpoint_id']}/deliveries")
            assert r.json()["data"], r.text
            made["delivery_id"] = r.json()["data"][0]["id"]
            made["payout_id"] = await post(
                "/v1/payouts",
                {"amount": "0.02", "currency": "BTC", "address": BTC_ADDR, "approval": "manual"},
            )
            made["key_id"] = await post("/v1/api-keys", {"scopes": ["read"]})
            made["address_id"] = await post(
                "/v1/addresses", {"network": "BTC", "address": BTC_ADDR}
            )
            r = await c.post(
                "/v1/payout-imports",
                json={"rows": [{"amount": "0.01", "currency": "BTC", "address": BTC_ADDR}]},
            )
            assert r.status_code == 202, r.text
            made["import_id"] = r.json()["id"]
            await import_pass(rt.db, rt.ctx)

    with start_blocking_portal() as portal:
        try:
            portal.call(setup)
        finally:
            portal.call(rt.close)
    return made


def runs(made: dict[str, str]) -> list[Run]:
    merchant, operator = made["merchant_key"], made["operator_key"]
    ids = {
        "payout_id": made["payout_id"],
        "batch_id": made["batch_id"],
        "endpoint_id": made["endpoint_id"],
        "delivery_id": made["delivery_id"],
        "key_id": made["key_id"],
        "address_id": made["address_id"],
        "merchant_id": made["merchant_id"],
        "import_id": made["import_id"],
        "currency": "BTC",
    }
    on_objects = {
        "GET /v1/payouts/{payout_id}",
        "POST /v1/payouts/{payout_id}/cancel",
        "POST /v1/payouts/{payout_id}/approve",
        "GET /v1/batches/{batch_id}",
        "GET /v1/webhook-endpoints/{endpoint_id}",
        "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "POST /v1/webhook-endpoints/{endpoint_id}/enable",
        "GET /v1/webhook-endpoints/{endpoint_id}/deliveries",
        "POST /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
        # (once it has deleted the endpoint, the calls above meet a 404: still checked)
        "DELETE /v1/webhook-endpoints/{endpoint_id}",
        "DELETE /v1/addresses/{address_id}",
        KEY_DELETION,
        "PUT /v1/admin/merchants/{merchant_id}/fees/{currency}",
        "POST /v1/admin/payouts/{payout_id}/resolve",
        "GET /v1/payout-imports/{import_id}",
        "GET /v1/payout-imports/{import_id}/rows",
    }
    parameters = {name: {p: ids[p] for p in ids if "{" + p + "}" in name} for name in on_objects}
    operator_calls = {name for name in on_objects if name.split()[1].startswith("/v1/admin/")}
    return [
        Run(
            "merchant",
            merchant,
            ["--exclude-path-regex", OPERATOR_PATHS, "--exclude-name", KEY_DELETION],
        ),
        Run(
            "operator",
            operator,
            [
                "--include-path-regex",
                OPERATOR_PATHS + r"|^/v1/(sandbox/|batches|assets|ping)"
                r"|^/(healthz|metrics)$",
            ],
        ),
        Run(
            "objects",
            merchant,
            [arg for name in sorted(on_objects) for arg in ("--include-name", name)],
            phases="examples,coverage,fuzzing",
            keys=dict.fromkeys(operator_calls, operator),
            parameters=parameters,
        ),
    ]


def test_generated_requests_get_documented_answers(
    database_url: str | None, tmp_path: Path
) -> None:
    fuzz_seed = int(os.environ.get("PAYOUTD_FUZZ_SEED") or random.randrange(2**32))
    print(f"schemathesis seed {fuzz_seed} (PAYOUTD_FUZZ_SEED)")
    made = make_objects(database_url, tmp_path)
    with live.api_server(
        tmp_path, database_url, tmp_path / "serve.log", **SERVER_SETTINGS
    ) as server:
        results = [
            (run, schemathesis_run(run, server.url, fuzz_seed, tmp_path)) for run in runs(made)
        ]
        # the keys outlived the runs; the ledger balances
        for key in (made["merchant_key"], made["operator_key"]):
            r = httpx.get(f"{server.url}/v1/assets", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200, r.text
        r = httpx.get(
            f"{server.url}/v1/admin/ledger/check",
            headers={"Authorization": f"Bearer {made['operator_key']}"},
        )
        assert r.status_code == 200 and r.json()["ok"], r.text
        log = server.output()

    cases = 0
    for run, result in results:
        generated = result["test_cases"]["generated"]
        cases += generated
        phases = ", ".join(f"{k} {v['status']}" for k, v in result["phases"].items())
        print(
            f"schemathesis {run.name}: {generated} cases, "
            f"{result['operations']['tested']} operations, "
            f"{result['running_time']:.1f} s ({phases})"
        )
        assert result["complete"], result["output"][-5000:]
        assert result["operations"]["tested"] == result["operations"]["selected"] > 0, (
            result["operations"],
            result["output"][-5000:],
        )
        assert not result["failures"] and not result["errors"], result["output"][-20000:]
        assert result["exit_code"] == 0, result["output"][-5000:]
    assert "Traceback" not in log, log[-5000:]
    assert cases >= MIN_CASES, [(run.name, result["test_cases"]) for run, result in results]


def test_every_list_that_takes_a_cursor_may_refuse_a_made_up_one(tmp_path: Path) -> None:
    """A new paginated route is listed in MAY_REFUSE, or the fuzzer's first made-up cursor
    fails the run above with a 400 it was not told about."""
    rt = build(support.test_settings(tmp_path, None))
    paths = create_app(rt).openapi()["paths"]
    paged = {
        f"{method.upper()} {path}"
        for path, item in paths.items()
        for method, op in item.items()
        # a provider dialect answers a made-up cursor in its own shape, 422 (documented)
        if any(p.get("name") == "cursor" for p in op.get("parameters", []))
        and not path.startswith("/compat/")
    }
    assert paged
    assert {name for name in paged if MAY_REFUSE.get(name) != CURSOR} == set()
