"""Issue 19: Cryptomus's payout API (seeds/002_…) and Spark's (seeds/000_…, the same
shape) through payoutd's dialect, driven by the seed's own client (tests/compat/client.py)
on both mounts and both databases: every endpoint and every parameter, the status words
of DESIGN §3, Spark's payout-key rule and the OpenAPI document. Signing and the error
table have files of their own (test_cryptomus_signing.py, test_cryptomus_errors.py)."""

from __future__ import annotations

import tomllib
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from payoutd.chains.sandbox import add_rule
from payoutd.domain.assets import ASSETS
from payoutd.rates.static import SAMPLE_RATES_FILE
from tests.compat.cryptomus_helpers import (
    BTC_ADDR,
    CALLBACK,
    CRYPTOMUS,
    ETH_ADDR,
    MOUNT_IDS,
    MOUNTS,
    SPARK,
    TON_ADDR,
    native,
    new_payout_key,
    result,
    signed,
    state,
    usdt,
)
from tests.support import Harness, Merchant

RESULT_FIELDS = {
    "uuid",
    "amount",
    "currency",
    "network",
    "address",
    "txid",
    "status",
    "is_final",
    "balance",
    "payer_currency",
    "payer_amount",
}
PER_PAGE = 15  # the provider's page size
COOLDOWN = timedelta(hours=24)
mounts = pytest.mark.parametrize("mount", MOUNTS, ids=MOUNT_IDS)


def available(balances: dict[str, dict[str, str]], currency: str) -> Decimal:
    return Decimal(balances[currency]["available"])


# -- payout ---------------------------------------------------------------------------


