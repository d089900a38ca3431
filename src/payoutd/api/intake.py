"""Group commit: the request side's transaction runner for creating payouts (as
payoutd.worker.jobs is the job side's). Every caller that creates payouts at the edge
places them here; the one service function, `services.payouts.place_many`, runs in the
transactions this runner opens and commits.

Each accepted payout is a few small writes (the payout, its hold, the account's `held`,
an outbox event); what costs is the transaction around them: a BEGIN, a COMMIT that
waits for the disk, and a dozen round trips. Under load, requests that arrive while a
transaction is being written wait for the next one, and that one carries them all
(`place_many`: a statement per table on SQLite, a hold check and one statement for all
the writes on PostgreSQL), so the cost of a commit is shared by every payout in it.
With one request at a time nothing waits: a lone request is written after one turn of an
idle loop (`Intake._gather`), as a batch of one.

Nothing is given up for it: every payout still gets the answer it would get alone
(`place_many` answers each item separately, a refused one writes nothing), a payout is
acknowledged only after the transaction that holds it has committed, and a batch that
fails for any other reason is retried one payout per transaction, so one bad item
cannot fail the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from payoutd.domain.errors import PayoutdError
from payoutd.services.context import Context
from payoutd.services.payouts import Placed, Placement
from payoutd.services.payouts import place_many as place_many  # tests stand in for it
from payoutd.services.ports import NotWritten, UnitOfWork

Unit = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
# what a placement's caller writes in the transaction that places it, given its answer
# (an Idempotency-Key's stored response): committed together, or not at all
InTransaction = Callable[[UnitOfWork, "Placed | PayoutdError"], Awaitable[None]]

# Turns of the event loop a writer lets pass, while they bring placements, before it
# takes a batch (Intake._gather): more payouts share each commit (bench/README.md,
# "Where the time goes").
GATHER_TURNS = 8


@dataclass(slots=True)
class _Waiting:
    item: Placement
    then: InTransaction | None = None
    answer: asyncio.Future[Placed] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def order_key(self) -> tuple[str, str] | None:
        order_id = self.item.quote.request.order_id
        return None if order_id is None else (self.item.merchant_id, order_id)


class Intake:
    """Placements queue here; up to `writers` transactions are written at a time, each
    taking up to `max_batch` waiting placements. With `autocommit` (PostgreSQL's units in
    autocommit, where one statement is a transaction of its own) a batch is first placed
    all or none (`place_many(all_or_none=True)`, one statement), and placed in a
    transaction of `unit` only when that wrote nothing, or when a placement has work of
    its own to do in the transaction (`in_transaction`)."""

    def __init__(
        self,
        unit: Unit,
        ctx: Context,
        *,
        max_batch: int = 256,
        writers: int = 1,
        autocommit: Unit | None = None,
    ) -> None:
        self._unit = unit
        self._autocommit = autocommit
        self._ctx = ctx
        self._max_batch = max_batch
        self._writers_max = writers
        self._waiting: list[_Waiting] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._running = 0  # writers that have not yet decided to stop

    async def place(
        self, item: Placement, *, in_transaction: InTransaction | None = None
    ) -> Placed:
        """Store the payout and hold its funds, committed, or raise its refusal.
        `in_transaction` runs in the same transaction, after the placement, with its
        answer (the refusal included)."""
        waiting = _Waiting(item, in_transaction)
        self._waiting.append(waiting)
        if self._running < self._writers_max:
            # counted here and uncounted by the writer in the very step it decides to stop:
            # a placement queued in between always finds a writer (or starts one)
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._write())
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)
        # The writer, not this request, owns the transaction: a client that goes away
        # cancels its wait (this future, which `_settle` then skips), never the writer's
        # task nor a commit under way for others.
        return await waiting.answer

    async def drain(self) -> None:
        """Wait until everything queued has been written (on shutdown)."""
        while self._writers:
            await asyncio.gather(*self._writers, return_exceptions=True)

    def _next_batch(self) -> list[_Waiting]:
        """The oldest waiting placements, at most one per order_id: a repeat waits for the
        next batch, where it finds the first one stored and is answered as a repeat."""
        batch: list[_Waiting] = []
        keys: set[tuple[str, str]] = set()
        rest: list[_Waiting] = []
        for w in self._waiting:
            key = w.order_key
            if len(batch) >= self._max_batch or (key is not None and key in keys):
                rest.append(w)
                continue
            if key is not None:
                keys.add(key)
            batch.append(w)
        self._waiting = rest
        return batch

    async def _write(self) -> None:
        try:
            while True:
                await self._write_all()
                # Giving back a kept connection (`_KeptUnit.release`) is an await after
                # the last batch: placements queued meanwhile found this writer still
                # counted and started none. Stopping is decided here, in the same step
                # as the uncounting below, so none is left without a writer.
                if not self._waiting:
                    return
        finally:
            self._running -= 1

    async def _write_all(self) -> None:
        held = _KeptUnit(self._autocommit) if self._autocommit is not None else None
        try:
            await self._write_batches(held)
        finally:
            if held is not None:
                await held.release()

    async def _write_batches(self, held: _KeptUnit | None) -> None:
        while self._waiting:
            await self._gather()
            batch = self._next_batch()
            try:
                await self._commit(batch, held)
            except _RolledBack as failed:
                if len(batch) == 1:
                    _settle(batch[0], error=failed.cause)
                    continue
                # Something failed the whole transaction before its commit (a deadlock,
                # a bug in one item): nothing of it was written. Each payout gets a
                # transaction of its own, so only what fails alone fails.
                for w in batch:
                    try:
                        await self._commit([w], held)
                    except _RolledBack as alone:
                        _settle(w, error=alone.cause)
                    except Exception as exc:
                        _settle(w, error=exc)
            except Exception as exc:
                # The commit itself failed (e.g. the connection dropped): whether it took
                # effect is unknown, so nothing is retried here. The client's retry with
                # its order_id or Idempotency-Key finds the payout if it was stored.
                for w in batch:
                    _settle(w, error=exc)

    async def _gather(self) -> None:
        """Let the requests the loop already holds reach their placement before a batch
        is taken: a turn of the loop at a time, for as long as each turn brings more (at
        most GATHER_TURNS). Under load the answers of the last batch have just gone out
        and their clients' next requests are being read: a batch taken at once carried
        a few of them and left the rest to another commit, each with its fixed cost
        (an on-loop COMMIT on SQLite, a round trip on PostgreSQL).
        Alone, a request waits one turn of an idle loop: microseconds."""
        for _ in range(GATHER_TURNS):
            queued = len(self._waiting)
            await asyncio.sleep(0)
            if len(self._waiting) == queued or len(self._waiting) >= self._max_batch:
                return

    async def _commit(self, batch: list[_Waiting], held: _KeptUnit | None) -> None:
        if self._ctx.metrics is not None:
            self._ctx.metrics.intake_batch(len(batch))
        items = [w.item for w in batch]
        answers = None
        if held is not None and all(w.then is None for w in batch):
            answers = await self._place_all_or_none(items, held)
        if answers is None:
            async with self._unit() as uow:
                try:
                    answers = await place_many(uow, self._ctx, items)
                    for w, answer in zip(batch, answers, strict=True):
                        if w.then is not None:
                            await w.then(uow, answer)
                except Exception as exc:
                    raise _RolledBack(exc) from exc
        # committed: only now may anyone hear "created"
        for w, answer in zip(batch, answers, strict=True):
            if isinstance(answer, PayoutdError):
                _settle(w, error=answer)
            else:
                _settle(w, answer=answer)

    async def _place_all_or_none(
        self, items: list[Placement], held: _KeptUnit
    ) -> list[Placed | PayoutdError] | None:
        """The answers, or None when nothing was written: a hold did not fit (each is
        then decided in order in a transaction), or the database refused the statement or
        an item failed before it was sent (a transaction then finds the item at fault).
        Any other error propagates: the statement may have been applied, so nothing may
        be written again."""
        try:
            uow = await held.get()
        except Exception:  # no connection to send it on: nothing was sent
            return None
        try:
            return await place_many(uow, self._ctx, items, all_or_none=True)
        except NotWritten:
            return None
        except BaseException as exc:
            await held.release(exc)  # the connection may be broken: not for the next batch
            raise


class _KeptUnit:
    """A writer's autocommit unit, kept from one batch to the next for as long as it has
    batches to write: a pool checkout and return per batch cost about as much CPU as
    preparing the statement's values. A connection the server has closed (as asyncpg
    saw) is given back and replaced before a batch, as a checkout would."""

    def __init__(self, open_unit: Unit) -> None:
        self._open = open_unit
        self._exit: AbstractAsyncContextManager[UnitOfWork] | None = None
        self._uow: UnitOfWork | None = None

    async def get(self) -> UnitOfWork:
        if self._uow is not None:
            try:
                if not await self._uow.connection_closed():
                    return self._uow
            except Exception:  # e.g. SQLAlchemy invalidated it after a failed read
                pass
        await self.release()
        opened = self._open()
        self._uow = await opened.__aenter__()
        self._exit = opened
        return self._uow

    async def release(self, exc: BaseException | None = None) -> None:
        opened, self._exit, self._uow = self._exit, None, None
        if opened is not None:
            await opened.__aexit__(
                type(exc) if exc else None, exc, exc.__traceback__ if exc else None
            )


class _RolledBack(Exception):
    """The transaction failed before its commit, so it wrote nothing."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _settle(
    w: _Waiting, *, answer: Placed | None = None, error: BaseException | None = None
) -> None:
    if w.answer.done():  # its wait was cancelled (the client went away)
        return
    if error is not None:
        w.answer.set_exception(error)
    else:
        assert answer is not None
        w.answer.set_result(answer)
