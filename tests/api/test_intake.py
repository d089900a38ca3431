"""Group commit (payoutd.api.intake) on SQLite and PostgreSQL: many payouts written
per transaction, each answered as it would be alone, no invariant given up."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from payoutd.api.intake import Intake
from payoutd.domain.errors import PayoutdError
from payoutd.ids import new_id
from payoutd.services import payouts
from payoutd.services.payouts import Placed, Placement
from tests.support import Harness

ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


class CountingUnits:
    """The database's units, counted: how many transactions the intake opened (or, with
    `autocommit`, how many one-statement attempts)."""

    def __init__(self, h: Harness, *, autocommit: bool = False) -> None:
        self.h = h
        self.autocommit = autocommit
        self.opened = 0
        self.at_once: CountingUnits | None = None  # the one-statement attempts beside

    def __call__(self) -> Any:
        self.opened += 1
        return self.h.rt.db.autocommit() if self.autocommit else self.h.rt.db.unit()


def api_intake(h: Harness, units: CountingUnits, **kw: Any) -> Intake:
    """The intake as the API builds it: on PostgreSQL a batch is first tried as one
    statement (counted in `units.at_once`)."""
    at_once = CountingUnits(h, autocommit=True) if h.rt.db.on_asyncpg else None
    units.at_once = at_once
    return Intake(units, h.rt.ctx, autocommit=at_once, **kw)


async def placement(h: Harness, merchant_id: str, amount: str = "0.01", **extra: Any) -> Placement:
    req = payouts.PayoutRequest(amount=Decimal(amount), currency="BTC", address=ADDR, **extra)
    return Placement(merchant_id, await payouts.quote(h.rt.ctx, {}, req))


async def settle_all(intake: Intake, items: list[Placement]) -> list[Placed | BaseException]:
    return await asyncio.gather(*(intake.place(i) for i in items), return_exceptions=True)


async def test_many_at_once_share_transactions_and_never_overdraw(h: Harness) -> None:
    probe = await h.merchant("Probe", BTC="1")
    one = await placement(h, probe.id)
    debit = one.quote.plan.debit_amount
    m = await h.merchant("Acme")
    await h.deposit(m, "BTC", str(debit * 40))  # room for exactly 40
    units = CountingUnits(h)
    intake = api_intake(h, units, writers=2 if h.rt.db.is_postgres else 1)
    items = [await placement(h, m.id, order_id=f"o-{i}") for i in range(100)]

    answers = await settle_all(intake, items)

    made = [a for a in answers if isinstance(a, tuple)]
    refused = [a for a in answers if isinstance(a, PayoutdError)]
    assert len(made) == 40 and all(a.created for a in made)
    assert len(refused) == 60 and {e.code for e in refused} == {"insufficient_funds"}
    assert units.opened < 100 / 4, "payouts were not written together"
    balances = await h.balances(m)
    assert Decimal(balances["BTC"]["available"]) == 0
    assert (await h.ledger_check())["ok"]


async def test_a_repeated_order_id_in_one_burst_makes_one_payout(h: Harness) -> None:
    m = await h.merchant("Acme", BTC="1")
    intake = api_intake(h, CountingUnits(h))
    items = [await placement(h, m.id, order_id="same") for _ in range(30)]
    items += [await placement(h, m.id, order_id=f"other-{i}") for i in range(10)]

    answers = await settle_all(intake, items)

    placed = [a for a in answers if isinstance(a, Placed)]
    assert len(placed) == len(answers), answers
    same = placed[:30]
    assert sum(a.created for a in same) == 1
    assert len({a.payout.id for a in same}) == 1
    assert all(a.created for a in placed[30:])
    r = await h.client.get("/v1/payouts", headers=m.headers, params={"limit": "100"})
    assert len(r.json()["data"]) == 11
    assert (await h.ledger_check())["ok"]


async def test_one_item_failing_the_transaction_does_not_fail_the_others(h: Harness) -> None:
    """A payout for a merchant that does not exist passes every rule of place_many (an
    offer holds nothing) but breaks the merchant foreign key on insert: the whole batch
    rolls back, and each payout is then written alone."""
    m = await h.merchant("Acme", BTC="1")
    units = CountingUnits(h)
    intake = api_intake(h, units)
    good = [await placement(h, m.id, order_id=f"g-{i}") for i in range(8)]
    bad = await placement(h, new_id(), approval="manual")

    answers = await settle_all(intake, [*good[:4], bad, *good[4:]])

    assert all(isinstance(a, tuple) and a[1] for i, a in enumerate(answers) if i != 4), answers
    assert isinstance(answers[4], Exception) and not isinstance(answers[4], PayoutdError)
    r = await h.client.get("/v1/payouts", headers=m.headers, params={"limit": "100"})
    assert len(r.json()["data"]) == 8
    assert (await h.ledger_check())["ok"]


async def test_placements_arriving_a_few_turns_later_join_the_batch(h: Harness) -> None:
    """Requests that reach their placement within a few turns of the loop after a writer
    started (the next requests of clients just answered) are written with the first
    one, not in a commit of their own each; a turn that brings none ends the wait."""
    m = await h.merchant("Acme", BTC="1")
    units = CountingUnits(h)
    intake = api_intake(h, units)
    items = [await placement(h, m.id, order_id=f"o-{i}") for i in range(6)]

    async def later(turns: int, item: Placement) -> Any:
        for _ in range(turns):
            await asyncio.sleep(0)
        return await intake.place(item)

    answers = await asyncio.gather(*(later(turn, item) for turn, item in enumerate(items)))

    assert all(a.created for a in answers)
    written = units.opened + (units.at_once.opened if units.at_once else 0)
    assert written == 1, "the placements were not gathered into one batch"


async def test_a_lone_request_is_written_at_once(h: Harness) -> None:
    m = await h.merchant("Acme", BTC="1")
    units = CountingUnits(h)
    intake = Intake(units, h.rt.ctx)
    for i in range(3):
        payout, created, _ = await intake.place(await placement(h, m.id, order_id=f"o-{i}"))
        assert created
        async with h.rt.db.read() as uow:  # committed before the answer
            assert await uow.payouts.get(m.id, payout.id) is not None
    assert units.opened == 3


@pytest.mark.parametrize("approval", ["auto", "manual"])
async def test_the_api_answers_through_the_intake_as_before(h: Harness, approval: str) -> None:
    m = await h.merchant("Acme", BTC="1")
    body = {
        "amount": "0.01",
        "currency": "BTC",
        "address": ADDR,
        "order_id": "x",
        "approval": approval,
    }
    first = await asyncio.gather(
        *(h.client.post("/v1/payouts", headers=m.headers, json=body) for _ in range(5))
    )
    assert sorted(r.status_code for r in first) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in first}) == 1
    status = {"auto": "queued", "manual": "pending_approval"}[approval]
    assert first[0].json()["status"] == status


async def test_a_placement_arriving_as_the_last_writer_ends_is_still_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pure logic, with a stand-in for place_many: whatever the interleaving, every
    placement is answered (a writer that has decided to stop must not count as running)."""
    from contextlib import asynccontextmanager

    from payoutd.api import intake as intake_module

    async def fake_place_many(
        uow: Any, ctx: Any, items: list[Any], all_or_none: bool = False
    ) -> list[Any]:
        await asyncio.sleep(0)
        return [(item, True) for item in items]

    @asynccontextmanager
    async def unit() -> Any:
        yield None

    def item(name: str) -> Any:
        return SimpleNamespace(
            name=name,
            merchant_id="m",
            quote=SimpleNamespace(request=SimpleNamespace(order_id=None)),
        )

    monkeypatch.setattr(intake_module, "place_many", fake_place_many)
    for delay in range(12):
        # a stand-in context: the intake reads only ctx.metrics
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
    pg: Harness,
) -> None:
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
        first = (await payouts.place_many(uow, h.rt.ctx, [await placement(h, m.id, order_id="a")]))[
            0
        ]
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
    h: Harness,
) -> None:
    probe = await placement(h, (await h.merchant("Probe", BTC="1")).id)
    m = await h.merchant("Acme")
    await h.deposit(m, "BTC", str(probe.quote.plan.debit_amount))  # room for exactly one
    async with h.rt.db.unit() as uow:
        first = (await payouts.place_many(uow, h.rt.ctx, [await placement(h, m.id, order_id="a")]))[
            0
        ]
    async with h.rt.db.unit() as uow:
        again = (await payouts.place_many(uow, h.rt.ctx, [await placement(h, m.id, order_id="a")]))[
            0
        ]
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
            # a PayoutdError in the list would be a refusal, and this one fits
            ((p, created, _),) = await payouts.place_many(uow, h.rt.ctx, [item])  # type: ignore[misc]
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
        assert app.state.intake._writers_max == (on_pg if h.rt.db.is_postgres else 1)
        # PostgreSQL (asyncpg) tries each batch as one statement first (all or none)
        assert (app.state.intake._autocommit is not None) == h.rt.db.is_postgres


