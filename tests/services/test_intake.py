"""Group commit (payoutd.services.intake) on SQLite and PostgreSQL: many payouts written
per transaction, each answered as it would be alone, no invariant given up."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace
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


async def test_a_placement_arriving_as_the_last_writer_ends_is_still_written(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pure logic, with a stand-in for place_many: whatever the interleaving, every
    placement is answered (a writer that has decided to stop must not count as running)."""
    from contextlib import asynccontextmanager

    from payoutd.services import intake as intake_module

    async def fake_place_many(uow: Any, ctx: Any, items: list[Any]) -> list[Any]:
        await asyncio.sleep(0)
        return [(item, True) for item in items]

    @asynccontextmanager
    async def unit() -> Any:
        yield None

    def item(name: str) -> Any:
        return SimpleNamespace(name=name, merchant_id="m",
                               quote=SimpleNamespace(request=SimpleNamespace(order_id=None)))

    monkeypatch.setattr(intake_module, "place_many", fake_place_many)
    for delay in range(12):
        intake = Intake(unit, SimpleNamespace(metrics=None))  # type: ignore[arg-type]

        async def late(intake: Intake = intake, delay: int = delay) -> Any:
            for _ in range(delay):
                await asyncio.sleep(0)
            return await intake.place(item("second"))

        first = asyncio.create_task(intake.place(item("first")))
        second = asyncio.create_task(late())
        done = await asyncio.wait_for(asyncio.gather(first, second), timeout=2)
        assert [i.name for i, _ in done] == ["first", "second"], delay


@pytest.mark.postgres
async def test_a_repeat_that_waited_on_the_first_one_s_locks_is_answered_as_a_repeat(
        pg: Harness) -> None:
    """Two transactions place one order_id at once (two lanes or two API processes): the
    second does not see the first's uncommitted payout and waits on the account's lock.
    When the first commits, the funds it held must not make the second a refusal: the
    order_id now exists, so the answer is that payout."""
    probe = await placement(pg, (await pg.merchant("Probe", BTC="1")).id)
    m = await pg.merchant("Acme")
    await pg.deposit(m, "BTC", str(probe.quote.plan.debit_amount * 3 / 2))  # room for one
    first_item = await placement(pg, m.id, order_id="same")
    again = await placement(pg, m.id, order_id="same")

    async def place_alone() -> Any:
        async with pg.rt.db.unit() as uow:
            return (await payouts.place_many(uow, pg.rt.ctx, [again]))[0]

    async with pg.rt.db.unit() as uow:
        first = (await payouts.place_many(uow, pg.rt.ctx, [first_item]))[0]
        assert isinstance(first, tuple) and first[1]
        second = asyncio.create_task(place_alone())
        await asyncio.sleep(0.3)
        assert not second.done()  # waiting on the account row the first one locked
    answer = await second
    assert isinstance(answer, tuple), answer
    assert answer[0].id == first[0].id and answer[1] is False
    assert (await pg.ledger_check())["ok"]


async def test_a_repeat_in_a_batch_takes_no_funds_from_a_new_payout(h: Harness) -> None:
    """A batch holding a repeat of a stored order_id and a new payout (without an
    order_id) that fits only if the repeat is not counted: the repeat is answered with the
    stored payout, the new one is created. Repeats are found by the INSERT, not looked up
    first, so the hold check counted the repeat: the refusal it caused is decided again."""
    probe = await placement(h, (await h.merchant("Probe", BTC="1")).id)
    debit = probe.quote.plan.debit_amount
    m = await h.merchant("Acme")
    await h.deposit(m, "BTC", str(debit * 3 / 2))  # room for one and a half
    async with h.rt.db.unit() as uow:
        first = (await payouts.place_many(uow, h.rt.ctx,
                                          [await placement(h, m.id, order_id="a")]))[0]
    assert isinstance(first, tuple) and first[1]
    await h.deposit(m, "BTC", str(debit))  # now room for one more, not for two

    repeat = await placement(h, m.id, order_id="a")
    fresh = await placement(h, m.id)  # no order_id
    async with h.rt.db.unit() as uow:
        answers = await payouts.place_many(uow, h.rt.ctx, [repeat, fresh])

    assert isinstance(answers[0], tuple), answers
    assert answers[0][0].id == first[0].id and answers[0][1] is False
    assert isinstance(answers[1], tuple) and answers[1][1] is True, answers
    balances = await h.balances(m)
    assert Decimal(balances["BTC"]["available"]) == debit / 2
    assert (await h.ledger_check())["ok"]


async def test_a_repeat_that_would_not_fit_now_is_still_answered_with_its_payout(
        h: Harness) -> None:
    probe = await placement(h, (await h.merchant("Probe", BTC="1")).id)
    m = await h.merchant("Acme")
    await h.deposit(m, "BTC", str(probe.quote.plan.debit_amount))  # room for exactly one
    async with h.rt.db.unit() as uow:
        first = (await payouts.place_many(uow, h.rt.ctx,
                                          [await placement(h, m.id, order_id="a")]))[0]
    async with h.rt.db.unit() as uow:
        again = (await payouts.place_many(uow, h.rt.ctx,
                                          [await placement(h, m.id, order_id="a")]))[0]
    assert isinstance(first, tuple) and isinstance(again, tuple), again
    assert again[0].id == first[0].id and again[1] is False


async def test_an_overlong_value_is_refused_by_the_database_never_cut(h: Harness) -> None:
    """The store must not shorten what it was given (PostgreSQL casts to VARCHAR(n)
    truncate silently): an order_id over the column's 100 characters fails the write,
    it is never stored cut. (The API refuses it before, with 422.)"""
    m = await h.merchant("Acme", BTC="1")
    item = await placement(h, m.id, order_id="x" * 101)
    if h.rt.db.is_postgres:
        with pytest.raises(Exception, match="too long"):
            async with h.rt.db.unit() as uow:
                await payouts.place_many(uow, h.rt.ctx, [item])
    else:  # SQLite has no length limits: stored whole
        async with h.rt.db.unit() as uow:
            (p, created), = await payouts.place_many(uow, h.rt.ctx, [item])  # type: ignore[misc]
        assert created and p.order_id == "x" * 101
    async with h.rt.db.read() as uow:
        stored = await uow.payouts.by_order_ids([(m.id, "x" * 100)])
    assert not stored


async def test_write_lanes_follow_the_database_and_the_api_processes(h: Harness) -> None:
    """SQLite: one writer. PostgreSQL: two transactions at a time from a lone API
    process, one per process when there are several (bench/README.md)."""
    import dataclasses

    from payoutd.api.app import create_app

    for processes, on_pg in ((1, 2), (2, 1), (4, 1)):
        settings = h.rt.settings.model_copy(update={"api_processes": processes})
        app = create_app(dataclasses.replace(h.rt, settings=settings))
        assert app.state.intake._lanes == (on_pg if h.rt.db.is_postgres else 1)
