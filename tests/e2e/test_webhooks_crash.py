"""Webhooks survive SIGKILL (DESIGN §1.5): a real `payoutd serve --role worker` process is
killed while deliveries are pending, and again in the middle of an HTTP request to the
receiver; after the restarts every event the merchant should hear about arrives,
verified with the `standardwebhooks` package. Delivery is at least once: duplicates are
counted (the request cut short by the kill is sent again), none may be missing.

1. The receiver is down (connection refused). Worker 1 runs; payouts are placed; their
   events are written, fanned out and attempted, and fail. Worker 1 is killed while
   payouts are still moving and deliveries pending; more payouts are placed meanwhile.
2. The receiver comes up, slow for its first requests. Worker 2 starts and is killed
   while a request is in flight (its whole pass stays leased for a minute).
3. Worker 3 finishes: every outbox event of the merchant arrives at its endpoint, and
   at the callback_url of payouts that named one.

Reproducible in its plan: the seed is printed; PAYOUTD_WEBHOOK_CRASH_SEED replays it."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from payoutd.bootstrap import Runtime, build
from payoutd.services import merchants, payouts, webhooks
from payoutd.store.tables import outbox, webhook_deliveries
from payoutd.store.tables import payouts as payouts_t
from tests import support
from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
PAYOUTD = ROOT / ".venv" / "bin" / "payoutd"

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

WORKER_ENV = {
    "PAYOUTD_WORKER_INTERVAL_SECONDS": "0.05",
    "PAYOUTD_SANDBOX_BLOCK_SECONDS": "0.1",
    "PAYOUTD_SANDBOX_BATCH_WINDOW_SECONDS": "0.2",
    "PAYOUTD_SANDBOX_CONFIRMATIONS": "2",
    "PAYOUTD_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "PAYOUTD_WEBHOOK_TIMEOUT_SECONDS": "5",
    "PAYOUTD_MIN_PAYOUT_EUR": "0",
    "PAYOUTD_DB_POOL_SIZE": "5",
    "PAYOUTD_LOG_JSON": "true",
    "PYTHONUNBUFFERED": "1",
}
ADDRESSES = {
    "BTC": [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    ],
    "LTC": ["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"],
}
LEASE_SECONDS = 60  # payoutd.services.webhooks.LEASE
FINISH_SECONDS = 180


@dataclass
class Target:
    kind: str
    data_dir: Path
    url: str | None  # None: SQLite in data_dir


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Target]:
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        support.copy_template(sqlite_template, data_dir)
        yield Target("sqlite", data_dir, None)
        return
    if not support.pg_available():
        if support.IN_CI:
            pytest.fail("PostgreSQL is required in CI (127.0.0.1:5432) but did not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = support.create_pg_database()  # fresh and migrated: the worker processes share it
    try:
        yield Target("postgres", data_dir, support.pg_url(name))
    finally:
        support.drop_pg_database(name)


def spawn(target: Target, log_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(WORKER_ENV)
    env["PAYOUTD_DATA_DIR"] = str(target.data_dir)
    if target.url:
        env["PAYOUTD_DATABASE_URL"] = target.url
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(PAYOUTD), "serve", "--role", "worker"],
            env=env,
            cwd=target.data_dir.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=20)


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


async def wait_for(
    what: str,
    check: Callable[[], Awaitable[bool]],
    seconds: float,
    proc: subprocess.Popen[bytes],
    log_path: Path,
) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert proc.poll() is None, f"worker exited ({proc.returncode}):\n{tail(log_path)}"
        assert time.monotonic() < deadline, f"{what}: not after {seconds} s\n{tail(log_path)}"
        await asyncio.sleep(0.02)


async def place(
    rt: Runtime,
    rng: random.Random,
    merchant_id: str,
    callback_url: str | None,
    start: int,
    count: int,
) -> None:
    for i in range(start, start + count):
        currency = rng.choice(sorted(ADDRESSES))
        amount = Decimal(rng.randint(10_000, 90_000)).scaleb(-8 if currency == "BTC" else -5)
        req = payouts.PayoutRequest(
            amount=amount,
            currency=currency,
            address=rng.choice(ADDRESSES[currency]),
            order_id=f"hook-{i}",
            callback_url=callback_url if i % 2 == 0 else None,
        )
        q = await payouts.quote(rt.ctx, {}, req)
        async with rt.db.unit() as uow:
            created = (await payouts.place(uow, rt.ctx, merchant_id, q)).created
            assert created


async def count(rt: Runtime, stmt: Any) -> int:
    async with rt.db.read() as uow:
        return int((await uow.conn.execute(stmt)).scalar_one())


async def test_sigkill_while_deliveries_are_pending_loses_no_event(
    target: Target, tmp_path: Path
) -> None:
    seed = int(
        os.environ.get("PAYOUTD_WEBHOOK_CRASH_SEED") or random.SystemRandom().randrange(2**32)
    )
    print(f"webhook crash test seed: {seed} (PAYOUTD_WEBHOOK_CRASH_SEED={seed}), db: {target.kind}")
    rng = random.Random(seed)
    logs = tmp_path / "logs"
    logs.mkdir()
    rt = build(
        support.test_settings(
            target.data_dir, target.url, db_pool_size=5, webhook_allow_private=True
        )
    )
    rx = Receiver()  # down: nothing listens on its port yet
    procs: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        async with rt.db.unit() as uow:
            m, _ = await merchants.create_merchant(uow, rt.ctx, "Hooked")
            bystander, _ = await merchants.create_merchant(uow, rt.ctx, "Bystander")
            for merchant in (m, bystander):
                await merchants.deposit(uow, rt.ctx, merchant.id, "BTC", Decimal(10))
                await merchants.deposit(uow, rt.ctx, merchant.id, "LTC", Decimal(1000))
            ep = await webhooks.create_endpoint(
                uow,
                rt.ctx,
                m.id,
                rx.url("/hooks"),
                event_types=None,
                services=None,
                description="crash test",
            )
            default_secret = await webhooks.merchant_secret(uow, rt.ctx, m.id)
        rx.trust("/hooks", rt.ctx.secrets.open(ep.secret))
        rx.trust("/cb", default_secret)
        callback = rx.url("/cb")

        async def attempted() -> bool:
            return (
                await count(
                    rt,
                    select(func.count())
                    .select_from(webhook_deliveries)
                    .where(webhook_deliveries.c.attempts > 0),
                )
                > 0
            )

        async def unpaid() -> int:
            return await count(
                rt, select(func.count()).select_from(payouts_t).where(payouts_t.c.status != "paid")
            )

        # 1. receiver down; worker 1 attempts, fails, and is killed mid-way
        log1 = logs / "worker-1.log"
        procs.append(w1 := spawn(target, log1))
        await place(rt, rng, m.id, callback, 0, 6)
        await place(rt, rng, bystander.id, None, 100, 2)
        await wait_for("a first failed attempt", attempted, 60, w1, log1)
        await place(rt, rng, m.id, callback, 6, 4)
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        kill(w1)
        async with rt.db.read() as uow:
            pending = (
                await uow.conn.execute(
                    select(func.count())
                    .select_from(webhook_deliveries)
                    .where(webhook_deliveries.c.status == "pending")
                )
            ).scalar_one()
            undispatched = (
                await uow.conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.dispatched_at.is_(None))
                )
            ).scalar_one()
        unpaid_at_kill = await unpaid()
        assert pending > 0, "the kill came when no delivery was pending"
        assert rx.requests == 0
        await place(rt, rng, m.id, callback, 10, 4)  # while no worker runs

        # 2. receiver up, slow at first; worker 2 is killed while a request is in flight
        rx.slow_seconds = 1.0
        rx.then("slow", "slow", "slow")
        rx.up()
        log2 = logs / "worker-2.log"
        procs.append(w2 := spawn(target, log2))

        async def in_flight() -> bool:
            return rx.in_flight > 0

        await wait_for("a request in flight", in_flight, 60, w2, log2)
        await asyncio.sleep(rng.uniform(0.05, 0.5))
        assert rx.in_flight > 0
        kill(w2)
        cut_short = rx.requests

        # 3. worker 3 finishes everything
        log3 = logs / "worker-3.log"
        procs.append(w3 := spawn(target, log3))
        await place(rt, rng, m.id, callback, 14, 2)

        async def expected() -> set[tuple[str, str]]:
            async with rt.db.read() as uow:
                rows = await uow.conn.execute(
                    select(outbox.c.id, outbox.c.payload).where(outbox.c.merchant_id == m.id)
                )
                want = set()
                for event_id, payload in rows:
                    want.add(("/hooks", event_id))
                    if (payload.get("payout") or {}).get("callback_url"):
                        want.add(("/cb", event_id))
                return want

        async def finished() -> bool:
            if await unpaid():
                return False
            if await count(
                rt, select(func.count()).select_from(outbox).where(outbox.c.dispatched_at.is_(None))
            ):
                return False
            if await count(
                rt,
                select(func.count())
                .select_from(webhook_deliveries)
                .where(
                    webhook_deliveries.c.merchant_id == m.id,
                    webhook_deliveries.c.status != "delivered",
                ),
            ):
                return False
            got = {(a.path, a.webhook_id) for a in rx.delivered()}
            return (await expected()) <= got

        await wait_for("every event delivered", finished, FINISH_SECONDS, w3, log3)
        kill(w3)

        want = await expected()
        got = Counter((a.path, a.webhook_id) for a in rx.delivered())
        missing = want - set(got)
        assert not missing, f"{len(missing)} events never arrived: {sorted(missing)[:5]}"
        assert set(got) == want, f"unexpected arrivals: {sorted(set(got) - want)[:5]}"
        assert rx.unverified == []
        assert all(a.verified_by for a in rx.arrivals)
        # nothing of the other merchant's arrived here
        assert {a.payout_id for a in rx.delivered()} <= await payout_ids(rt, m.id)
        async with rt.db.read() as uow:
            statuses = Counter(
                r[0]
                for r in await uow.conn.execute(
                    select(webhook_deliveries.c.status).where(
                        webhook_deliveries.c.merchant_id == m.id
                    )
                )
            )
        assert statuses == {"delivered": len(want)}, statuses
        duplicates = sum(n - 1 for n in got.values())
        # the request worker 2 died in was answered to no one; it went again after its lease
        assert duplicates >= 1
        events = len({event_id for _, event_id in want})
        print(
            f"{target.kind}: {len(want)} deliveries of {events} events, "
            f"{duplicates} duplicates; at the first kill {pending} deliveries pending, "
            f"{undispatched} events not yet fanned out, {unpaid_at_kill} payouts unpaid; "
            f"{cut_short} requests received by the second kill; "
            f"{time.monotonic() - started:.0f} s, seed {seed}"
        )
    finally:
        for proc in procs:
            kill(proc)
        rx.close()
        await rt.close()


async def payout_ids(rt: Runtime, merchant_id: str) -> set[str | None]:
    async with rt.db.read() as uow:
        return {
            r[0]
            for r in await uow.conn.execute(
                select(payouts_t.c.id).where(payouts_t.c.merchant_id == merchant_id)
            )
        }
