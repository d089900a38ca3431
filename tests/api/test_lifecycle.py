"""The payout lifecycle through the native API, on SQLite and PostgreSQL: listing and
pagination, cancel, order_id retries, the sandbox's failure rules, batching, and the
outbox event written with every status change. The ledger is checked after each test."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from payoutd.chains.addressing import validate_address
from payoutd.domain.assets import NETWORKS
from tests.support import Harness, Merchant

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
BTC_ADDR_2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"
BTC_ADDR_3 = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


@pytest.fixture
async def api(h: Harness) -> AsyncIterator[Harness]:
    """The harness, with every response checked (a 5xx is a bug) and the ledger verified
    once the test is done."""

    async def no_server_errors(response: Any) -> None:
        assert response.status_code < 500, (
            f"{response.request.method} {response.request.url} -> {response.status_code}"
        )

    h.client.event_hooks["response"].append(no_server_errors)
    yield h
    report = await h.ledger_check()
    assert report["ok"], report["problems"]


async def create(h: Harness, m: Merchant, expect: int = 201, **body: Any) -> dict[str, Any]:
    r = await h.client.post("/v1/payouts", headers=m.headers, json=body)
    assert r.status_code == expect, r.text
    payout: dict[str, Any] = r.json()
    return payout


def btc(amount: str, address: str = BTC_ADDR, **more: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "BTC", "address": address, **more}


async def list_ids(h: Harness, m: Merchant, **params: Any) -> list[str]:
    r = await h.client.get("/v1/payouts", headers=m.headers, params=params)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return [p["id"] for p in r.json()["data"]]


async def events(h: Harness, payout_id: str) -> list[tuple[str, str | None, str | None]]:
    """(type, old status, new status) of the outbox events about one payout, in order."""
    async with h.rt.db.read() as uow:
        rows = await uow.outbox.for_subject(payout_id)
    out: list[tuple[str, str | None, str | None]] = []
    for row in rows:
        payload = row["payload"]
        assert row["merchant_id"] and payload["payout"]["id"] == payout_id
        if row["type"] == "payout.created":
            out.append((row["type"], None, payload["payout"]["status"]))
            continue
        # the payout in the event is the payout after the change
        assert payload["payout"]["status"] == payload["new_status"], row
        out.append((row["type"], payload["old_status"], payload["new_status"]))
    return out


def changed(*statuses: str) -> list[tuple[str, str | None, str | None]]:
    """payout.created in the first status, then one status_changed per step."""
    out: list[tuple[str, str | None, str | None]] = [("payout.created", None, statuses[0])]
    for old, new in itertools.pairwise(statuses):
        out.append(("payout.status_changed", old, new))
    return out


async def add_rule(h: Harness, address: str, action: str, **more: Any) -> None:
    r = await h.client.post(
        "/v1/sandbox/rules", headers=h.admin, json={"address": address, "action": action, **more}
    )
    assert r.status_code == 201, r.text


async def sandbox_txs(h: Harness, m: Merchant) -> list[dict[str, Any]]:
    r = await h.client.get("/v1/sandbox/transactions", headers=m.headers)
    assert r.status_code == 200, r.text
    txs: list[dict[str, Any]] = r.json()["data"]
    return txs


# -- reading ---------------------------------------------------------------------------


async def test_list_filters(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1", USDT="1000")
    other = await h.merchant("Other", BTC="1")
    b1 = (await create(h, m, **btc("0.01")))["id"]
    u1 = (
        await create(
            h, m, amount="25", currency="USDT", network="TRON", address=TRON_ADDR, order_id="inv-1"
        )
    )["id"]
    u2 = (
        await create(
            h, m, amount="30", currency="USDT", network="TRON", address=TRON_ADDR, order_id="inv-2"
        )
    )["id"]
    offer = (await create(h, m, **btc("0.02", approval="manual")))["id"]
    gone = (await create(h, m, **btc("0.03")))["id"]
    r = await h.client.post(f"/v1/payouts/{gone}/cancel", headers=m.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    await create(h, other, **btc("0.01", order_id="inv-1"))

    newest_first = [gone, offer, u2, u1, b1]
    assert await list_ids(h, m) == newest_first
    assert await list_ids(h, m, status="queued") == [u2, u1, b1]
    assert await list_ids(h, m, status="pending_approval") == [offer]
    assert await list_ids(h, m, status="cancelled") == [gone]
    assert await list_ids(h, m, status="paid") == []
    assert await list_ids(h, m, currency="USDT") == [u2, u1]
    assert await list_ids(h, m, currency="btc") == [gone, offer, b1]
    assert await list_ids(h, m, order_id="inv-1") == [u1]  # not the other merchant's
    assert await list_ids(h, m, order_id="inv-3") == []
    assert await list_ids(h, m, status="queued", currency="BTC") == [b1]
    assert await list_ids(h, m, network="TRON", order_id="inv-2") == [u2]
    listed = (
        await h.client.get("/v1/payouts", headers=m.headers, params={"order_id": "inv-1"})
    ).json()["data"][0]
    assert listed == await h.payout(m, u1)


async def test_cursor_pagination(api: Harness) -> None:
    h = api
    m = await h.merchant(USDT="1000")
    created = [
        (
            await create(
                h,
                m,
                amount="25",
                currency="USDT",
                network="TRON",
                address=TRON_ADDR,
                order_id=f"o-{i}",
            )
        )["id"]
        for i in range(25)
    ]
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 10}
        if cursor:
            params["cursor"] = cursor
        r = await h.client.get("/v1/payouts", headers=m.headers, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append([p["id"] for p in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 5, "pagination does not end"
    assert [len(p) for p in pages] == [10, 10, 5]
    seen = [pid for page in pages for pid in page]
    assert len(set(seen)) == 25  # no duplicates
    assert seen == list(reversed(created))  # no gaps, newest first
    # the same pages with a filter, and the filter's own end
    r = await h.client.get(
        "/v1/payouts",
        headers=m.headers,
        params={"limit": 25, "status": "queued", "currency": "USDT"},
    )
    assert [p["id"] for p in r.json()["data"]] == seen and r.json()["next_cursor"] is None
    r = await h.client.get("/v1/payouts", headers=m.headers, params={"limit": 24})
    assert r.json()["next_cursor"] is not None
    r = await h.client.get(
        "/v1/payouts", headers=m.headers, params={"limit": 24, "cursor": r.json()["next_cursor"]}
    )
    assert [p["id"] for p in r.json()["data"]] == [created[0]]
    assert r.json()["next_cursor"] is None


# -- cancel, offers, retries -------------------------------------------------------------


async def test_cancel_of_a_queued_payout_voids_the_hold(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1")
    payout = await create(h, m, **btc("0.1"))
    bal = (await h.balances(m))["BTC"]
    assert (bal["available"], bal["held"]) == ("0.89998000", "0.10002000")

    r = await h.client.post(f"/v1/payouts/{payout['id']}/cancel", headers=m.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["is_final"] is True
    assert (await h.balances(m))["BTC"] == {
        "currency": "BTC",
        "available": "1.00000000",
        "held": "0.00000000",
        "balance": "1.00000000",
    }
    assert await events(h, payout["id"]) == changed("queued", "cancelled")

    # nothing is sent afterwards, and a second cancel is refused
    await h.settle()
    assert (await h.payout(m, payout["id"]))["status"] == "cancelled"
    assert await sandbox_txs(h, m) == []
    r = await h.client.post(f"/v1/payouts/{payout['id']}/cancel", headers=m.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "payout_not_cancellable"
    assert (await h.balances(m))["BTC"]["available"] == "1.00000000"


async def test_an_offer_holds_nothing_until_approved(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1")
    offer = await create(h, m, **btc("0.1", approval="manual"))
    assert offer["status"] == "pending_approval"
    assert (await h.balances(m))["BTC"]["held"] == "0.00000000"
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    assert (await h.balances(m))["BTC"]["held"] == "0.10002000"
    await h.settle()
    assert (await h.payout(m, offer["id"]))["status"] == "paid"
    assert await events(h, offer["id"]) == [
        *changed("pending_approval", "queued", "sending", "confirming", "paid"),
        ("payout.paid", "confirming", "paid"),
    ]

    dropped = await create(h, m, **btc("0.1", approval="manual"))
    r = await h.client.post(f"/v1/payouts/{dropped['id']}/cancel", headers=m.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert await events(h, dropped["id"]) == changed("pending_approval", "cancelled")
    assert (await h.balances(m))["BTC"] == {
        "currency": "BTC",
        "available": "0.89998000",
        "held": "0.00000000",
        "balance": "0.89998000",
    }


async def test_order_id_repeat_returns_the_same_payout(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1")
    body = btc("0.1", order_id="refund-42")
    first = await create(h, m, **body)
    before = await h.balances(m)

    again = await create(h, m, expect=200, **body)
    assert again == first
    assert await h.balances(m) == before
    assert await list_ids(h, m) == [first["id"]]
    # the order_id decides, not the body: a changed retry still gets the first payout
    changed_retry = await create(h, m, expect=200, **btc("0.5", order_id="refund-42"))
    assert changed_retry["id"] == first["id"] and changed_retry["amount"] == "0.10000000"
    assert await h.balances(m) == before
    assert await list_ids(h, m, order_id="refund-42") == [first["id"]]
    assert await events(h, first["id"]) == changed("queued")

    # and once it is paid, a retry still returns it and moves no money
    await h.settle()
    paid = await h.payout(m, first["id"])
    assert paid["status"] == "paid"
    after_paid = await h.balances(m)
    assert await create(h, m, expect=200, **body) == paid
    assert await h.balances(m) == after_paid
    assert len(await sandbox_txs(h, m)) == 1


# -- the sandbox chain's failure rules ----------------------------------------------------


async def test_reject_rule_fails_the_payout_and_returns_the_funds(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1")
    await add_rule(h, BTC_ADDR_2, "reject")
    payout = await create(h, m, **btc("0.1", BTC_ADDR_2))
    assert (await h.balances(m))["BTC"]["held"] == "0.10002000"

    await h.settle()
    failed = await h.payout(m, payout["id"])
    assert failed["status"] == "failed" and failed["is_final"] is True
    assert "reject" in (failed["failure_reason"] or "")
    assert (await h.balances(m))["BTC"] == {
        "currency": "BTC",
        "available": "1.00000000",
        "held": "0.00000000",
        "balance": "1.00000000",
    }
    assert await sandbox_txs(h, m) == []
    assert await events(h, payout["id"]) == [
        *changed("queued", "sending", "failed"),
        ("payout.failed", "sending", "failed"),
    ]
    r = await h.client.post(f"/v1/payouts/{payout['id']}/cancel", headers=m.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "payout_not_cancellable"


async def test_drop_rule_needs_review_with_funds_still_held(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1")
    await add_rule(h, BTC_ADDR_3, "drop", network="btc")
    payout = await create(h, m, **btc("0.1", BTC_ADDR_3))

    await h.settle(rounds=6)
    review = await h.payout(m, payout["id"])
    assert review["status"] == "needs_review" and review["is_final"] is False
    assert review["txid"] and review["failure_reason"]
    assert (await h.balances(m))["BTC"] == {
        "currency": "BTC",
        "available": "0.89998000",
        "held": "0.10002000",
        "balance": "1.00000000",
    }
    txs = await sandbox_txs(h, m)
    assert [(t["txid"], t["status"]) for t in txs] == [(review["txid"], "dropped")]
    assert await events(h, payout["id"]) == changed(
        "queued", "sending", "confirming", "needs_review"
    )
    # broadcast once: it is not cancellable and never rebuilt by itself
    r = await h.client.post(f"/v1/payouts/{payout['id']}/cancel", headers=m.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "payout_not_cancellable"
    await h.settle()
    assert (await h.payout(m, payout["id"]))["status"] == "needs_review"
    assert len(await sandbox_txs(h, m)) == 1


async def test_delay_rule_keeps_the_payout_confirming(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1")
    await add_rule(h, BTC_ADDR_2, "delay", blocks=5)
    payout = await create(h, m, **btc("0.1", BTC_ADDR_2))

    await h.tick()  # batched and broadcast: into the mempool, held back for 5 blocks
    assert (await h.payout(m, payout["id"]))["status"] == "confirming"
    for _ in range(5):
        await h.mine()
        await h.tick()
    p = await h.payout(m, payout["id"])
    assert (p["status"], p["confirmations"]) == ("confirming", 0)
    await h.mine()  # the 6th block takes it in: one confirmation of the two needed
    await h.tick()
    p = await h.payout(m, payout["id"])
    assert (p["status"], p["confirmations"]) == ("confirming", 1)
    assert (await h.balances(m))["BTC"]["held"] == "0.10002000"
    await h.mine()
    await h.tick()
    p = await h.payout(m, payout["id"])
    assert (p["status"], p["confirmations"]) == ("paid", 2)
    assert (await h.balances(m))["BTC"] == {
        "currency": "BTC",
        "available": "0.89998000",
        "held": "0.00000000",
        "balance": "0.89998000",
    }
    assert await events(h, payout["id"]) == [
        *changed("queued", "sending", "confirming", "paid"),
        ("payout.paid", "confirming", "paid"),
    ]


async def test_payouts_to_one_address_go_out_as_one_output(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="5")
    one = await create(h, m, **btc("1"))
    two = await create(h, m, **btc("2"))
    await h.settle()

    one, two = await h.payout(m, one["id"]), await h.payout(m, two["id"])
    assert one["status"] == two["status"] == "paid"
    assert one["txid"] and one["txid"] == two["txid"]
    assert one["batch_id"] and one["batch_id"] == two["batch_id"]
    txs = await sandbox_txs(h, m)
    assert len(txs) == 1
    assert txs[0]["txid"] == one["txid"]
    assert txs[0]["outputs"] == [{"address": BTC_ADDR, "amount": "3.00000000", "memo": None}]
    assert await list_ids(h, m, batch_id=one["batch_id"]) == [two["id"], one["id"]]
    assert (await h.balances(m))["BTC"] == {
        "currency": "BTC",
        "available": "1.99996000",
        "held": "0.00000000",
        "balance": "1.99996000",
    }
    for p in (one, two):
        assert await events(h, p["id"]) == [
            *changed("queued", "sending", "confirming", "paid"),
            ("payout.paid", "confirming", "paid"),
        ]


# -- operations --------------------------------------------------------------------------


async def test_healthz(api: Harness) -> None:
    r = await api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


DESIGN_ASSETS = {
    "BTC": {"BTC"},
    "LTC": {"LTC"},
    "DOGE": {"DOGE"},
    "ETH": {"ETH", "USDT", "USDC", "DAI", "FRAX", "BUSD"},
    "TRON": {"TRX", "USDT"},
    "BSC": {"BNB", "USDT", "USDC", "BUSD"},
    "POLYGON": {"POL", "USDT", "USDC"},
    "SOL": {"SOL", "USDT", "USDC"},
    "TON": {"TON", "USDT"},
    "BASE": {"ETH", "USDC"},
}


async def test_assets_lists_every_currency_and_network(api: Harness) -> None:
    h = api
    m = await h.merchant()
    r = await h.client.get("/v1/assets", headers=m.headers)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    listed = {(a["currency"], a["network"]) for a in data}
    assert len(listed) == len(data)
    assert listed == {(c, n) for n, cs in DESIGN_ASSETS.items() for c in cs}
    for a in data:
        assert a["mode"] == "sandbox", a
        assert a["priority"] is (a["network"] in {"BTC", "ETH", "POLYGON", "BSC"}), a
        assert a["memo"] is (a["network"] == "TON"), a
        assert 0 < Decimal(a["min_amount"]) < Decimal(a["max_amount"]), a
    usdt_tron = next(a for a in data if (a["currency"], a["network"]) == ("USDT", "TRON"))
    assert (usdt_tron["min_amount"], usdt_tron["max_amount"]) == ("0.5", "10000000")
    contracts = {(a["currency"], a["network"]): a["contract"] for a in data}
    assert contracts[("USDC", "SOL")] == "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    assert contracts[("USDT", "SOL")] == "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
    for (currency, network), contract in contracts.items():
        # a token names its contract (mint, jetton master), valid by its network's rules;
        # a network's own coin has none
        if currency == NETWORKS[network].native:
            assert contract is None, (currency, network)
        else:
            assert contract is not None, (currency, network)
            assert validate_address(network, contract) == contract, (currency, network)
