"""Worker jobs. Each job owns its database transactions; chain calls happen between
them, never inside one (a broadcast must only ever follow a committed record)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from payoutd.domain.payout import Status
from payoutd.services import execution, payouts, webhooks
from payoutd.services.context import Context
from payoutd.services.ports import ChainUnavailable, Rejected
from payoutd.store.db import Database
from payoutd.store.uow import UnitOfWork
from payoutd.store.webhooks import Delivery, Outcome
from payoutd.webhooks import signing
from payoutd.webhooks.delivery import AttemptResult, Sender

log = structlog.get_logger("payoutd.worker")


async def _any(db: Database, status: Status, *, due_before: datetime | None = None,
               expires_before: datetime | None = None) -> bool:
    """Whether a payout waits in `status`, due or expired before the time given: most
    passes find none, and a look needs no write transaction (on SQLite, no
    turn of the write lock, which intake and the other jobs are waiting for)."""
    async with db.read() as uow:
        return bool(await uow.payouts.claim(status, due_before=due_before,
                                            expires_before=expires_before, limit=1, lock=False))


async def expire_offers(db: Database, ctx: Context) -> int:
    if not await _any(db, Status.PENDING_APPROVAL, expires_before=ctx.clock.now()):
        return 0
    async with db.unit() as uow:
        return await payouts.expire_offers(uow, ctx)


async def release_scheduled(db: Database, ctx: Context) -> int:
    if not await _any(db, Status.SCHEDULED, due_before=ctx.clock.now()):
        return 0
    async with db.unit() as uow:
        return await execution.release_scheduled(uow, ctx)


MAX_BATCHES_PER_QUEUE = 20  # per pass, so one long queue does not starve the others


async def send_batches(db: Database, ctx: Context) -> list[str]:
    """Open batches for every due queue, each recorded (committed) on its own, then
    broadcast them, all while holding the hot wallet's lock."""
    async with db.read() as uow:
        queues = await execution.due_queues(uow, ctx)
    opened = []
    for network, currency in queues:
        async with db.wallet_lock(network) as mine:
            if not mine:
                continue  # another worker is sending from this wallet
            for _ in range(MAX_BATCHES_PER_QUEUE):
                async with db.read() as uow:
                    unsent = await uow.batches.unsent(network)
                if unsent:
                    # A recorded batch of this wallet is not out yet (its broadcast failed):
                    # a new batch could be built from the same coins or nonces (a node
                    # restart drops its coin locks), so the wallet waits for it.
                    log.info("batch.waiting_for_recorded", network=network, batch_id=unsent)
                    break
                try:
                    async with db.unit() as uow:
                        batch_id = await execution.open_batch(uow, ctx, network, currency)
                except execution.WalletShortfall as short:
                    log.warning("wallet.shortfall", network=network, currency=currency,
                                reason=short.reason)
                    if ctx.metrics is not None:
                        ctx.metrics.wallet_shortfall(network, currency)
                    break
                except ChainUnavailable as exc:
                    # The node is down or would not build the batch: nothing was
                    # recorded, the payouts wait, and the other queues still go.
                    log.warning("batch.chain_unavailable", network=network,
                                currency=currency, reason=str(exc))
                    break
                if batch_id is None:
                    break
                log.info("batch.recorded", batch_id=batch_id, network=network,
                         currency=currency)
                opened.append(batch_id)
                await broadcast_recorded(db, ctx, only=batch_id)
    return opened


async def broadcast_recorded(db: Database, ctx: Context, *, only: str | None = None) -> int:
    """Broadcast every recorded batch not yet known to be broadcast: new ones, and those
    a crash interrupted. It is always the recorded transaction that goes out."""
    async with db.read() as uow:
        if only is not None:
            one = await uow.batches.get(only)
            recorded = [one] if one is not None and one.status == "prepared" else []
        else:
            recorded = await uow.batches.claim("prepared", limit=100)
    for batch in recorded:
        chain = ctx.chain(batch.network)
        try:
            await chain.broadcast(execution.recorded_tx(batch))
        except Rejected as exc:
            log.warning("batch.rejected", batch_id=batch.id, reason=str(exc))
            async with db.unit() as uow:
                await execution.fail_batch(uow, ctx, batch.id, "prepared", f"rejected: {exc}")
            continue
        except ChainUnavailable as exc:
            log.warning("batch.broadcast_unknown", batch_id=batch.id, reason=str(exc))
            continue  # the same transaction is broadcast again on the next pass
        async with db.unit() as uow:
            await execution.mark_broadcast(uow, ctx, batch.id)
        log.info("batch.broadcast", batch_id=batch.id, txid=batch.txid)
    return len(recorded)


async def follow_broadcast(db: Database, ctx: Context) -> int:
    async with db.read() as uow:
        pending = await uow.batches.claim("broadcast", limit=200)
    for batch in pending:
        chain = ctx.chain(batch.network)
        try:
            state = await chain.status(execution.recorded_tx(batch))
        except ChainUnavailable:
            continue
        if state.state == "unknown":
            # The chain lost it (node restart, mempool eviction before we looked): the
            # identical signed transaction may safely be sent again.
            try:
                await chain.broadcast(execution.recorded_tx(batch))
            except (ChainUnavailable, Rejected) as exc:
                log.warning("batch.rebroadcast_failed", batch_id=batch.id, reason=str(exc))
            continue
        if not execution.follow_changes(batch, state, chain.confirmations):
            continue  # as it was: no write transaction (on SQLite, no write lock)
        async with db.unit() as uow:
            status = await execution.follow(uow, ctx, batch.id, state)
        if status != "broadcast":
            log.info("batch.settled", batch_id=batch.id, status=status)
    return len(pending)