@mounts
async def test_payout_with_every_parameter_of_the_seed(
    h: Harness, mount: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = await h.merchant(USDT="100", TON="5")
    client = signed(h, m, mount)
    # course_source names an exchange; the test answers for it from the rates file and
    # notes that the dialect asked that source
    asked: list[str | None] = []
    static_rate = h.rt.ctx.rates.rate

    async def rate(base: str, quote: str, source: str | None = None) -> Any:
        asked.append(source)
        return await static_rate(base, quote, None)

    monkeypatch.setattr(h.rt.ctx.rates, "rate", rate)
    # 20 USD sent as ETH on Ethereum at high priority, paid out of the USDT balance
    fiat = {
        "amount": "20",
        "currency": "USD",
        "order_id": "every-1",
        "address": ETH_ADDR,
        "is_subtract": True,
        "network": "ETH",
        "url_callback": CALLBACK,
        "to_currency": "ETH",
        "course_source": "Binance",
        "from_currency": "USDT",
        "priority": "high",
    }
    made = result(await client.payout(**fiat))
    assert set(made) == RESULT_FIELDS, made
    assert "Binance" in asked
    view = await native(h, m, made["uuid"])
    assert view["amount"] == made["amount"] and Decimal(made["amount"]) == 20
    assert view["currency"] == made["currency"] == "USD"
    assert view["payout_currency"] == made["payer_currency"] == "ETH"
    assert view["final_amount"] == made["payer_amount"]
    assert (view["network"], made["network"], view["address"]) == ("ETH", "ETH", ETH_ADDR)
    assert view["order_id"] == "every-1" and view["callback_url"] == CALLBACK
    assert view["priority"] == "high" and view["fee_mode"] == "on_top"
    assert view["rate"]["source"] == "Binance" and view["debit"]["currency"] == "USDT"
    # `balance` is what is left on the balance the payout was paid from
    assert Decimal(made["balance"]) == available(await h.balances(m), "USDT")
    assert made["status"] == "process" and made["is_final"] is False and made["txid"] is None

    # TON with a memo, the fee taken out of the amount
    ton = {
        "amount": "1",
        "currency": "TON",
        "network": "TON",
        "order_id": "every-2",
        "address": TON_ADDR,
        "memo": "invoice-42",
        "is_subtract": False,
    }
    made = result(await client.payout(**ton))
    view = await native(h, m, made["uuid"])
    assert view["memo"] == "invoice-42" and view["fee_mode"] == "from_amount"
    assert Decimal(made["payer_amount"]) < Decimal("1")  # the recipient gets less
    assert Decimal(made["balance"]) == available(await h.balances(m), "TON")


@mounts
async def test_is_subtract_as_a_boolean_or_a_digit(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    client = signed(h, m, mount)
    seen = {}
    for given in (True, False, "1", "0"):
        made = result(await client.payout(**usdt(f"subtract-{given}", is_subtract=given)))
        seen[str(given)] = (await native(h, m, made["uuid"]))["fee_mode"]
    # true: the fee comes from the balance, on top; false: out of the payout amount
    assert seen == {
        "True": "on_top",
        "1": "on_top",
        "False": "from_amount",
        "0": "from_amount",
    }


@mounts
async def test_a_repeated_order_id_returns_the_same_payout_and_creates_nothing(
    h: Harness, mount: str
) -> None:
    m = await h.merchant(USDT="100")
    first = result(await signed(h, m, mount).payout(**usdt("again-1")))
    before = await state(h, m)
    for serialise in ("compact", "spaced"):
        # as a client retrying would send it, however it serialises
        again = result(await signed(h, m, mount, serialise=serialise).payout(**usdt("again-1")))
        assert again["uuid"] == first["uuid"]
        assert {k: v for k, v in again.items() if k != "balance"} == {
            k: v for k, v in first.items() if k != "balance"
        }
    assert await state(h, m) == before


# -- payout/info ----------------------------------------------------------------------


@mounts
async def test_info_by_uuid_or_order_id(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    client = signed(h, m, mount)
    a = result(await client.payout(**usdt("info-a", amount="1")))
    b = result(await client.payout(**usdt("info-b", amount="2")))
    assert result(await client.info(uuid=a["uuid"]))["uuid"] == a["uuid"]
    assert result(await client.info(order_id="info-b"))["uuid"] == b["uuid"]
    # both given: order_id wins
    found = result(await client.info(uuid=a["uuid"], order_id="info-b"))
    assert found["uuid"] == b["uuid"] and Decimal(found["amount"]) == 2
    assert set(found) == RESULT_FIELDS
    assert Decimal(found["balance"]) == available(await h.balances(m), "USDT")
    for unknown in ({"uuid": str(uuid.uuid4())}, {"order_id": "no-such-order"}):
        r = await client.info(**unknown)
        assert (r.status_code, r.json()) == (404, {"state": 1, "message": "Payout not found"})
    # another merchant's payout is not found either
    other = await h.merchant("Other", USDT="1")
    r = await signed(h, other, mount).info(uuid=a["uuid"])
    assert (r.status_code, r.json()) == (404, {"state": 1, "message": "Payout not found"})


# -- payout/list ----------------------------------------------------------------------


def seed_time(at: datetime) -> str:
    """The seed's "YYYY-MM-DD H:mm:ss": the hour without a leading zero."""
    return f"{at:%Y-%m-%d} {at.hour}:{at:%M:%S}"


async def make(h: Harness, m: Merchant, mount: str, prefix: str, count: int) -> list[str]:
    client = signed(h, m, mount)
    made = []
    for i in range(count):
        made.append(result(await client.payout(**usdt(f"{prefix}-{i}", amount="1")))["uuid"])
    return made


@mounts
async def test_list_by_dates_and_pages_both_ways(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    client = signed(h, m, mount)
    # three batches an hour apart: 10, 12, then 10 (32 payouts, three pages of 15)
    early = await make(h, m, mount, "early", 10)
    h.clock.advance(3600)
    noon = h.clock.now()
    middle = await make(h, m, mount, "middle", 12)
    h.clock.advance(3600)
    late = await make(h, m, mount, "late", 10)
    everything = early + middle + late

    # dates: the middle hour only
    page = result(
        await client.list(
            date_from=seed_time(noon - timedelta(minutes=1)),
            date_to=seed_time(noon + timedelta(minutes=1)),
        )
    )
    assert page["merchant_uuid"] == m.id
    assert sorted(i["uuid"] for i in page["items"]) == sorted(middle)
    assert page["paginate"] == {
        "count": 12,
        "hasPages": False,
        "nextCursor": None,
        "previousCursor": None,
        "perPage": PER_PAGE,
    }
    item = page["items"][0]
    assert RESULT_FIELDS - {"balance"} <= set(item)
    assert item["order_id"].startswith("middle-") and item["status"] == "process"
    # date_from alone: the last two hours
    page = result(await client.list(date_from=seed_time(noon - timedelta(minutes=1))))
    assert page["paginate"]["count"] == PER_PAGE and page["paginate"]["hasPages"] is True

    # all of them: newest first, forward through nextCursor ...
    pages = []
    cursor = None
    while True:
        page = result(await client.list(cursor=cursor))
        pages.append(page)
        cursor = page["paginate"]["nextCursor"]
        if cursor is None:
            break
    assert [p["paginate"]["count"] for p in pages] == [15, 15, 2]
    assert all(p["paginate"]["hasPages"] and p["paginate"]["perPage"] == 15 for p in pages)
    assert pages[0]["paginate"]["previousCursor"] is None
    assert all(p["paginate"]["previousCursor"] for p in pages[1:])
    seen = [i["uuid"] for p in pages for i in p["items"]]
    assert seen == list(reversed(everything))  # created one after another: newest first
    # ... and back through previousCursor, to the same pages
    back = pages[-1]
    for expected in reversed(pages[:-1]):
        back = result(await client.list(cursor=back["paginate"]["previousCursor"]))
        assert back["items"] == expected["items"]
        assert back["paginate"]["count"] == expected["paginate"]["count"]
    assert back["paginate"]["previousCursor"] is None


# -- payout/services and balance ------------------------------------------------------


@mounts
async def test_services_show_assets_limits_and_the_merchants_own_fee(
    h: Harness, mount: str
) -> None:
    m = await h.merchant(USDT="100")
    r = await h.client.put(
        f"/v1/admin/merchants/{m.id}/fees/USDT",
        headers=h.admin,
        json={"percent": "0.75", "fixed": "0.3"},
    )
    assert r.status_code == 200, r.text
    other = await h.merchant("Other", USDT="100")
    services = result(await signed(h, m, mount).services())
    assert {(s["currency"], s["network"]) for s in services} == set(ASSETS)
    for s in services:
        asset = ASSETS[(s["currency"], s["network"])]
        assert set(s) == {"network", "currency", "is_available", "limit", "commission"}
        assert s["is_available"] is (asset.network in h.rt.ctx.chains)
        assert {k: Decimal(v) for k, v in s["limit"].items()} == {
            "min_amount": asset.min_amount,
            "max_amount": asset.max_amount,
        }
        fee = {k: Decimal(v) for k, v in s["commission"].items()}
        if asset.currency == "USDT":
            assert fee == {"fee_amount": Decimal("0.3"), "percent": Decimal("0.75")}, s
        else:  # the operator's default
            assert fee == {
                "fee_amount": h.rt.settings.service_fee_fixed,
                "percent": h.rt.settings.service_fee_percent,
            }, s
    # another merchant sees the default for USDT
    theirs = result(await signed(h, other, mount).services())
    usdt_fees = {Decimal(s["commission"]["percent"]) for s in theirs if s["currency"] == "USDT"}
    assert usdt_fees == {h.rt.settings.service_fee_percent}


@mounts
async def test_balance_in_the_providers_shape(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100", BTC="0.5")
    client = signed(h, m, mount)
    result(await client.payout(**usdt("bal-1", amount="10")))
    answer = result(await client.balance())
    assert isinstance(answer, list) and len(answer) == 1
    assert set(answer[0]) == {"balance"} and set(answer[0]["balance"]) == {"merchant", "user"}
    assert answer[0]["balance"]["user"] == []
    merchant = answer[0]["balance"]["merchant"]
    native_balances = await h.balances(m)
    usd = tomllib.loads(SAMPLE_RATES_FILE.read_text())["rates"]
    assert {b["currency_code"] for b in merchant} == set(native_balances) == {"USDT", "BTC"}
    for b in merchant:
        assert set(b) == {"uuid", "balance", "currency_code", "balance_usd"}
        uuid.UUID(b["uuid"])
        code = b["currency_code"]
        # what is available, held funds excluded
        assert Decimal(b["balance"]) == available(native_balances, code)
        worth = Decimal(b["balance"]) * Decimal(usd[f"{code}/USD"])
        assert Decimal(b["balance_usd"]) == worth.quantize(Decimal("0.01")), b
    assert len({b["uuid"] for b in merchant}) == 2
    # the same uuids on the next call
    again = result(await client.balance())[0]["balance"]["merchant"]
    assert {b["uuid"] for b in again} == {b["uuid"] for b in merchant}


# -- status words ---------------------------------------------------------------------


async def create_native(h: Harness, m: Merchant, **body: Any) -> str:
    r = await h.client.post("/v1/payouts", headers=m.headers, json=body)
    assert r.status_code == 201, r.text
    payout_id: str = r.json()["id"]
    return payout_id


@mounts
async def test_status_words_follow_the_native_states(h: Harness, mount: str) -> None:
    """Moved through the native API, read through the dialect (DESIGN §3's table)."""
    m = await h.merchant(BTC="1")
    client = signed(h, m, mount)
    btc = {"amount": "0.01", "currency": "BTC", "address": BTC_ADDR}
    offer = await create_native(h, m, **btc, approval="manual")
    queued = await create_native(h, m, **btc)
    cancelled = await create_native(h, m, **btc)
    r = await h.client.post(f"/v1/payouts/{cancelled}/cancel", headers=m.headers)
    assert r.status_code == 200, r.text

    async def word(payout_id: str) -> tuple[str, bool]:
        found = result(await client.info(uuid=payout_id))
        assert found["status"] == _native_word((await native(h, m, payout_id))["status"])
        return found["status"], found["is_final"]

    assert await word(offer) == ("check", False)
    assert await word(queued) == ("process", False)
    assert await word(cancelled) == ("cancel", True)
    await h.settle()
    assert (await native(h, m, queued))["status"] == "paid"
    assert await word(queued) == ("paid", True)
    assert result(await client.info(uuid=queued))["txid"]
    # a payout the chain rejects fails (in a batch of its own: made after the first one)
    rejected_addr = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"
    await add_rule(h.rt.db, address=rejected_addr, action="reject")
    failing = await create_native(h, m, **dict(btc, address=rejected_addr))
    assert await word(failing) == ("process", False)
    await h.settle()
    assert (await native(h, m, failing))["status"] == "failed"
    assert await word(failing) == ("fail", True)


def _native_word(status: str) -> str:
    """DESIGN §3, the Cryptomus / Spark column, written out here on its own."""
    return {
        "pending_approval": "check",
        "queued": "process",
        "paid": "paid",
        "failed": "fail",
        "cancelled": "cancel",
    }[status]


# -- Spark's payout-key rule ----------------------------------------------------------


async def test_spark_a_new_payout_key_blocks_payouts_for_24_hours(h: Harness) -> None:
    m = await h.merchant(USDT="100")
    fresh = await new_payout_key(h, m)
    before = await state(h, m)
    forbidden = {"state": 1, "message": "You are forbidden"}
    for i, key in enumerate((m.key, fresh)):  # the whole merchant waits, whichever key signs
        r = await signed(h, m, SPARK, key=key).payout(**usdt(f"spark-{i}"))
        assert (r.status_code, r.json()) == (403, forbidden), r.text
        # reads go on meanwhile
        result(await signed(h, m, SPARK, key=key).balance())
    assert await state(h, m) == before
    h.clock.advance(COOLDOWN.total_seconds() - 1)
    r = await signed(h, m, SPARK, key=fresh).payout(**usdt("spark-almost"))
    assert (r.status_code, r.json()) == (403, forbidden), r.text
    h.clock.advance(2)
    made = result(await signed(h, m, SPARK, key=fresh).payout(**usdt("spark-later")))
    assert made["status"] == "process"
    result(await signed(h, m, SPARK).payout(**usdt("spark-old-key")))
    assert (await state(h, m)).payouts == before.payouts + 2


# -- OpenAPI --------------------------------------------------------------------------


async def test_openapi_documents_both_mounts_under_their_own_tags(h: Harness) -> None:
    r = await h.client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    endpoints = ("payout", "payout/info", "payout/list", "payout/services", "balance")
    for mount, tag in ((CRYPTOMUS, "Cryptomus dialect"), (SPARK, "Spark dialect")):
        documented = {p for p in paths if p.startswith(f"{mount}/")}
        assert documented == {f"{mount}/{e}" for e in endpoints}
        for path in documented:
            assert set(paths[path]) == {"post"}, path
            operation = paths[path]["post"]
            assert operation["tags"] == [tag], path
            headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
            assert {"merchant", "sign"} <= headers, path
