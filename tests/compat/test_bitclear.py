"""Bitclear's v3 payouts at /compat/bitclear/v3, driven by a client written from the seed
(tests/compat/bitclear_client.py), on SQLite and PostgreSQL (issue 20, Bitclear's
must-show): offers priced exactly or in fiat, approval both ways, expiry, autoApprove,
batching to one output, payout-limits, list and get, notifications for each state.

Expected figures are worked out here from the shipped sample rates (BTC/USD 65000.00,
EUR/USD 1.08) and from the native view of the same payout (its debit), never copied from
an answer."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import support
from tests.compat import bitclear_client
from tests.compat.bitclear_client import PAYOUT_FIELDS, BitclearClient, Inbox, credentials
from tests.compat.bitclear_support import (
    A1,
    A2,
    A3,
    BTC_USD,
    CENT,
    EUR_USD,
    SATOSHI,
    answer,
    clean,
    held,
    is_number,
    millis,
    native,
    offer,
    pump,
    when,
)
from tests.support import Harness, Merchant

# -- harnesses -----------------------------------------------------------------------


@asynccontextmanager
async def harness(
    database_url: str | None, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Harness]:
    settings = support.test_settings(tmp_path, database_url, **overrides)
    async with support.harness(settings, truncate=database_url is not None) as h:
        yield h


@pytest.fixture
async def hw(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """A 60 s batch window, so payouts approved close together can share a transaction."""
    async with harness(database_url, tmp_path, sandbox_batch_window_seconds=60) as h:
        yield h


@pytest.fixture
async def hn(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """Notifications may reach loopback, where the inbox listens."""
    async with harness(database_url, tmp_path, webhook_allow_private=True) as h:
        yield h


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    yield box
    box.close()


# -- the client ----------------------------------------------------------------------


def test_the_client_is_written_from_the_seed_alone() -> None:
    """It imports nothing of payoutd (nor of the tests that do): what it sends and reads is
    the seed's wire format, not payoutd's code."""
    tree = ast.parse(Path(bitclear_client.__file__).read_text())
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert imported and not [m for m in imported if m.split(".")[0] in ("payoutd", "tests")]


# -- offers --------------------------------------------------------------------------


async def test_exact_crypto_offer(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    c = BitclearClient(h.client, m.key)
    created_at = h.clock.now()
    r = await c.create(**offer())
    p = answer(r, 201)

    assert tuple(p) == PAYOUT_FIELDS
    assert p["status"] == "NEW"
    assert (p["address"], p["transferCurrency"], p["priceCurrency"]) == (A1, "BTC", "USD")
    assert p["comment"] == "Refund for a purchase of a faulty product"
    assert p["merchantId"] == m.id
    # amounts are JSON numbers on the wire, not strings, and exact
    assert is_number(p["transferAmount"]) and is_number(p["priceAmount"])
    assert '"transferAmount":"' not in r.text and '"priceAmount":"' not in r.text
    assert p["transferAmount"] == Decimal("0.1")
    # charged in BTC (no USD balance): the statement's price is that debit's worth in
    # USD at the sample rate, rounded down to the cent
    debit = (await native(h, m, p["payoutId"]))["debit"]
    assert debit["currency"] == "BTC"
    assert p["priceAmount"] == (Decimal(debit["amount"]) * BTC_USD).quantize(CENT, ROUND_FLOOR)
    # the offer is valid for the quote's time to live, stamped as the seed writes times
    assert p["createdTime"] == millis(created_at)
    ttl = h.rt.ctx.settings.quote_ttl_seconds
    assert when(p["expirationTime"]) - when(p["createdTime"]) == timedelta(seconds=ttl)
    # an offer holds nothing
    assert await held(h, m) == 0
    await clean(h)


async def test_fiat_priced_offer(h: Harness) -> None:
    """The seed's second use case: the worth of 100 USD in BTC, `priceAmount` sent as the
    JSON integer the seed shows."""
    m = await h.merchant(BTC="1")
    c = BitclearClient(h.client, m.key)
    r = await c.create(
        priceAmount=100,
        priceCurrency="USD",
        transferCurrency="BTC",
        address=A1,
        comment="New logo design",
    )
    p = answer(r, 201)
    assert p["status"] == "NEW"
    assert is_number(p["transferAmount"]) and is_number(p["priceAmount"])
    assert p["priceAmount"] == 100
    # what the recipient gets rounds down to the satoshi
    assert p["transferAmount"] == (Decimal(100) / BTC_USD).quantize(SATOSHI, ROUND_FLOOR)
    assert p["comment"] == "New logo design"
    assert await held(h, m) == 0
    await clean(h)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("0.12345678", Decimal("0.12345678")),  # every digit kept
        ("1", Decimal("1")),  # a whole number
        ("5E-3", Decimal("0.005")),  # an exponent is a JSON number too
    ],
)
async def test_amounts_are_read_exactly(h: Harness, sent: str, expected: Decimal) -> None:
    """The JSON number's own text is the amount: no float in between."""
    m = await h.merchant(BTC="2")
    body = (
        '{"transferAmount":' + sent + ',"transferCurrency":"BTC",'
        '"priceCurrency":"USD","address":"' + A1 + '"}'
    )
    r = await h.client.post(
        "/compat/bitclear/v3/payouts",
        content=body,
        headers={"Content-Type": "application/json"},
        auth=BitclearClient(h.client, m.key).auth,
    )
    p = answer(r, 201)
    assert p["transferAmount"] == expected
    assert Decimal((await native(h, m, p["payoutId"]))["payout_amount"]) == expected