@pytest.mark.postgres
async def test_a_batch_that_fits_is_one_statement_and_one_that_does_not_writes_nothing(
    pg: Harness,
) -> None:
    """place_many(all_or_none=True) writes a batch whose holds all fit (no transaction opened), and
    writes nothing at all when one does not fit, whichever it is."""
    probe = await placement(pg, (await pg.merchant("Probe", BTC="1")).id)
    debit = probe.quote.plan.debit_amount
    m = await pg.merchant("Acme")
    other = await pg.merchant("Other", BTC="1")
    await pg.deposit(m, "BTC", str(debit * 3))  # room for exactly three
    units = CountingUnits(pg)
    intake = api_intake(pg, units)
    fits = [await placement(pg, m.id, order_id=f"a-{i}") for i in range(2)]
    fits.append(await placement(pg, other.id, order_id="b"))
    fits.append(await placement(pg, m.id, order_id="c", approval="manual"))  # holds nothing

    answers = await settle_all(intake, fits)

    assert all(isinstance(a, tuple) and a[1] for a in answers), answers
    assert units.opened == 0 and units.at_once and units.at_once.opened == 1
    assert Decimal((await pg.balances(m))["BTC"]["available"]) == debit

    # two more for m, with room for one: as one statement nothing is written...
    more = [
        await placement(pg, m.id, order_id="d"),
        await placement(pg, other.id),
        await placement(pg, m.id, order_id="e"),
    ]
    async with pg.rt.db.autocommit() as uow:
        assert await payouts.place_many(uow, pg.rt.ctx, more, all_or_none=True) is None
    r = await pg.client.get("/v1/payouts", headers=m.headers, params={"limit": "100"})
    assert len(r.json()["data"]) == 3
    assert Decimal((await pg.balances(m))["BTC"]["available"]) == debit
    # ...and through the intake each is decided in order, in a transaction
    answers = await settle_all(intake, more)
    assert [type(a).__name__ for a in answers] == ["Placed", "Placed", "PayoutdError"], answers
    assert isinstance(answers[2], PayoutdError) and answers[2].code == "insufficient_funds"
    assert units.opened == 1
    assert Decimal((await pg.balances(m))["BTC"]["available"]) == 0
    assert (await pg.ledger_check())["ok"]


