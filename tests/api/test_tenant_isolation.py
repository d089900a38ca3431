"""Tenant isolation: a merchant never sees another merchant's payouts, sandbox outputs,
batch totals, webhook endpoints or deliveries, through any route (both databases).

The walk enumerates the application's routes, so a route added later is walked too; a
path parameter the test has no id for fails the test until one is added."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from payoutd.domain.fees import split_fee
from tests.services import ramp_support
from tests.support import Harness, Merchant
from tests.webhooks.receiver import drive, open_harness, running, subscribe

BTC_A1 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"
BTC_A2 = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BTC_B = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
LTC_A = "ltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjh"
TON = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"
SOL_A = "DuUf1ThgCQcwrrW6X6dw5MTwsHcTrxSg1rMhSSbvL1Zr"
MEMO_A, MEMO_B = "alpha-invoice-77", "beta-invoice-12"


def as_merchant(path: str, m: Merchant) -> dict[str, str]:
    """The merchant's credentials as the route takes them: Bitclear's dialect takes HTTP
    Basic (the key's id and its secret), every other GET route a bearer key."""
    if path.startswith("/compat/bitclear/"):
        key_id, _, secret = m.key.partition("_")[2].partition("_")
        token = base64.b64encode(f"pk_{key_id}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return m.headers


def get_routes(app: FastAPI) -> Iterator[str]:
    """Every GET path the application serves, included routers' routes among them."""
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # an included router
            candidates = list(route.effective_route_contexts())
        else:
            candidates = [route]
        for candidate in candidates:
            if "GET" in (getattr(candidate, "methods", None) or ()):
                yield candidate.path


async def sign_in_to_dashboard(h: Harness, m: Merchant) -> None:
    page = await h.client.get("/dashboard/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    r = await h.client.post("/dashboard/sign-in", data={"csrf": csrf.group(1), "api_key": m.key})
    assert r.status_code == 303, r.text


async def pay(h: Harness, m: Merchant, **body: Any) -> dict[str, Any]:
    r = await h.client.post("/v1/payouts", headers=m.headers, json=body)
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


async def read(h: Harness, m: Merchant, path: str) -> Any:
    r = await h.client.get(path, headers=m.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_no_get_route_shows_a_merchant_another_merchants_data(
    database_url: str | None, tmp_path: Path
) -> None:
    async with open_harness(database_url, tmp_path) as h, running() as rx:
        a = await h.merchant("Alpha", BTC="1", LTC="1", TON="10")
        b = await h.merchant("Beta", BTC="1", TON="10")
        endpoint = await subscribe(h, a, rx, "/alpha")
        a_payouts = [
            await pay(h, a, amount="0.01234567", currency="BTC", address=BTC_A1),
            await pay(h, a, amount="0.02345678", currency="BTC", address=BTC_A2),
            await pay(h, a, amount="0.03456789", currency="LTC", address=LTC_A),
            await pay(h, a, amount="1.23456789", currency="TON", address=TON, memo=MEMO_A),
        ]
        b_payouts = [
            await pay(h, b, amount="0.005", currency="BTC", address=BTC_B),
            await pay(h, b, amount="2.5", currency="TON", address=TON, memo=MEMO_B),
        ]
        await drive(h)
        a_paid = [await read(h, a, f"/v1/payouts/{p['id']}") for p in a_payouts]
        b_paid = [await read(h, b, f"/v1/payouts/{p['id']}") for p in b_payouts]
        assert {p["status"] for p in a_paid + b_paid} == {"paid"}
        # the BTC and the TON transactions carry both merchants' payouts; LTC only A's
        assert a_paid[0]["batch_id"] == a_paid[1]["batch_id"] == b_paid[0]["batch_id"]
        assert a_paid[3]["batch_id"] == b_paid[1]["batch_id"]
        deliveries = (await read(h, a, f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"))[
            "data"
        ]
        assert deliveries, "merchant A's endpoint has a delivery log to hide"

        # A's customer with a bank account and a wallet (ramp payouts' parties)
        customer = await create(h, a, "/v1/customers", {"type": "business", "name": "Alpha Co"})
        account = await create(
            h,
            a,
            "/v1/bank-accounts",
            {
                "customer": customer["id"],
                "currency": "eur",
                "holder_name": "Alpha Co",
                "iban": "NL91ABNA0417164300",
                "bic": "ABNANL2A",
            },
        )
        wallet = await create(
            h,
            a,
            "/v1/wallets",
            {"customer": customer["id"], "network": "sol", "currency": "usdc", "address": SOL_A},
        )

        r = await h.client.post(
            "/v1/payout-imports",
            content=f"amount,currency,address\n0.001,BTC,{BTC_A1}\n".encode(),
            headers={**a.headers, "Content-Type": "text/csv"},
        )
        assert r.status_code == 202, r.text
        a_import = r.json()["id"]
        a_only_batch = a_paid[2]["batch_id"]
        ids = {
            "customer_id": customer["id"],
            "account_id": account["id"],
            "wallet_id": wallet["id"],
            "payout_id": a_paid[0]["id"],
            "batch_id": a_only_batch,
            "endpoint_id": endpoint["id"],
            "delivery_id": deliveries[0]["id"],
            "key_id": (await read(h, a, "/v1/api-keys"))["data"][0]["id"],
            "merchant_id": a.id,
            "currency": "BTC",
            "import_id": a_import,
            **await ramp_support.ramp_objects(h, a),
        }
        hidden = {
            a.id,
            a.key,
            endpoint["id"],
            endpoint["url"],
            endpoint["secret"],
            BTC_A1,
            BTC_A2,
            LTC_A,
            MEMO_A,
            a_paid[2]["txid"],
            a_only_batch,
            a_import,
            *(p["id"] for p in a_paid),
            *(d["id"] for d in deliveries),
            *(p["amount"] for p in a_paid),
            *(p["final_amount"] for p in a_paid),
            customer["id"],
            account["id"],
            wallet["id"],
            SOL_A,
            ids["customer_id"],
            ids["ramp_id"],
        }

        # the dashboard's pages, walked too, with merchant B signed in (its session
        # cookie, sent only to /dashboard paths)
        await sign_in_to_dashboard(h, b)
        walked = []
        for route_path in get_routes(h.app):
            path = re.sub(r"{(\w+):\w+}", r"{\1}", route_path)  # a path convertor's name
            names = re.findall(r"{(\w+)}", path)
            missing = [n for n in names if n not in ids]
            assert not missing, f"{path}: give this test one of merchant A's ids for {missing}"
            r = await h.client.get(path.format(**ids), headers=as_merchant(path, b))
            assert r.status_code < 500, (path, r.text)
            if names:
                # A's object, asked for by B: not found (or not B's to ask for at all)
                assert r.status_code in (403, 404), (path, r.status_code, r.text)
            leaked = sorted(s for s in hidden if s in r.text)
            assert not leaked, f"GET {path} shows merchant B {leaked}"
            walked.append(path)
        for path in (
            "/v1/sandbox/transactions",
            "/v1/batches",
            "/v1/batches/{batch_id}",
            "/v1/webhook-endpoints/{endpoint_id}/deliveries",
            "/v1/payouts",
            "/dashboard/payouts",
            "/dashboard/payouts/{payout_id}",
            "/dashboard/webhooks/{endpoint_id}",
            "/dashboard/payouts/export.csv",
            "/dashboard/imports/{import_id}",
            "/v1/payout-imports/{import_id}",
        ):
            assert path in walked, path

        # Where a transaction is shared, B sees its own payouts, outputs and fee share.
        btc_batch = a_paid[0]["batch_id"]
        whole = await read(h, h_operator(h), f"/v1/batches/{btc_batch}")
        assert whole["payout_count"] == 3 and whole["output_count"] == 3
        mine = await read(h, b, f"/v1/batches/{btc_batch}")
        assert [p["id"] for p in mine["payouts"]] == [b_paid[0]["id"]]
        assert (mine["payout_count"], mine["output_count"]) == (1, 1)
        # the fee shared in proportion to the network fee each payout was charged
        charged = [Decimal(p["fees"]["network"]) for p in (*a_paid[:2], b_paid[0])]
        shares = split_fee(charged, Decimal(whole["fee"]), 8)
        assert Decimal(mine["fee"]) == shares[2] < Decimal(whole["fee"])
        assert Decimal(mine["fee_saved"]) == Decimal(mine["unbatched_fee"]) - Decimal(mine["fee"])
        listed = (await read(h, b, "/v1/batches"))["data"]
        assert {x["id"]: x for x in listed}[btc_batch] == mine

        txs = {t["txid"]: t for t in (await read(h, b, "/v1/sandbox/transactions"))["data"]}
        assert set(txs) == {b_paid[0]["txid"], b_paid[1]["txid"]}
        btc_tx = txs[b_paid[0]["txid"]]
        assert btc_tx["outputs"] == [
            {"address": BTC_B, "amount": b_paid[0]["final_amount"], "memo": None}
        ]
        assert btc_tx["fee"] == mine["fee"]
        ton_tx = txs[b_paid[1]["txid"]]
        assert [(o["address"], o["memo"]) for o in ton_tx["outputs"]] == [(TON, MEMO_B)]

        # the operator still sees whole transactions
        everything = (await read(h, h_operator(h), "/v1/sandbox/transactions"))["data"]
        assert {t["txid"] for t in everything} == {p["txid"] for p in a_paid + b_paid}


async def create(h: Harness, m: Merchant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await h.client.post(path, headers=m.headers, json=body)
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


def h_operator(h: Harness) -> Merchant:
    """The harness's operator key, shaped as a caller."""
    return Merchant("operator", h.operator_key)