@pytest.mark.parametrize(
    "amount", ["-0.1", "0", "true", "NaN", "0.000000001", "1e400", '"0.1x"', "[0.1]"]
)
async def test_amounts_that_are_not_amounts_are_refused(h: Harness, amount: str) -> None:
    m = await h.merchant(BTC="1")
    r = await h.client.post(
        "/compat/bitclear/v3/payouts",
        content='{"transferAmount":' + amount + ',"transferCurrency":"BTC",'
        '"priceCurrency":"USD","address":"' + A1 + '"}',
        headers={"Content-Type": "application/json"},
        auth=BitclearClient(h.client, m.key).auth,
    )
    assert r.status_code == 422, r.text
    assert list(r.json()["error"]["fields"]) == ["transferAmount"]
    assert (await h.client.get("/v1/payouts", headers=m.headers)).json()["data"] == []


@pytest.mark.parametrize(
    ("asked", "field"),
    [
        ({"transferAmount": Decimal("0.000000001")}, "transferAmount"),  # 9 BTC decimals
        ({"transferAmount": None, "priceAmount": Decimal("0.001")}, "priceAmount"),  # 3 cents
        ({"transferCurrency": "XYZ"}, "transferCurrency"),
        ({"transferCurrency": "ETH"}, "transferCurrency"),  # which network: Bitclear can't say
        ({"address": "not-an-address"}, "address"),
        ({"notificationUrl": "http://127.0.0.1/hook"}, "notificationUrl"),  # private
    ],
)
async def test_a_refusal_names_the_field_bitclear_sent(
    h: Harness, asked: dict[str, Any], field: str
) -> None:
    """payoutd's refusal, its shape kept (the seed documents none), naming the field as
    the client wrote it, never payoutd's own name for it."""
    m = await h.merchant(BTC="1", ETH="1")
    fields = {k: v for k, v in offer(**asked).items() if v is not None}
    r = await BitclearClient(h.client, m.key).create(**fields)
    assert r.status_code in (400, 422), r.text
    assert list(r.json()["error"]["fields"]) == [field], r.text
    assert (await h.client.get("/v1/payouts", headers=m.headers)).json()["data"] == []