@pytest.mark.postgres
async def test_one_statement_batches_crossing_the_same_accounts_are_all_written(
    pg: Harness,
) -> None:
    """Many one-statement batches at once, each holding from the same accounts listed in
    a different order: every one is written (a deadlock would raise NotWritten here)."""
    ms = [await pg.merchant(f"M{i}", BTC="1") for i in range(6)]
    items = [await placement(pg, m.id, amount="0.001") for m in ms]

    async def batch(order: list[Placement]) -> Any:
        async with pg.rt.db.autocommit() as uow:
            return await payouts.place_many(uow, pg.rt.ctx, order, all_or_none=True)

    orders = [items[k:] + items[:k] for k in range(6)] * 4
    orders += [list(reversed(o)) for o in orders]
    results = await asyncio.gather(*(batch(o) for o in orders))

    assert all(r is not None and all(isinstance(a, tuple) and a[1] for a in r) for r in results), (
        results
    )
    assert (await pg.ledger_check())["ok"]


@pytest.mark.postgres
async def test_one_statement_locks_its_accounts_in_id_order(pg: Harness) -> None:
    """A transaction locks accounts A then B, in id order as check_holds and the worker
    do, while the statement wants both. A's row was rewritten, so on disk it lies after
    B: locking in the order it reads them, the statement would hold B and wait for A
    while the transaction waits for B, a deadlock."""
    from sqlalchemy import text

    from payoutd.domain.ledger import merchant_account

    m1, m2 = await pg.merchant("A", BTC="1"), await pg.merchant("B", BTC="1")
    a_id, b_id = merchant_account(m1.id, "BTC"), merchant_account(m2.id, "BTC")
    assert a_id < b_id
    async with pg.rt.db.unit() as uow:  # A's new row version lands after B's
        await uow.conn.execute(
            text("UPDATE ledger_accounts SET held = held WHERE id = :a"), {"a": a_id}
        )
    items = [await placement(pg, m2.id), await placement(pg, m1.id)]

    async def at_once() -> Any:
        async with pg.rt.db.autocommit() as uow:
            return await payouts.place_many(uow, pg.rt.ctx, items, all_or_none=True)

    lock = text("SELECT 1 FROM ledger_accounts WHERE id = :id FOR UPDATE")
    async with pg.rt.db.unit() as uow:
        await uow.conn.execute(lock, {"id": a_id})
        statement = asyncio.create_task(at_once())
        await asyncio.sleep(0.3)
        assert not statement.done()  # waiting for A, holding nothing
        await uow.conn.execute(lock, {"id": b_id})
    answers = await statement
    assert answers is not None and all(isinstance(a, tuple) and a[1] for a in answers)
    assert (await pg.ledger_check())["ok"]


