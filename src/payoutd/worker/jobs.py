"""Worker jobs. Each job owns its database transactions; chain calls happen between
them, never inside one (a broadcast must only ever follow a committed record)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

import structlog

from payoutd.domain.banking import ChainDeposit
from payoutd.domain.payout import Status
from payoutd.domain.webhooks import AttemptResult, Delivery, Prepared
from payoutd.services import execution, funding, payouts, ramps, webhooks
from payoutd.services.context import Context
from payoutd.services.ports import ChainUnavailable, Deposits, Rejected
from payoutd.store.db import Database
from payoutd.store.uow import UnitOfWork
from payoutd.webhooks import signing
from payoutd.webhooks.delivery import WebhookSender

log = structlog.get_logger("payoutd.worker")


async def _any(
    db: Database,
    status: Status,
    *,
    due_before: datetime | None = None,
    expires_before: datetime | None = None,
) -> bool:
    """Whether a payout waits in `status`, due or expired before the time given: most
    passes find none, and a look needs no write transaction (on SQLite, no
    turn of the write lock, which intake and the other jobs are waiting for)."""
    async with db.read() as uow:
        return bool(
            await uow.payouts.in_status(
                status, due_before=due_before, expires_before=expires_before, limit=1
            )
        )


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
            async with db.read() as uow:
                cut_short = await uow.payouts.any_reserved(network)
            if cut_short:
                # payouts a batch took before a crash cut it short, before its record
                async with db.unit() as uow:
                    await execution.release_batch(uow, network)
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
                    batch_id = await open_batch(db, ctx, network, currency)
                except execution.WalletShortfall as short:
                    log.warning(
                        "wallet.shortfall", network=network, currency=currency, reason=short.reason
                    )
                    if ctx.metrics is not None:
                        ctx.metrics.wallet_shortfall(network, currency)
                    break
                except ChainUnavailable as exc:
                    # The node is down or would not build the batch: nothing was
                    # recorded, the payouts wait, and the other queues still go.
                    log.warning(
                        "batch.chain_unavailable",
                        network=network,
                        currency=currency,
                        reason=str(exc),
                    )
                    break
                if batch_id is None:
                    break
                log.info("batch.recorded", batch_id=batch_id, network=network, currency=currency)
                opened.append(batch_id)
                await broadcast_recorded(db, ctx, only=batch_id)
    return opened


async def open_batch(db: Database, ctx: Context, network: str, currency: str) -> str | None:
    """Gather a queue into one batch and record its transaction (committed when this
    returns; only then may it be broadcast). The caller holds the hot wallet's lock.

    No node call runs inside a write transaction: the batch takes its payouts in one
    short transaction (from then on they cannot be cancelled), the chain prices and
    prepares the transaction, and a second short transaction records it. When anything
    fails in between, the prepared transaction is released (it was never sent) and the
    payouts go back to their queue."""
    async with db.unit() as uow:
        batch = await execution.reserve_batch(uow, ctx, network, currency)
    if batch is None:
        return None
    try:
        await execution.price_batch(ctx, batch)
        async with db.unit() as uow:
            return await execution.record_batch(uow, ctx, batch)
    except Exception:
        if batch.tx is not None:
            await ctx.chain(network).release(batch.tx)
        async with db.unit() as uow:
            await execution.release_batch(uow, network, batch.id)
        raise


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


async def ramp_pass(db: Database, ctx: Context) -> None:
    """Ramp payouts move on: funded on-ramps place their stablecoin payout, processing
    ones follow it, and the sandbox bank settles the payments whose delay has passed.
    Each step is a transaction of its own (a failing one leaves the others' work)."""
    async with db.unit() as uow:
        await ramps.start_on_ramps(uow, ctx)
    async with db.unit() as uow:
        await ramps.follow_on_ramps(uow, ctx)
    async with db.unit() as uow:
        await ramps.sandbox_settle(uow, ctx)


async def tick(db: Database, ctx: Context) -> None:
    """One pass of every job, in the order a payout moves through them. The worker runs
    `send_pass`, `follow_broadcast` and `ramp_pass` as loops of their own, so a long
    queue being sent never holds back the batches already on chain."""
    await ramp_pass(db, ctx)
    await send_pass(db, ctx)
    await follow_broadcast(db, ctx)
    await ramp_pass(db, ctx)


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

    async def record(
        self, then: Callable[[UnitOfWork], Awaitable[str]] | None = None
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


async def attempt(sender: WebhookSender, d: Delivery, prepared: Prepared) -> AttemptResult:
    """One attempt; whatever goes wrong in it is its failure (recorded, retried, counted
    toward disabling the endpoint), never the job's."""
    started = time.monotonic()
    try:
        # signed now, with the real time: a lane's last delivery may go out long after
        # the pass began, and receivers refuse timestamps over 5 min old
        secrets_in_use, body, headers = prepared
        if headers is None:
            headers = signing.headers(secrets_in_use, d.event_id, datetime.now(UTC), body)
        return await sender.send(d.url, headers, body)
    except Exception as exc:
        log.warning("webhook.attempt_raised", delivery_id=d.id, error=repr(exc))
        return AttemptResult(
            None,
            int((time.monotonic() - started) * 1000),
            error=f"{type(exc).__name__}: {exc}"[:500],
        )


MAX_QUEUED = 100  # a lane holding this many waits for them before it takes more


class Deliveries:
    """The worker's webhook deliveries. Each endpoint (a payout's callback_url: each
    URL) has a lane that sends its deliveries one after another, in the order they were
    claimed; lanes run on their own, so a receiver that is slow or hangs holds back its
    own lane only, and at most `webhook_concurrency` attempts are in flight at once.

    `poll` claims what is due and hands it to the lanes without waiting for any attempt.
    A claimed delivery is leased (webhooks.LEASE); the lease of everything a lane still
    holds is renewed every third of it, so a long queue behind a slow receiver is never
    taken by a second worker. Successes are recorded in groups (`_Successes`); a crash
    before their record only sends them again (delivery is at least once; receivers
    dedupe on webhook-id). A failure is recorded at once, after the successes before it,
    since it decides whether the endpoint's lane goes on."""

    def __init__(self, db: Database, ctx: Context, sender: WebhookSender) -> None:
        self.db = db
        self.ctx = ctx
        self.sender = sender
        self.lease = webhooks.LEASE
        self.gate = asyncio.Semaphore(ctx.settings.webhook_concurrency)
        self.successes = _Successes(db, ctx)
        self.queues: dict[str, deque[tuple[Delivery, Prepared]]] = {}
        self.lanes: dict[str, asyncio.Task[None]] = {}
        self.held: dict[str, datetime] = {}  # delivery id: the end of the lease it holds
        self.first_failure: Exception | None = None  # of a lane, for `drain` to raise
        self._done = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []

    async def poll(self, limit: int = 200) -> int:
        """Claim the due deliveries and start them. Returns how many were claimed."""
        now = self.ctx.clock.now()
        until = now + self.lease
        full = [key for key, queue in self.queues.items() if len(queue) >= MAX_QUEUED]
        async with self.db.unit() as uow:
            attempts = await webhooks.claim_due(uow, self.ctx, now, until, limit, skip_lanes=full)
        for d, prepared in attempts:
            if prepared is None:
                continue
            self.held[d.id] = until
            key = lane_key(d)
            self.queues.setdefault(key, deque()).append((d, prepared))
            if key not in self.lanes:
                self.lanes[key] = asyncio.create_task(self._lane(key))
        if self.lanes and not self._background:
            self._background = [
                asyncio.create_task(self.successes.record_every(RECORD_EVERY, self._done)),
                asyncio.create_task(self._renew_every(self._done)),
            ]
        return len(attempts)

    async def _lane(self, key: str) -> None:
        queue = self.queues[key]
        try:
            while queue:
                d, prepared = queue[0]
                async with self.gate:
                    result = await attempt(self.sender, d, prepared)
                if result.ok:
                    self.successes.waiting.append((d, result, self.ctx.clock.now()))
                    status = "delivered"
                else:

                    async def failure(
                        uow: UnitOfWork, d: Delivery = d, result: AttemptResult = result
                    ) -> str:
                        return await webhooks.record(uow, self.ctx, d, result)

                    status = await self.successes.record(failure) or "pending"
                queue.popleft()
                self.held.pop(d.id, None)
                log.info(
                    "webhook.attempt",
                    delivery_id=d.id,
                    event_type=d.event_type,
                    status_code=result.status_code,
                    outcome=status,
                )
                if status == "cancelled":
                    break  # the endpoint was just disabled; the rest of its lane went with it
        except Exception as exc:
            # what it still holds is tried again once its lease runs out
            log.exception("webhook.lane_failed", lane=key)
            self.first_failure = self.first_failure or exc
        finally:
            for d, _ in queue:
                self.held.pop(d.id, None)
            del self.queues[key], self.lanes[key]

    async def _renew_every(self, done: asyncio.Event) -> None:
        """Until `done` is set. Never cancelled, as `_Successes.record_every`."""
        every = self.lease.total_seconds() / 3
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), every)
            if done.is_set():
                return
            if not self.held:
                continue
            held = dict(self.held)
            until = self.ctx.clock.now() + self.lease
            try:
                async with self.db.unit() as uow:
                    renewed = await webhooks.renew_leases(uow, held, until)
            except Exception:
                log.exception("webhook.lease_renewal_failed")  # the next try may do it
                continue
            for delivery_id in renewed:
                if delivery_id in self.held:
                    self.held[delivery_id] = until

    async def drain(self) -> None:
        """Wait for every lane to run to its end; raises what the first lane that failed
        raised (the others still ran to their end)."""
        while self.lanes:
            await asyncio.wait(list(self.lanes.values()))
        if self.first_failure is not None:
            raise self.first_failure

    async def close(self) -> None:
        """Stop: lanes still sending are cut short (what they hold is retried once its
        lease runs out); what was delivered is recorded."""
        lanes = list(self.lanes.values())
        for task in lanes:
            task.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        self._done.set()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        self._done = asyncio.Event()
        await self.successes.record()


