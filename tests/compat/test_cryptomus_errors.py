"""Issue 19, must show: every refusal of Cryptomus's `POST /v1/payout` (seeds/002_…),
reached through the dialect on both mounts with the seed's own client, word for word and
with its HTTP status, and none of them changing a balance or creating a payout. Both
databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from payoutd.domain.assets import ASSETS, Asset
from payoutd.rates.static import SAMPLE_RATES_FILE
from payoutd.services import payouts
from payoutd.services.ports import ChainUnavailable
from tests import support
from tests.compat.cryptomus_helpers import (
    BTC_ADDR,
    DOGE_ADDR,
    LTC_ADDR,
    MOUNTS,
    new_payout_key,
    signed,
    state,
    usdt,
)
from tests.support import Harness

UNPRICED = "DOGE"  # the operator's rates file in these tests leaves DOGE out


def minimum(asset: Asset) -> tuple[str, str]:
    """An amount one smallest unit below the asset's minimum, and the seed's message
    with the asset's real figure (`Minimum amount 0.5 USDT`)."""
    step = Decimal(1).scaleb(-min(asset.decimals, 8))
    return (
        format(asset.min_amount - step, "f"),
        f"Minimum amount {format(asset.min_amount.normalize(), 'f')} {asset.currency}",
    )


def maximum(asset: Asset) -> tuple[str, str]:
    step = Decimal(1).scaleb(-min(asset.decimals, 6))
    return (
        format(asset.max_amount + step, "f"),
        f"Maximum amount {format(asset.max_amount.normalize(), 'f')} {asset.currency}",
    )


USDT_MIN, USDT_MIN_MESSAGE = minimum(ASSETS[("USDT", "TRON")])
USDT_MAX, USDT_MAX_MESSAGE = maximum(ASSETS[("USDT", "TRON")])
BTC_MIN, BTC_MIN_MESSAGE = minimum(ASSETS[("BTC", "BTC")])


def says(text: str) -> dict[str, Any]:
    return {"state": 1, "message": text}


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    answer: dict[str, Any]
    body: dict[str, Any]
    setup: str | None = None


CASES = [
    Case(
        "missing-amount",
        422,
        {"state": 1, "errors": {"amount": ["validation.required"]}},
        usdt("e-1", amount=None),
    ),
    # a new payouts key blocks the merchant's payouts (the seed: "You are forbidden")
    Case("cooldown", 403, says("You are forbidden"), usdt("e-2"), setup="payout_key"),
    Case("unknown-currency", 422, says("The currency was not found"), usdt("e-3", currency="XYZ")),
    Case("unknown-network", 422, says("The service was not found"), usdt("e-4", network="NOPE")),
    # the seed: from_currency can only be USDT
    Case(
        "from-currency-not-usdt",
        422,
        says("The service was not found"),
        {
            "amount": "0.5",
            "currency": "LTC",
            "from_currency": "BTC",
            "order_id": "e-5",
            "address": LTC_ADDR,
            "is_subtract": False,
        },
    ),
    # the fee taken out of the amount leaves nothing to send
    Case(
        "fee-eats-amount",
        422,
        says("The withdrawal amount is too small"),
        usdt("e-6", amount="0.5", is_subtract="0"),
    ),
    # never deposited in TRX: no wallet in that currency
    Case(
        "no-wallet",
        422,
        says("Wallet not found"),
        usdt("e-7", amount="500", currency="TRX", network="TRON"),
    ),
    Case("more-than-balance", 422, says("Not enough funds"), usdt("e-8", amount="1000")),
    # fiat asked in fiat: no payout service sends EUR
    Case(
        "fiat-to-currency",
        422,
        says("Not found service to_currency"),
        usdt("e-9", amount="20", currency="USD", to_currency="EUR", network=None),
    ),
    Case(
        "unknown-to-currency",
        422,
        says("Not found service to_currency"),
        usdt("e-10", amount="20", currency="USD", to_currency="XYZ", network=None),
    ),
    Case(
        "unpriced-to-currency",
        422,
        says("Error convert to_currency"),
        usdt(
            "e-11",
            amount="50",
            currency="USD",
            to_currency=UNPRICED,
            network=None,
            address=DOGE_ADDR,
        ),
    ),
    Case("below-min-usdt", 422, says(USDT_MIN_MESSAGE), usdt("e-12", amount=USDT_MIN)),
    Case(
        "below-min-btc",
        422,
        says(BTC_MIN_MESSAGE),
        usdt("e-13", amount=BTC_MIN, currency="BTC", network=None, address=BTC_ADDR),
    ),
    Case("above-max-usdt", 422, says(USDT_MAX_MESSAGE), usdt("e-14", amount=USDT_MAX)),
    # 2 LTC cost about 170 USDT at the sample rates; the merchant has 100
    Case(
        "convert-short",
        422,
        says("Not enough balance for convert USDT to LTC"),
        usdt(
            "e-15",
            amount="2",
            currency="LTC",
            network="LTC",
            from_currency="USDT",
            address=LTC_ADDR,
        ),
    ),
    # the node cannot be reached to price the payout
    Case(
        "node-down",
        422,
        says("The terminal was not found"),
        usdt("e-16", amount="0.01", currency="BTC", network="BTC", address=BTC_ADDR),
        setup="node_down",
    ),
    Case(
        "server-fault",
        500,
        {"message": "Server error, #1", "code": 500, "error": None},
        usdt("e-17"),
        setup="fault",
    ),
]