@pytest.mark.postgres
async def test_a_statement_cancelled_while_it_waits_is_of_unknown_outcome(pg: Harness) -> None:
    """An error that does not prove the statement was not applied (here a cancel, which
    could as well have come after its commit) is not NotWritten: the intake must not
    write the batch again."""
    from sqlalchemy import text

    from payoutd.services.ports import NotWritten

    m = await pg.merchant("Acme", BTC="1")
    item = await placement(pg, m.id)

    async def at_once() -> Any:
        async with pg.rt.db.autocommit() as uow:
            return await payouts.place_many(uow, pg.rt.ctx, [item], all_or_none=True)

    async with pg.rt.db.unit() as uow:
        await uow.conn.execute(
            text("SELECT 1 FROM ledger_accounts WHERE merchant_id = :m FOR UPDATE"), {"m": m.id}
        )
        task = asyncio.create_task(at_once())
        await asyncio.sleep(0.3)
        async with pg.rt.db.autocommit() as other:
            await other.conn.execute(
                text(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        with pytest.raises(Exception) as caught:
            await task
    assert not isinstance(caught.value, NotWritten)
    assert getattr(caught.value, "sqlstate", None) == "57014", caught.value


@pytest.mark.parametrize("one_statement", [False, True])
async def test_one_item_raising_before_the_write_fails_alone(
    h: Harness, monkeypatch: pytest.MonkeyPatch, one_statement: bool
) -> None:
    """An item that raises while its payout is built (a bug, a failed read) fails alone,
    on both paths: before anything is sent the one statement falls back to a
    transaction, which isolates it."""
    m = await h.merchant("Acme", BTC="1")
    items = [await placement(h, m.id, order_id=f"g-{i}") for i in range(6)]
    bad = items[2]
    real = payouts._new_payout

    async def new_payout(uow: Any, ctx: Any, item: Any, now: Any) -> Any:
        if item is bad:
            raise RuntimeError("a bug in one item")
        return await real(uow, ctx, item, now)

    monkeypatch.setattr(payouts, "_new_payout", new_payout)
    units = CountingUnits(h)
    intake = api_intake(h, units) if one_statement else Intake(units, h.rt.ctx)
    answers = await settle_all(intake, items)
    assert [type(a).__name__ for a in answers] == ["Placed"] * 2 + ["RuntimeError"] + [
        "Placed"
    ] * 3, answers
    assert (await h.ledger_check())["ok"]


def test_only_errors_raised_before_the_commit_count_as_not_applied() -> None:
    """Pure logic: which driver errors let the intake write a batch again. A data or
    constraint error, a deadlock, or an argument asyncpg could not encode means the one
    statement was not applied; a lost connection, a cancel, or a backend ended by the
    administrator may come after its commit."""
    import asyncpg

    from payoutd.store.placements import _not_applied

    def server(sqlstate: str) -> Exception:
        kind = asyncpg.exceptions.PostgresError.get_message_class_for_sqlstate(sqlstate)
        return kind("x")  # type: ignore[no-any-return]  # asyncpg ships no types

    for not_applied in ("22001", "23503", "23505", "40P01", "40001", "42P01"):
        assert _not_applied(server(not_applied)), not_applied
    for unknown in ("57P01", "57014", "08006", "XX000", "53300", "40003"):
        assert not _not_applied(server(unknown)), unknown
    assert _not_applied(asyncpg.exceptions.DataError("cannot encode"))  # class 22
    assert not _not_applied(asyncpg.exceptions.InterfaceError("connection is closed"))
    assert not _not_applied(asyncpg.exceptions.ConnectionDoesNotExistError("lost"))
    assert not _not_applied(TimeoutError())


@pytest.mark.postgres
async def test_one_statement_waits_for_a_transaction_holding_its_account_then_sees_its_holds(
    pg: Harness,
) -> None:
    """The statement's check reads the balances with the rows locked: behind a
    transaction that holds the last funds it waits, then finds nothing left and writes
    nothing (checked on balances read before the lock, it would overdraw)."""
    probe = await placement(pg, (await pg.merchant("Probe", BTC="1")).id)
    debit = probe.quote.plan.debit_amount
    m = await pg.merchant("Acme")
    await pg.deposit(m, "BTC", str(debit * 3 / 2))  # room for one
    first_item, second_item = await placement(pg, m.id), await placement(pg, m.id)

    async def at_once() -> Any:
        async with pg.rt.db.autocommit() as uow:
            return await payouts.place_many(uow, pg.rt.ctx, [second_item], all_or_none=True)

    async with pg.rt.db.unit() as uow:
        first = (await payouts.place_many(uow, pg.rt.ctx, [first_item]))[0]
        assert isinstance(first, tuple) and first[1]
        second = asyncio.create_task(at_once())
        await asyncio.sleep(0.3)
        assert not second.done()  # waiting on the account row the transaction locked
    assert await second is None
    assert Decimal((await pg.balances(m))["BTC"]["available"]) == debit / 2
    assert (await pg.ledger_check())["ok"]


async def test_an_error_of_unknown_outcome_is_never_written_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pure logic, with stand-ins: when the one statement fails in a way that may have
    been applied, the batch is answered with the error and no transaction writes it again
    (a payout without an order_id would be made twice); when the database refused it, the
    batch is written in a transaction."""
    from contextlib import asynccontextmanager

    from payoutd.api import intake as intake_module
    from payoutd.services.ports import NotWritten

    transactions: list[int] = []
    failure: list[Exception] = []

    async def fake_place_many(
        uow: Any, ctx: Any, items: list[Any], all_or_none: bool = False
    ) -> list[Any]:
        if all_or_none:
            raise failure[0]
        transactions.append(len(items))
        return [(item, True) for item in items]

    @asynccontextmanager
    async def unit() -> Any:
        yield None

    monkeypatch.setattr(intake_module, "place_many", fake_place_many)
    item = SimpleNamespace(
        merchant_id="m", quote=SimpleNamespace(request=SimpleNamespace(order_id=None))
    )
    ctx = SimpleNamespace(metrics=None)

    failure[:] = [ConnectionResetError("lost")]
    # stand-ins: a context with only metrics, placements with only what the writer reads
    intake = Intake(unit, ctx, autocommit=unit)  # type: ignore[arg-type]
    answers = await settle_all(intake, [item, item])  # type: ignore[list-item]
    assert all(isinstance(a, ConnectionResetError) for a in answers) and not transactions

    failure[:] = [NotWritten(ValueError("refused"))]
    answers = await settle_all(intake, [item, item])  # type: ignore[list-item]  # as above
    as_placed_by_the_fake: list[object] = [(item, True), (item, True)]
    assert answers == as_placed_by_the_fake and sum(transactions) == 2


@pytest.mark.postgres
async def test_a_writer_keeps_its_connection_between_batches_and_replaces_a_closed_one(
    pg: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches written one after another by one writer share its connection (one pool
    checkout); when the server ends that connection between two batches, the next
    batch takes a new one instead of failing."""
    from sqlalchemy import text

    from payoutd.api import intake as intake_module

    m = await pg.merchant("Acme", BTC="1")
    units = CountingUnits(pg)
    intake = api_intake(pg, units, max_batch=5)
    real = intake_module.place_many
    pids: list[int] = []

    async def spy(uow: Any, ctx: Any, items: list[Any], all_or_none: bool = False) -> Any:
        assert all_or_none
        pid = (await uow.conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        pids.append(pid)
        answers = await real(uow, ctx, items, all_or_none=True)
        if len(pids) == 2:  # the server ends this connection after the second batch
            async with pg.rt.db.read() as other:
                await other.conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            await asyncio.sleep(0.2)
        return answers

    monkeypatch.setattr(intake_module, "place_many", spy)
    items = [await placement(pg, m.id, amount="0.001") for _ in range(20)]
    answers = await settle_all(intake, items)

    assert all(isinstance(a, tuple) and a[1] for a in answers), answers
    assert len(pids) == 4 and pids[0] == pids[1] and pids[2] == pids[3] != pids[1], pids
    assert units.at_once and units.at_once.opened == 2 and units.opened == 0
    assert (await pg.ledger_check())["ok"]


@pytest.mark.postgres
async def test_a_held_connection_lost_during_a_read_is_replaced_for_the_next_batch(
    pg: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the writer's connection while a batch reads on it before its
    statement (a merchant's address allowlist is read there): that batch falls back to
    a transaction, and the next ones get a new connection, not the broken one."""
    from sqlalchemy import text

    m = await pg.merchant("Acme", BTC="1")
    real = payouts._new_payout
    calls: list[int] = []

    async def new_payout(uow: Any, ctx: Any, item: Any, now: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            pid = (await uow.conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with pg.rt.db.autocommit() as other:
                await other.conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            await asyncio.sleep(0.2)
        await uow.conn.execute(
            text("SELECT 1 FROM merchants WHERE id = :m"), {"m": item.merchant_id}
        )
        return await real(uow, ctx, item, now)

    monkeypatch.setattr(payouts, "_new_payout", new_payout)
    units = CountingUnits(pg)
    intake = api_intake(pg, units, max_batch=1)
    items = [await placement(pg, m.id, amount="0.001") for _ in range(6)]
    answers = await settle_all(intake, items)
    await intake.drain()

    assert all(isinstance(a, tuple) and a[1] for a in answers), answers
    # only the first batch needed a transaction; the others went as one statement each,
    # the first on the broken connection's replacement
    assert units.opened == 1 and units.at_once and units.at_once.opened == 2
    # a QueuePool (asyncpg's adapted one); the Pool it is typed as counts nothing
    assert pg.rt.db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert (await pg.ledger_check())["ok"]


@pytest.mark.postgres
async def test_the_one_statement_stores_exactly_what_the_transaction_stores(pg: Harness) -> None:
    """The one statement binds its values itself (the columns' types, then asyncpg): the
    rows it writes are the rows the transaction's statement writes, text for text
    (a timestamp in another zone, JSON with non-ASCII and U+2028, NULLs, offers)."""
    import dataclasses
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text
    from sqlalchemy.dialects import postgresql

    from payoutd.services.payouts import _fresh, _writes
    from payoutd.services.ports import NotWritten
    from payoutd.store.payouts import insert_order, to_row
    from payoutd.store.tables import payouts as payouts_table

    m = await pg.merchant("Acme", BTC="10")
    items = []
    for extra in (
        dict(
            metadata={"ü": "é\u2028x", "n": 1.5, "l": [1, None, True]},
            comment='čš "q"',
            order_id="o-1",
        ),
        dict(approval="manual"),
        dict(
            execute_at=pg.clock.now() + timedelta(days=1, microseconds=7),
            callback_url="https://x.example/cb?a=1&b=2",
        ),
    ):
        items.append(await placement(pg, m.id, amount="0.00012345", **extra))
    now = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2)))
    rows = text("""SELECT (SELECT array_agg(p::text ORDER BY id) FROM payouts p),
        (SELECT array_agg(row(account_id, currency, amount, status, payout_id, created_at,
                              updated_at)::text ORDER BY payout_id) FROM holds),
        (SELECT array_agg(row(merchant_id, type, subject_id, payload::text, created_at)::text
                          ORDER BY subject_id) FROM outbox WHERE type = 'payout.created'),
        (SELECT array_agg(row(id, balance, held)::text ORDER BY id) FROM ledger_accounts)""")

    async def stored() -> Any:
        async with pg.rt.db.read() as uow:
            return tuple((await uow.conn.execute(rows)).one())

    async with pg.rt.db.autocommit() as uow:
        _, new = await _fresh(uow, pg.rt.ctx, items, now)
        writes = _writes(new, now)
        # the types' rules hold too: a naive timestamp is refused, before anything is sent
        with pytest.raises(NotWritten, match="naive"):
            await uow.placements.add_if_funded(*writes[:3], now.replace(tzinfo=None))
        naive = [
            dataclasses.replace(writes[0][0], created_at=now.replace(tzinfo=None)),
            *writes[0][1:],
        ]
        with pytest.raises(NotWritten, match="naive"):
            await uow.placements.add_if_funded(naive, *writes[1:])
        ids = await uow.placements.add_if_funded(*writes)
    by_statement = await stored()
    assert ids is not None and len(by_statement[0]) == 3 and len(by_statement[1]) == 2

    async def undo() -> None:
        async with pg.rt.db.unit() as uow:
            await uow.conn.execute(
                text("UPDATE ledger_accounts SET held = 0 WHERE merchant_id = :m"), {"m": m.id}
            )
            for table, column in (
                ("holds", "payout_id"),
                ("outbox", "subject_id"),
                ("payouts", "id"),
            ):
                await uow.conn.execute(
                    text(f"DELETE FROM {table} WHERE {column} = ANY(:i)"), {"i": sorted(ids)}
                )

    await undo()  # then written by SQLAlchemy's own statements, binding each value itself
    async with pg.rt.db.unit() as uow:
        result = await uow.conn.execute(
            postgresql.insert(payouts_table)
            .on_conflict_do_nothing(index_elements=["merchant_id", "order_id"])
            .returning(payouts_table.c.id),
            [to_row(p) for p in insert_order(writes[0])],
        )
        assert set(result.scalars()) == ids
        await uow.ledger.add_holds(writes[1], now)
        await uow.outbox.add_many(writes[2], now)
    assert await stored() == by_statement
    await undo()  # and by the transaction's path (the statement without the funds check)
    async with pg.rt.db.unit() as uow:
        assert await uow.placements.add(*writes) == ids
    assert await stored() == by_statement


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_the_sqlite_batch_stores_exactly_what_the_repositories_store(h: Harness) -> None:
    """On SQLite a batch's rows are bound once and sent on the sqlite3 connection itself
    (store.placements): what it stores is what SQLAlchemy's statements with the same
    column types store, text for text, and a stored order_id is left out with its hold
    and event, as ON CONFLICT DO NOTHING leaves it out."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    from payoutd.services.payouts import _fresh, _writes
    from payoutd.store.payouts import insert_order, to_row
    from payoutd.store.tables import payouts as payouts_table

    m = await h.merchant("Acme", BTC="10")
    stored = await placement(h, m.id, amount="0.5", order_id="o-stored")
    async with h.rt.db.unit() as uow:
        await payouts.place_many(uow, h.rt.ctx, [stored])
    items = [await placement(h, m.id, amount="0.5", order_id="o-stored")]
    for extra in (
        dict(
            metadata={"ü": "é\u2028x", "n": 1.5, "l": [1, None, True]},
            comment='čš "q"',
            order_id="o-1",
        ),
        dict(approval="manual"),
        dict(
            execute_at=h.clock.now() + timedelta(days=1, microseconds=7),
            callback_url="https://x.example/cb?a=1&b=2",
        ),
        dict(),
    ):
        items.append(await placement(h, m.id, amount="0.00012345", **extra))
    now = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2)))
    queries = [
        "SELECT * FROM payouts ORDER BY id",
        "SELECT account_id, currency, amount, status, payout_id, created_at, "
        "updated_at FROM holds ORDER BY payout_id",
        "SELECT merchant_id, type, subject_id, payload, created_at FROM outbox "
        "WHERE type = 'payout.created' ORDER BY seq",
        "SELECT id, balance, held FROM ledger_accounts ORDER BY id",
    ]

    async def rows() -> list[Any]:
        async with h.rt.db.read() as uow:
            return [(await uow.conn.execute(text(q))).all() for q in queries]

    held_before = (await rows())[3]
    async with h.rt.db.unit() as uow:
        _, new = await _fresh(uow, h.rt.ctx, items, now)
        writes = _writes(new, now)
        ids = await uow.placements.add(*writes)
    by_batch = await rows()
    assert len(ids) == 4 and [len(r) for r in by_batch[:3]] == [5, 4, 5]
    assert by_batch[3] != held_before
    async with h.rt.db.unit() as uow:  # undone, then written by SQLAlchemy's statements
        for account_id, _, held_then in held_before:
            await uow.conn.execute(
                text("UPDATE ledger_accounts SET held = :h WHERE id = :i"),
                {"h": held_then, "i": account_id},
            )
        for table, column in (("holds", "payout_id"), ("outbox", "subject_id"), ("payouts", "id")):
            await uow.conn.execute(
                text(f"DELETE FROM {table} WHERE {column} IN ({', '.join(repr(i) for i in ids)})")
            )
    new_payouts, held, created, _ = writes
    async with h.rt.db.unit() as uow:
        from sqlalchemy.dialects import sqlite

        result = await uow.conn.execute(
            sqlite.insert(payouts_table)
            .on_conflict_do_nothing(index_elements=["merchant_id", "order_id"])
            .returning(payouts_table.c.id),
            [to_row(p) for p in insert_order(new_payouts)],
        )
        assert set(result.scalars()) == ids
        await uow.ledger.add_holds([g for g in held if g.payout_id in ids], now)
        await uow.outbox.add_many([e for e in created if e[2] in ids], now)
    assert await rows() == by_batch
    # the hold ids and event ids are new on each write, so they are left out above


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_a_created_payout_is_answered_with_the_view_its_event_carries(h: Harness) -> None:
    from payoutd.services.views import payout_view

    m = await h.merchant("Acme", BTC="10")
    item = await placement(h, m.id, order_id="o-1", metadata={"k": "v"})
    async with h.rt.db.unit() as uow:
        placed = (await payouts.place_many(uow, h.rt.ctx, [item]))[0]
        assert not isinstance(placed, PayoutdError) and placed.created
        events = await uow.outbox.for_subject(placed.payout.id)
    assert placed.view == events[0]["payload"]["payout"] == payout_view(placed.payout)
    async with h.rt.db.unit() as uow:  # a repeat: the stored payout, no view of an event
        again = (await payouts.place_many(uow, h.rt.ctx, [item]))[0]
    assert again == payouts.Placed(placed.payout, False, None)


async def test_a_client_that_goes_away_cancels_only_its_own_wait(h: Harness) -> None:
    """A request cancelled while its batch's transaction is open (the client hung up)
    stops waiting; the writer still commits the batch, its payout included (a retry with
    the order_id finds it), and every other placement gets its answer."""
    m = await h.merchant("Acme", BTC="1")
    began = asyncio.Event()

    @contextlib.asynccontextmanager
    async def unit() -> Any:
        async with h.rt.db.unit() as uow:
            began.set()
            await asyncio.sleep(0.05)  # the transaction is open while the clients go
            yield uow

    intake = Intake(unit, h.rt.ctx)
    items = [await placement(h, m.id, order_id=f"o-{i}") for i in range(20)]
    tasks = [asyncio.create_task(intake.place(i)) for i in items]
    await asyncio.wait_for(began.wait(), 10)
    tasks[0].cancel()  # in the batch being written
    tasks[12].cancel()
    answers = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)

    assert isinstance(answers[0], asyncio.CancelledError)
    assert isinstance(answers[12], asyncio.CancelledError)
    others = [a for i, a in enumerate(answers) if i not in (0, 12)]
    assert all(isinstance(a, tuple) and a.created for a in others), others
    await intake.drain()
    async with h.rt.db.read() as uow:
        stored = await uow.payouts.by_order_ids([(m.id, f"o-{i}") for i in range(20)])
    assert len(stored) == 20
    assert (await h.ledger_check())["ok"]


@pytest.mark.postgres
async def test_a_placement_queued_while_the_writer_gives_back_its_connection_is_written(
    pg: Harness,
) -> None:
    """On PostgreSQL a writer keeps its autocommit connection across batches and gives it
    back after the last one: an await after its queue looked empty. A placement queued
    during that await must still be written (it found the writer counted, so it started
    none) rather than wait for some later placement to start one."""
    m = await pg.merchant("Acme", BTC="1")
    first, late = (
        await placement(pg, m.id, order_id="first"),
        await placement(pg, m.id, order_id="late"),
    )
    arrivals: list[asyncio.Task[Any]] = []

    @contextlib.asynccontextmanager
    async def at_once() -> Any:
        async with pg.rt.db.autocommit() as uow:
            yield uow
        if not arrivals:  # the connection is being given back: a request arrives
            arrivals.append(asyncio.create_task(intake.place(late)))
            await asyncio.sleep(0.05)

    intake = Intake(pg.rt.db.unit, pg.rt.ctx, autocommit=at_once)
    assert (await asyncio.wait_for(intake.place(first), 10)).created
    for _ in range(200):  # the writer gives its connection back after answering
        if arrivals:
            break
        await asyncio.sleep(0.01)
    assert (await asyncio.wait_for(arrivals[0], 10)).created