def lane_key(d: Delivery) -> str:
    return d.endpoint_id or d.url


async def deliver_webhooks(
    db: Database, ctx: Context, sender: WebhookSender, limit: int = 200
) -> int:
    """One pass: attempt every due delivery and wait for the attempts. Returns how many
    were claimed. (The worker runs `Deliveries` instead, which does not wait.)"""
    deliveries = Deliveries(db, ctx, sender)
    try:
        claimed = await deliveries.poll(limit)
        await deliveries.drain()
    finally:
        # what was delivered is recorded even when the pass is cut short (shutdown)
        await deliveries.close()
    return claimed


# block ranges asked per network and pass: catching up after downtime goes on over the
# next passes instead of holding up the other networks
MAX_DEPOSIT_PAGES = 10


async def watch_funding(
    db: Database,
    ctx: Context,
    wallets: Mapping[str, Sequence[str]],
    on_deposit: funding.OnDeposit,
) -> list[ChainDeposit]:
    """One pass of the off-ramp funding watch (payoutd.services.funding) over `wallets`,
    network to funding wallet addresses: each network's adapter is asked for confirmed
    transfers since its cursor, outside any transaction, and each answer is recorded and
    handed on in a transaction of its own. Returns the deposits handed on."""
    handed: list[ChainDeposit] = []
    for network, addresses in wallets.items():
        chain = ctx.chains.get(network)
        if not addresses or chain is None:
            continue
        if not isinstance(chain, Deposits):
            log.warning("funding.not_watched", network=network, adapter=type(chain).__name__)
            continue
        watched = funding.watched(chain, addresses)
        currencies = funding.currencies(network)
        async with db.read() as uow:
            start = await funding.cursor(uow, network)
        for _ in range(MAX_DEPOSIT_PAGES):
            try:
                found, next_block = await chain.deposits(watched, currencies, start)
            except ChainUnavailable as exc:
                log.warning("funding.chain_unavailable", network=network, reason=str(exc))
                break
            if not found and next_block == start:
                break  # nothing newly confirmed
            async with db.unit() as uow:
                handed += await funding.record(uow, ctx, network, found, next_block, on_deposit)
            start = next_block
    return handed