def test_the_table_has_every_message_of_the_seed() -> None:
    """The seed's catalogue (seeds/002_…, README summary), each at least once."""
    seen = {str(c.answer.get("message")) for c in CASES} | {
        "validation" for c in CASES if "errors" in c.answer
    }
    assert {
        "validation",
        "You are forbidden",
        "The currency was not found",
        "The service was not found",
        "The withdrawal amount is too small",
        "Wallet not found",
        "Not enough funds",
        "Not found service to_currency",
        "Error convert to_currency",
        USDT_MIN_MESSAGE,
        USDT_MAX_MESSAGE,
        "Not enough balance for convert USDT to LTC",
        "The terminal was not found",
        "Server error, #1",
    } <= seen
    assert USDT_MIN_MESSAGE == "Minimum amount 0.5 USDT"  # the seed's own example
    assert len({c.id for c in CASES}) == len({c.body["order_id"] for c in CASES}) == len(CASES)


def rates_without(currency: str, directory: Path) -> Path:
    """The shipped sample rates file minus every pair naming `currency`."""
    lines = [line for line in SAMPLE_RATES_FILE.read_text().splitlines() if currency not in line]
    path = directory / "rates.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
async def eh(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = support.test_settings(
        tmp_path, database_url, rates_file=rates_without(UNPRICED, tmp_path)
    )
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


Setup = Callable[[Harness, support.Merchant, pytest.MonkeyPatch], Awaitable[None]]


async def _payout_key(h: Harness, m: support.Merchant, monkeypatch: pytest.MonkeyPatch) -> None:
    await new_payout_key(h, m)


async def _node_down(h: Harness, m: support.Merchant, monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ChainUnavailable("connection refused")

    monkeypatch.setattr(h.rt.ctx.chains["BTC"], "estimate_fee", unreachable)


async def _fault(h: Harness, m: support.Merchant, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in pricing")

    monkeypatch.setattr(payouts, "quote", broken)


SETUPS: dict[str, Setup] = {
    "payout_key": _payout_key,
    "node_down": _node_down,
    "fault": _fault,
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_refusal(case: Case, eh: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = eh
    m = await h.merchant("Acme", USDT="100", BTC="1", LTC="1")
    if case.setup:
        await SETUPS[case.setup](h, m, monkeypatch)
    before = await state(h, m)
    # the same answer on both mounts, in the same world (one harness for both keeps it fast)
    for mount in MOUNTS:
        r = await signed(h, m, mount).payout(**case.body)
        assert (r.status_code, r.json()) == (case.status, case.answer), (mount, r.text)
        assert await state(h, m) == before, mount
    assert (await h.ledger_check())["ok"]
