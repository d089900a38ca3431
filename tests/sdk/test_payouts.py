"""The SDK against a live payoutd (tests/sdk/conftest.py): create, list across pages,
approve an offer, cancel, a retry after a lost answer that makes no second payout, and
typed errors, each with `Client` and with `AsyncClient`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypedDict

import httpx
import pytest
from payoutd_client import (
    AsyncClient,
    AuthenticationError,
    Client,
    IdempotencyConflict,
    InsufficientFunds,
    NotFound,
    Payout,
    PayoutdError,
    ValidationError,
)

from tests.sdk.conftest import BTC_ADDRESS, Live

pytestmark = pytest.mark.e2e

MISSING = "00000000-0000-4000-8000-000000000000"


class Recorder(httpx.BaseTransport):
    """A real HTTP transport that keeps what went out and can lose the answer of the
    first POST after payoutd handled it (a connection cut on the way back)."""

    def __init__(self, *, lose_first_post: bool = False) -> None:
        self.inner = httpx.HTTPTransport()
        self.lose_first_post = lose_first_post
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = self.inner.handle_request(request)
        if self.lose_first_post and request.method == "POST":
            self.lose_first_post = False
            response.read()  # payoutd answered: the payout exists
            response.close()
            raise httpx.ReadError("connection reset before the answer arrived", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncRecorder(httpx.AsyncBaseTransport):
    def __init__(self, *, lose_first_post: bool = False) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lose_first_post = lose_first_post
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await self.inner.handle_async_request(request)
        if self.lose_first_post and request.method == "POST":
            self.lose_first_post = False
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection reset before the answer arrived", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class PayoutArgs(TypedDict):
    amount: Decimal
    currency: str
    address: str
    order_id: str | None
    approval: str | None
    execute_at: datetime | None


def btc(
    *,
    amount: str = "0.001",
    address: str = BTC_ADDRESS,
    order_id: str | None = None,
    approval: str | None = None,
    execute_at: datetime | None = None,
) -> PayoutArgs:
    return PayoutArgs(
        amount=Decimal(amount),
        currency="BTC",
        address=address,
        order_id=order_id,
        approval=approval,
        execute_at=execute_at,
    )


def later() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


# --- create, read, list ----------------------------------------------------------------


def test_create_get_and_list_across_pages(live: Live) -> None:
    recorder = Recorder()
    http = httpx.Client(transport=recorder)
    with Client(live.merchant(), live.url, http_client=http) as payoutd:
        made = [payoutd.payouts.create(**btc(order_id=f"sync-{i}")) for i in range(7)]
        first = made[0]
        assert isinstance(first, Payout)
        assert first.amount == Decimal("0.001") and first.currency == "BTC"
        assert first.address == BTC_ADDRESS and first.order_id == "sync-0"
        assert isinstance(first.fees.total, Decimal) and first.created_at.tzinfo is not None
        assert payoutd.payouts.get(first.id).id == first.id

        # lazily: the first three items cost one request of the three pages
        recorder.sent.clear()
        pager = payoutd.payouts.list(limit=3)
        assert [p.id for p in itertools.islice(pager, 3)] == [p.id for p in made[::-1][:3]]
        assert len(recorder.sent) == 1

        recorder.sent.clear()
        walked = list(payoutd.payouts.list(limit=3))
        assert [p.id for p in walked] == [p.id for p in reversed(made)]
        assert len(recorder.sent) == 3  # 3 + 3 + 1
        assert {r.url.params.get("limit") for r in recorder.sent} == {"3"}

        page = payoutd.payouts.list(limit=5).page()
        assert len(page.data) == 5 and page.next_cursor is not None
        rest = payoutd.payouts.list(limit=5).page(page.next_cursor)
        assert len(rest.data) == 2 and rest.next_cursor is None

        found = list(payoutd.payouts.list(order_id="sync-3"))
        assert [p.id for p in found] == [made[3].id]
    http.close()


async def test_async_create_get_and_list_across_pages(live: Live) -> None:
    recorder = AsyncRecorder()
    http = httpx.AsyncClient(transport=recorder)
    async with AsyncClient(live.merchant(), live.url, http_client=http) as payoutd:
        made = [await payoutd.payouts.create(**btc(order_id=f"async-{i}")) for i in range(7)]
        assert made[0].amount == Decimal("0.001") and made[0].order_id == "async-0"
        assert (await payoutd.payouts.get(made[0].id)).id == made[0].id

        recorder.sent.clear()
        taken = []
        async for payout in payoutd.payouts.list(limit=3):
            taken.append(payout.id)
            if len(taken) == 3:
                break
        assert taken == [p.id for p in made[::-1][:3]]
        assert len(recorder.sent) == 1

        recorder.sent.clear()
        walked = [p.id async for p in payoutd.payouts.list(limit=3)]
        assert walked == [p.id for p in reversed(made)]
        assert len(recorder.sent) == 3

        page = await payoutd.payouts.list(limit=5).page()
        assert len(page.data) == 5 and page.next_cursor is not None
        rest = await payoutd.payouts.list(limit=5).page(page.next_cursor)
        assert len(rest.data) == 2 and rest.next_cursor is None
    await http.aclose()


# --- approve an offer, cancel ----------------------------------------------------------


def test_approve_an_offer_and_cancel(live: Live) -> None:
    with Client(live.merchant(), live.url) as payoutd:
        offer = payoutd.payouts.create(**btc(approval="manual"))
        assert offer.status == "pending_approval" and offer.approval == "manual"
        [btc_balance] = [b for b in payoutd.balances.list() if b.currency == "BTC"]
        assert btc_balance.held == 0  # an offer holds nothing until approved

        approved = payoutd.payouts.approve(offer.id)
        assert approved.id == offer.id and approved.status != "pending_approval"
        assert payoutd.payouts.get(offer.id).status not in ("pending_approval", "cancelled")

        scheduled = payoutd.payouts.create(**btc(execute_at=later()))
        assert scheduled.status == "scheduled"
        cancelled = payoutd.payouts.cancel(scheduled.id)
        assert cancelled.status == "cancelled" and cancelled.is_final
        assert payoutd.payouts.get(scheduled.id).status == "cancelled"
        assert [p.id for p in payoutd.payouts.list(status="cancelled")] == [scheduled.id]


async def test_async_approve_an_offer_and_cancel(live: Live) -> None:
    async with AsyncClient(live.merchant(), live.url) as payoutd:
        offer = await payoutd.payouts.create(**btc(approval="manual"))
        assert offer.status == "pending_approval"
        approved = await payoutd.payouts.approve(offer.id)
        assert approved.id == offer.id and approved.status != "pending_approval"

        scheduled = await payoutd.payouts.create(**btc(execute_at=later()))
        assert scheduled.status == "scheduled"
        cancelled = await payoutd.payouts.cancel(scheduled.id)
        assert cancelled.status == "cancelled" and cancelled.is_final
        assert [p.id async for p in payoutd.payouts.list(status="cancelled")] == [scheduled.id]


# --- a retry after a lost answer -------------------------------------------------------


def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_payout(live: Live) -> None:
    recorder = Recorder(lose_first_post=True)
    http = httpx.Client(transport=recorder)
    with Client(live.merchant(), live.url, http_client=http) as payoutd:
        payout = payoutd.payouts.create(**btc())  # no order_id: only the key dedupes
        posts = [r for r in recorder.sent if r.method == "POST"]
        assert len(posts) == 2
        keys = {r.headers["Idempotency-Key"] for r in posts}
        assert len(keys) == 1 and keys != {""}
        assert [p.id for p in payoutd.payouts.list()] == [payout.id]
        # what a caller that crashed instead would ask: did the create with this key work?
        [key] = keys
        assert [p.id for p in payoutd.payouts.list(idempotency_key=key)] == [payout.id]
        assert list(payoutd.payouts.list(idempotency_key="never-used")) == []
    http.close()


async def test_async_a_lost_answer_is_retried_with_the_same_key(live: Live) -> None:
    recorder = AsyncRecorder(lose_first_post=True)
    http = httpx.AsyncClient(transport=recorder)
    async with AsyncClient(live.merchant(), live.url, http_client=http) as payoutd:
        payout = await payoutd.payouts.create(**btc())
        posts = [r for r in recorder.sent if r.method == "POST"]
        assert len(posts) == 2
        assert len({r.headers["Idempotency-Key"] for r in posts}) == 1
        assert [p.id async for p in payoutd.payouts.list()] == [payout.id]
    await http.aclose()


def test_an_idempotency_key_of_ones_own_replays_and_guards_its_body(live: Live) -> None:
    recorder = Recorder()
    http = httpx.Client(transport=recorder)
    with Client(live.merchant(), live.url, http_client=http) as payoutd:
        first = payoutd.payouts.create(**btc(), idempotency_key="invoice-42")
        again = payoutd.payouts.create(**btc(), idempotency_key="invoice-42")
        assert again.id == first.id
        assert [r.headers["Idempotency-Key"] for r in recorder.sent] == ["invoice-42"] * 2
        with pytest.raises(IdempotencyConflict) as refused:
            payoutd.payouts.create(**btc(amount="0.002"), idempotency_key="invoice-42")
        assert refused.value.status == 409 and refused.value.code == "idempotency_conflict"
        # without a key of one's own, every call is a new one
        other = payoutd.payouts.create(**btc())
        assert other.id != first.id
        assert len({r.headers["Idempotency-Key"] for r in recorder.sent}) == 2
    http.close()


# --- typed errors ----------------------------------------------------------------------


def test_typed_errors_carry_the_api_code(live: Live) -> None:
    with Client(live.merchant(funds="0.01"), live.url) as payoutd:
        with pytest.raises(NotFound) as missing:
            payoutd.payouts.get(MISSING)
        assert missing.value.status == 404 and missing.value.code == "not_found"

        with pytest.raises(InsufficientFunds) as poor:
            payoutd.payouts.create(**btc(amount="5"))
        assert isinstance(poor.value, ValidationError) and isinstance(poor.value, PayoutdError)
        assert poor.value.status == 422 and poor.value.code == "insufficient_funds"
        assert poor.value.message == "Not enough funds"
        assert list(payoutd.payouts.list()) == []  # the refusal changed nothing

        with pytest.raises(ValidationError) as bad:
            payoutd.payouts.create(**btc(address="not-an-address"))
        assert bad.value.code == "invalid_address" and "address" in bad.value.fields


async def test_async_typed_errors_carry_the_api_code(live: Live) -> None:
    async with AsyncClient(live.merchant(funds="0.01"), live.url) as payoutd:
        with pytest.raises(NotFound) as missing:
            await payoutd.payouts.get(MISSING)
        assert missing.value.code == "not_found"
        with pytest.raises(InsufficientFunds) as poor:
            await payoutd.payouts.create(**btc(amount="5"))
        assert poor.value.status == 422 and poor.value.code == "insufficient_funds"
        assert [p async for p in payoutd.payouts.list()] == []


def test_a_wrong_key_is_an_authentication_error(live: Live) -> None:
    with Client("pk_not_a_key", live.url) as payoutd, pytest.raises(AuthenticationError) as e:
        list(payoutd.balances.list())
    assert e.value.status == 401 and e.value.code == "unauthorized"