async def test_basic_auth_with_the_key_id_and_secret(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    key_id, secret = credentials(m.key)
    assert m.key == f"{key_id}_{secret}"

    async def limits(auth: httpx.BasicAuth | None, **headers: str) -> httpx.Response:
        return await h.client.get("/compat/bitclear/v3/payout-limits", auth=auth, headers=headers)

    assert (await limits(httpx.BasicAuth(key_id, secret))).status_code == 200
    refused = [
        await limits(httpx.BasicAuth(key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B"))),
        await limits(httpx.BasicAuth(m.key, secret)),  # the whole key is not its id
        await limits(None),
        await limits(None, **m.headers),  # payoutd's Bearer is not Bitclear's way
    ]
    for r in refused:
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].lower().startswith("basic")


# -- approval ------------------------------------------------------------------------


async def test_approval_both_ways_queues_the_offer(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    c = BitclearClient(h.client, m.key)
    first = answer(await c.create(**offer(address=A1)), 201)
    second = answer(await c.create(**offer(address=A2)), 201)
    assert await held(h, m) == 0

    by_body = answer(await c.approve(first["payoutId"]))
    by_path = answer(await c.approve_by_path(second["payoutId"]))
    for was, now in ((first, by_body), (second, by_path)):
        assert now["status"] == "QUEUED"
        # the offer's figures, unchanged by the approval
        assert {**now, "status": "NEW"} == was
        assert answer(await c.get(was["payoutId"])) == now
    debits = [
        Decimal((await native(h, m, p["payoutId"]))["debit"]["amount"]) for p in (first, second)
    ]
    assert await held(h, m) == sum(debits)

    await h.settle()
    for p in (first, second):
        assert answer(await c.get(p["payoutId"]))["status"] == "SENT"
    assert Decimal((await h.balances(m))["BTC"]["balance"]) == 1 - sum(debits)
    await clean(h)


@pytest.mark.parametrize("way", ["body", "path"])
async def test_approval_after_expiry_is_refused_and_nothing_is_ever_held(
    h: Harness, way: str
) -> None:
    m = await h.merchant(BTC="1")
    c = BitclearClient(h.client, m.key)
    start = await h.balances(m)
    p = answer(await c.create(**offer()), 201)
    assert await h.balances(m) == start

    h.clock.advance(h.rt.ctx.settings.quote_ttl_seconds + 1)
    approve = c.approve if way == "body" else c.approve_by_path
    r = await approve(p["payoutId"])
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "quote_expired"
    assert answer(await c.get(p["payoutId"]))["status"] == "EXPIRED"
    assert await h.balances(m) == start

    # asked again, still refused; the worker leaves it expired and nothing moves
    assert (await approve(p["payoutId"])).status_code == 409
    await h.settle()
    assert answer(await c.get(p["payoutId"]))["status"] == "EXPIRED"
    assert await h.balances(m) == start
    await clean(h)


async def test_an_offer_left_alone_expires(h: Harness) -> None:
    """The worker expires an offer nobody approved; approving it then is refused."""
    m = await h.merchant(BTC="1")
    c = BitclearClient(h.client, m.key)
    start = await h.balances(m)
    p = answer(await c.create(**offer()), 201)
    h.clock.advance(h.rt.ctx.settings.quote_ttl_seconds + 1)
    await h.tick()
    assert answer(await c.get(p["payoutId"]))["status"] == "EXPIRED"
    assert (await c.approve_by_path(p["payoutId"])).status_code == 409
    assert await h.balances(m) == start
    await clean(h)


async def test_auto_approve_queues_at_once(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    c = BitclearClient(h.client, m.key)
    p = answer(await c.create(**offer(autoApprove=True)), 201)
    assert p["status"] == "QUEUED"
    debit = Decimal((await native(h, m, p["payoutId"]))["debit"]["amount"])
    assert await held(h, m) == debit
    await h.settle()
    assert answer(await c.get(p["payoutId"]))["status"] == "SENT"
    assert Decimal((await h.balances(m))["BTC"]["balance"]) == 1 - debit
    await clean(h)


# -- batching ------------------------------------------------------------------------


async def test_two_payouts_to_one_address_are_one_output(hw: Harness) -> None:
    """The seed's example: two payouts to A1 approved within the window are sent as one
    transaction paying A1 their sum once."""
    h = hw
    m = await h.merchant(BTC="10")
    c = BitclearClient(h.client, m.key)
    one = answer(await c.create(**offer(transferAmount=Decimal("1"))), 201)
    two = answer(await c.create(**offer(transferAmount=Decimal("2"))), 201)
    answer(await c.approve(one["payoutId"]))
    await h.tick()
    # the window is open: the first waits for company (with no window it would go alone)
    assert answer(await c.get(one["payoutId"]))["status"] == "QUEUED"
    assert (await h.client.get("/v1/sandbox/transactions", headers=m.headers)).json()["data"] == []
    h.clock.advance(30)
    answer(await c.approve_by_path(two["payoutId"]))
    h.clock.advance(31)  # the first has waited 61 s
    await h.settle()

    sent = [answer(await c.get(p["payoutId"])) for p in (one, two)]
    assert [s["status"] for s in sent] == ["SENT", "SENT"]
    views = [await native(h, m, p["payoutId"]) for p in (one, two)]
    assert views[0]["txid"] == views[1]["txid"] and views[0]["batch_id"] == views[1]["batch_id"]
    txs = (await h.client.get("/v1/sandbox/transactions", headers=m.headers)).json()["data"]
    total = (one["transferAmount"] + two["transferAmount"]).quantize(SATOSHI)
    assert [t["outputs"] for t in txs] == [[{"address": A1, "amount": str(total), "memo": None}]]
    batch = (await h.client.get(f"/v1/batches/{views[0]['batch_id']}", headers=m.headers)).json()
    assert (batch["payout_count"], batch["output_count"]) == (2, 1)
    await clean(h)


# -- payout limits -------------------------------------------------------------------


async def test_payout_limits_in_btc_and_usd(database_url: str | None, tmp_path: Path) -> None:
    """`available` is what the balances can pay in that currency; `minPayoutAmount` is
    worth 20 EUR there (the seed's rule), each a JSON number."""
    async with harness(database_url, tmp_path, min_payout_eur=20) as h:
        m = await h.merchant(BTC="1.5", LTC="10")
        c = BitclearClient(h.client, m.key)

        btc = answer(await c.limits())
        assert btc["currency"] == "BTC"
        assert all(is_number(btc[k]) for k in ("available", "minPayoutAmount"))
        # any balance pays, converted (issue 20): 1.5 + 10 * 85 / 65000, down to the satoshi
        assert btc["available"] == Decimal("1.51307692")
        # 20 EUR = 21.60 USD = 21.60 / 65000 BTC, rounded up to the satoshi
        assert btc["minPayoutAmount"] == (20 * EUR_USD / BTC_USD).quantize(SATOSHI, ROUND_CEILING)
        assert btc["minPayoutAmount"] == Decimal("0.00033231")

        usd = answer(await c.limits("USD"))
        assert usd["currency"] == "USD"
        assert all(is_number(usd[k]) for k in ("available", "minPayoutAmount"))
        # every balance has its worth in USD: 1.5 * 65000 + 10 * 85
        assert usd["available"] == Decimal("98350.00")
        assert usd["minPayoutAmount"] == Decimal("21.60")

        # what an approved payout holds is no longer available
        p = answer(await c.create(**offer(autoApprove=True)), 201)
        debit = Decimal((await native(h, m, p["payoutId"]))["debit"]["amount"])
        assert answer(await c.limits())["available"] == Decimal("1.51307692") - debit
        await clean(h)


# -- list and get --------------------------------------------------------------------


async def test_list_pages_newest_first_and_get(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    other = await h.merchant("Other", BTC="1")
    c = BitclearClient(h.client, m.key)
    made = [answer(await c.create(**offer(address=a)), 201) for a in (A1, A2, A3)]
    answer(await BitclearClient(h.client, other.key).create(**offer()), 201)

    page1 = answer(await c.list(limit=2))
    assert page1["nextCursor"]
    page2 = answer(await c.list(cursor=page1["nextCursor"], limit=2))
    assert page2["nextCursor"] is None
    listed = page1["payouts"] + page2["payouts"]
    assert [p["payoutId"] for p in listed] == [p["payoutId"] for p in reversed(made)]
    for p in listed:
        assert answer(await c.get(p["payoutId"])) == p
        assert is_number(p["transferAmount"]) and is_number(p["priceAmount"])
    # the other merchant's payout is neither listed nor readable
    theirs = answer(await BitclearClient(h.client, other.key).list())["payouts"]
    assert len(theirs) == 1
    assert (await c.get(theirs[0]["payoutId"])).status_code == 404


# -- notifications -------------------------------------------------------------------


def notified(inbox: Inbox, payout_id: str) -> list[dict[str, Any]]:
    """The notifications the inbox accepted for one payout, each checked for the seed's
    envelope."""
    found = []
    for n in inbox.accepted():
        data = n.data
        assert set(data) == {"timestamp", "notificationType", "body"}, data
        assert data["notificationType"] == "v3/payouts"
        assert n.headers["content-type"].startswith("application/json")
        if data["body"]["payoutId"] == payout_id:
            found.append(data)
    return found


async def deliveries(h: Harness, m: Merchant, payout_id: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/v1/payouts/{payout_id}/deliveries", headers=m.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def test_a_notification_for_each_state_is_the_payout_as_get_showed_it(
    hn: Harness, inbox: Inbox
) -> None:
    """NEW, QUEUED and SENT each reach notificationUrl as the seed's envelope around the
    payout exactly as GET /v3/payouts/{id} answered in that state."""
    h = hn
    m = await h.merchant(BTC="1")
    c = BitclearClient(h.client, m.key)
    p = answer(await c.create(**offer(notificationUrl=inbox.url())), 201)
    pid = p["payoutId"]

    seen: list[tuple[dict[str, Any], datetime]] = []  # GET in each state, and when

    async def step(state: str) -> None:
        got = answer(await c.get(pid))
        assert got["status"] == state
        seen.append((got, h.clock.now()))
        await pump(h)
        assert [n["body"] for n in notified(inbox, pid)] == [s for s, _ in seen]

    await step("NEW")
    h.clock.advance(10)
    answer(await c.approve(pid))
    await step("QUEUED")
    h.clock.advance(10)
    await h.settle()  # sending and confirming are QUEUED too: nothing new is heard
    await step("SENT")

    # each stamped with when the payout reached that state (the clock stood still from
    # each change to the GET after it)
    stamps = [n["timestamp"] for n in notified(inbox, pid)]
    assert stamps == [millis(at) for _, at in seen]
    assert stamps[0] == p["createdTime"] and len(set(stamps)) == 3
    # and the delivery log shows them delivered, once each
    log = await deliveries(h, m, pid)
    assert len(log) == 3
    assert all(d["status"] == "delivered" and d["last_status_code"] == 200 for d in log)
    await clean(h)


async def test_a_failed_payout_is_notified_failed_and_retried(hn: Harness, inbox: Inbox) -> None:
    """An auto-approved payout the chain rejects: QUEUED then FAILED, its funds back. The
    first attempt answered 500 arrives again (Bitclear: at least once, retried)."""
    h = hn
    m = await h.merchant(BTC="1")
    r = await h.client.post(
        "/v1/sandbox/rules", headers=h.admin, json={"address": A2, "action": "reject"}
    )
    assert r.status_code == 201, r.text
    c = BitclearClient(h.client, m.key)
    inbox.answers = [500]
    p = answer(
        await c.create(**offer(address=A2, autoApprove=True, notificationUrl=inbox.url())), 201
    )
    queued = answer(await c.get(p["payoutId"]))
    await pump(h)
    assert notified(inbox, p["payoutId"]) == []  # answered 500
    h.clock.advance(5)  # the first retry is due 5 s later
    await pump(h)
    assert [n["body"] for n in notified(inbox, p["payoutId"])] == [queued]

    await h.settle()
    failed = answer(await c.get(p["payoutId"]))
    assert failed["status"] == "FAILED"
    await pump(h)
    assert [n["body"] for n in notified(inbox, p["payoutId"])] == [queued, failed]
    assert await h.balances(m) == {
        "BTC": {
            "currency": "BTC",
            "available": "1.00000000",
            "held": "0.00000000",
            "balance": "1.00000000",
        }
    }
    log = await deliveries(h, m, p["payoutId"])
    assert sorted(d["attempts"] for d in log) == [1, 2]
    assert all(d["status"] == "delivered" for d in log)
    await clean(h)