async def send_pass(db: Database, ctx: Context) -> None:
    """Everything up to a broadcast: offers expire, scheduled payouts come due, queues
    become batches and go out."""
    await expire_offers(db, ctx)
    await release_scheduled(db, ctx)
    # Recorded batches a crash left behind go out before any new batch: on account
    # chains a new run of nonces must not overtake an older recorded one.
    await broadcast_recorded(db, ctx)
    await send_batches(db, ctx)


async def tick(db: Database, ctx: Context) -> None:
    """One pass of every job, in the order a payout moves through them. The worker runs
    `send_pass` and `follow_broadcast` as loops of their own, so a long queue being sent
    never holds back the batches already on chain."""
    await send_pass(db, ctx)
    await follow_broadcast(db, ctx)


async def dispatch_events(db: Database, ctx: Context) -> int:
    async with db.unit() as uow:
        return await webhooks.dispatch(uow, ctx)


RECORD_EVERY = 0.5  # seconds a successful delivery may wait to be recorded (lease: 60 s)


class _Successes:
    """Successful attempts waiting to be recorded together: a transaction per delivery
    cost more than the delivery itself. They are recorded every RECORD_EVERY seconds,
    well within their lease, and whatever a failed record took waits for the next."""

    def __init__(self, db: Database, ctx: Context) -> None:
        self.db = db
        self.ctx = ctx
        self.waiting: list[tuple[Delivery, AttemptResult, datetime]] = []

    async def record(self, then: Callable[[UnitOfWork], Awaitable[str]] | None = None
                     ) -> str | None:
        """Record the waiting successes and then, in the same transaction, `then`."""
        taken, self.waiting = self.waiting, []
        if not taken and then is None:
            return None
        try:
            async with self.db.unit() as uow:
                await webhooks.record_delivered(uow, self.ctx, taken)
                return await then(uow) if then is not None else None
        except BaseException:
            self.waiting[:0] = taken
            raise

    async def record_every(self, seconds: float, done: asyncio.Event) -> None:
        """Until `done` is set. Never cancelled: a transaction cut short by cancellation
        can leave its SQLite connection holding the database's write lock."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), seconds)
            if done.is_set():
                return
            try:
                await self.record()
            except Exception:
                log.exception("webhook.record_failed")  # they wait for the next try


async def attempt(sender: Sender, d: Delivery, secrets_in_use: list[str],
                  body: str) -> AttemptResult:
    """One attempt; whatever goes wrong in it is its failure (recorded, retried, counted
    toward disabling the endpoint), never the job's."""
    started = time.monotonic()
    try:
        # signed now, with the real time: a lane's last delivery may go out long after
        # the pass began, and receivers refuse timestamps over 5 min old
        headers = signing.headers(secrets_in_use, d.event_id, datetime.now(UTC), body)
        return await sender.send(d.url, headers, body)
    except Exception as exc:
        log.warning("webhook.attempt_raised", delivery_id=d.id, error=repr(exc))
        return AttemptResult(None, int((time.monotonic() - started) * 1000),
                             error=f"{type(exc).__name__}: {exc}"[:500])


async def deliver_webhooks(db: Database, ctx: Context, sender: Sender,
                           limit: int = 200) -> int:
    """Attempt every due delivery. One endpoint's deliveries go one after another in
    event order; different endpoints are served concurrently.

    Successes are recorded in groups (`_Successes`); a crash before their record only
    sends them again (delivery is at least once; receivers dedupe on webhook-id). A
    failure is recorded at once, after the successes before it, since it decides whether
    the endpoint's lane goes on."""
    now = ctx.clock.now()
    async with db.unit() as uow:
        due = await uow.webhooks.claim_due(now, now + webhooks.LEASE, limit)
        attempts = list(zip(due, await webhooks.prepare_attempts(uow, due, now), strict=True))
        # their endpoint was disabled or deleted meanwhile
        await uow.webhooks.record_many([
            Outcome(d, now, "cancelled", None, None, None, "endpoint disabled or deleted")
            for d, prepared in attempts if prepared is None])
        lanes: dict[str, list[tuple[Delivery, tuple[list[str], str]]]] = {}
        for d, prepared in attempts:
            if prepared is not None:
                lanes.setdefault(d.endpoint_id or d.url, []).append((d, prepared))
    if not lanes:
        return len(attempts)
    gate = asyncio.Semaphore(ctx.settings.webhook_concurrency)
    successes = _Successes(db, ctx)

    async def lane(items: list[tuple[Delivery, tuple[list[str], str]]]) -> None:
        for d, (secrets_in_use, body) in items:
            async with gate:
                result = await attempt(sender, d, secrets_in_use, body)
            if result.ok:
                successes.waiting.append((d, result, ctx.clock.now()))
                status = "delivered"
            else:
                async def failure(uow: UnitOfWork, d: Delivery = d,
                                  result: AttemptResult = result) -> str:
                    return await webhooks.record(uow, ctx, d, result)

                status = await successes.record(failure) or "pending"
            log.info("webhook.attempt", delivery_id=d.id, event_type=d.event_type,
                     status_code=result.status_code, outcome=status)
            if status == "cancelled":
                break  # the endpoint was just disabled; the rest of its lane went with it

    done = asyncio.Event()
    recorder = asyncio.create_task(successes.record_every(RECORD_EVERY, done))
    try:
        # every lane runs to its end even when another fails, so that all their
        # successes are recorded below
        results = await asyncio.gather(*(lane(items) for items in lanes.values()),
                                       return_exceptions=True)
    finally:
        done.set()
        await recorder
        # what was delivered is recorded even when the pass is cut short (shutdown)
        await successes.record()
    for failed in results:
        if isinstance(failed, BaseException):
            raise failed
    return len(attempts)
