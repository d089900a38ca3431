"""Group commit (payoutd.services.intake) on SQLite and PostgreSQL: many payouts written
per transaction, each answered as it would be alone, no invariant given up."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from payoutd.domain.errors import PayoutdError
from payoutd.ids import new_id
from payoutd.services import payouts
from payoutd.services.intake import Intake
from payoutd.services.payouts import Placement
from tests.support import Harness

ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


class CountingUnits:
    """The database's units, counted: how many transactions the intake opened."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.opened = 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.h.rt.db.unit()


async def placement(h: Harness, merchant_id: str, amount: str = "0.01", **extra: Any
                    ) -> Placement:
    req = payouts.PayoutRequest(amount=Decimal(amount), currency="BTC", address=ADDR, **extra)
    return Placement(merchant_id, await payouts.quote(h.rt.ctx, {}, req))


async def settle_all(intake: Intake, items: list[Placement]) -> list[Any]:
    return await asyncio.gather(*(intake.place(i) for i in items), return_exceptions=True)


async def test_many_at_once_share_transactions_and_never_overdraw(h: Harness) -> None:
    probe = await h.merchant("Probe", BTC="1")
    one = await placement(h, probe.id)
    debit = one.quote.plan.debit_amount
    m = await h.merchant("Acme")
    await h.deposit(m, "BTC", str(debit * 40))  # room for exactly 40
    units = CountingUnits(h)
    intake = Intake(units, h.rt.ctx, lanes=2 if h.rt.db.is_postgres else 1)
    items = [await placement(h, m.id, order_id=f"o-{i}") for i in range(100)]

    answers = await settle_all(intake, items)

    made = [a for a in answers if isinstance(a, tuple)]
    refused = [a for a in answers if isinstance(a, PayoutdError)]
    assert len(made) == 40 and all(created for _, created in made)
    assert len(refused) == 60 and {e.code for e in refused} == {"insufficient_funds"}
    assert units.opened < 100 / 4, "payouts were not written together"
    balances = await h.balances(m)
    assert Decimal(balances["BTC"]["available"]) == 0
    assert (await h.ledger_check())["ok"]


async def test_a_repeated_order_id_in_one_burst_makes_one_payout(h: Harness) -> None:
    m = await h.merchant("Acme", BTC="1")
    intake = Intake(CountingUnits(h), h.rt.ctx)
    items = [await placement(h, m.id, order_id="same") for _ in range(30)]
    items += [await placement(h, m.id, order_id=f"other-{i}") for i in range(10)]

    answers = await settle_all(intake, items)

    assert not [a for a in answers if isinstance(a, BaseException)], answers
    same = answers[:30]
    assert sum(created for _, created in same) == 1
    assert len({p.id for p, _ in same}) == 1
    assert all(created for _, created in answers[30:])
    r = await h.client.get("/v1/payouts", headers=m.headers, params={"limit": "100"})
    assert len(r.json()["data"]) == 11
    assert (await h.ledger_check())["ok"]


async def test_one_item_failing_the_transaction_does_not_fail_the_others(h: Harness) -> None:
    """A payout for a merchant that does not exist passes every rule of place_many (an
    offer holds nothing) but breaks the merchant foreign key on insert: the whole batch
    rolls back, and each payout is then written alone."""
    m = await h.merchant("Acme", BTC="1")
    units = CountingUnits(h)
    intake = Intake(units, h.rt.ctx)
    good = [await placement(h, m.id, order_id=f"g-{i}") for i in range(8)]
    bad = await placement(h, new_id(), approval="manual")

    answers = await settle_all(intake, [*good[:4], bad, *good[4:]])

    assert all(isinstance(a, tuple) and a[1] for i, a in enumerate(answers) if i != 4), answers
    assert isinstance(answers[4], Exception) and not isinstance(answers[4], PayoutdError)
    r = await h.client.get("/v1/payouts", headers=m.headers, params={"limit": "100"})
    assert len(r.json()["data"]) == 8
    assert (await h.ledger_check())["ok"]


async def test_a_lone_request_is_written_at_once(h: Harness) -> None:
    m = await h.merchant("Acme", BTC="1")
    units = CountingUnits(h)
    intake = Intake(units, h.rt.ctx)
    for i in range(3):
        payout, created = await intake.place(await placement(h, m.id, order_id=f"o-{i}"))
        assert created
        async with h.rt.db.read() as uow:  # committed before the answer
            assert await uow.payouts.get(m.id, payout.id) is not None
    assert units.opened == 3


@pytest.mark.parametrize("approval", ["auto", "manual"])
async def test_the_api_answers_through_the_intake_as_before(h: Harness, approval: str) -> None:
    m = await h.merchant("Acme", BTC="1")
    body = {"amount": "0.01", "currency": "BTC", "address": ADDR, "order_id": "x",
            "approval": approval}
    first = await asyncio.gather(*(h.client.post("/v1/payouts", headers=m.headers, json=body)
                                   for _ in range(5)))
    assert sorted(r.status_code for r in first) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in first}) == 1
    status = {"auto": "queued", "manual": "pending_approval"}[approval]
    assert first[0].json()["status"] == status
