"""Scaling out (DESIGN §8): several `payoutd serve --role worker` processes share one
PostgreSQL database and never send a payout twice; on SQLite a second worker is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import base58
import pytest
from eth_utils.address import to_checksum_address

from payoutd.bootstrap import Runtime, build
from payoutd.chains.addressing import validate_address
from payoutd.services import payouts
from tests import support
from tests.e2e.test_crash import (
    Target,
    job_failures,
    make_merchants,
    spawn_worker,
    status_counts,
    stop,
    tail,
    verify_exactly_once,
    wait_ready,
)

pytestmark = pytest.mark.e2e

TOTAL_PAYOUTS = 1000
WORKERS = 3

# (currency, network, smallest and largest amount in units of 10**-decimals, decimals)
QUEUES: list[tuple[str, str, int, int, int]] = [
    ("BTC", "BTC", 10_000, 100_000, 8),
    ("LTC", "LTC", 1_000, 50_000, 5),
    ("DOGE", "DOGE", 10, 200, 0),
    ("ETH", "ETH", 1_000, 20_000, 6),
    ("USDT", "TRON", 100, 5_000, 2),
    ("TRX", "TRON", 5, 100, 0),
    ("USDT", "BSC", 100, 5_000, 2),
    ("USDT", "POLYGON", 100, 5_000, 2),
]
BASE58_VERSION = {"BTC": b"\x00", "LTC": b"\x30", "DOGE": b"\x1e", "TRON": b"\x41"}


def address(network: str, n: int) -> str:
    """A valid mainnet address of the network, distinct per n."""
    body = hashlib.sha256(f"{network}-{n}".encode()).digest()[:20]
    if network in BASE58_VERSION:
        found = base58.b58encode_check(BASE58_VERSION[network] + body).decode()
    else:
        found = to_checksum_address("0x" + body.hex())
    return validate_address(network, found)


ADDRESSES = {
    network: [address(network, n) for n in range(30)] for network in {q[1] for q in QUEUES}
}


@pytest.fixture
def pg_target(tmp_path: Path) -> Iterator[Target]:
    """A fresh migrated database of its own: skipped without PostgreSQL, failed in CI."""
    if not support.pg_available():
        if support.IN_CI:
            pytest.fail("PostgreSQL is required in CI (127.0.0.1:5432) but did not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = support.create_pg_database()
    try:
        yield Target("postgres", tmp_path / "data", support.pg_url(name))
    finally:
        support.drop_pg_database(name)


async def place_wave(
    rt: Runtime, rng: random.Random, merchant_ids: list[str], start: int, size: int
) -> None:
    quoted = []
    for i in range(start, start + size):
        currency, network, lo, hi, decimals = rng.choice(QUEUES)
        req = payouts.PayoutRequest(
            amount=Decimal(rng.randint(lo, hi)).scaleb(-decimals),
            currency=currency,
            network=network,
            address=rng.choice(ADDRESSES[network]),
            order_id=f"w-{i}",
        )
        quoted.append((rng.choice(merchant_ids), await payouts.quote(rt.ctx, {}, req)))
    # One transaction per payout, as the API does: a transaction holding funds of several
    # merchants at once could deadlock with a worker paying a batch of them.
    for merchant_id, q in quoted:
        async with rt.db.unit() as uow:
            assert (await payouts.place(uow, rt.ctx, merchant_id, q))[1]


def recorded_batches(log: Path) -> list[str]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "batch.recorded":
            found.append(entry["batch_id"])
    return found


@pytest.mark.slow
@pytest.mark.postgres
async def test_three_workers_pay_1000_payouts_none_twice(pg_target: Target, tmp_path: Path) -> None:
    seed = random.SystemRandom().randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    pg_target.data_dir.mkdir(parents=True)
    rt = build(
        support.test_settings(pg_target.data_dir, pg_target.url, min_payout_eur=0, db_pool_size=5)
    )
    logs = [tmp_path / f"worker-{i}.log" for i in range(WORKERS)]
    procs: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        merchant_ids = await make_merchants(rt, 4)
        procs = [spawn_worker(pg_target, log) for log in logs]
        for proc, log in zip(procs, logs, strict=True):
            await wait_ready(proc, pg_target, log)
        created = 0
        while created < TOTAL_PAYOUTS:  # in waves, while the workers are sending
            size = min(rng.randint(20, 80), TOTAL_PAYOUTS - created)
            await place_wave(rt, rng, merchant_ids, created, size)
            created += size
            await asyncio.sleep(rng.uniform(0.05, 0.4))

        deadline = time.monotonic() + 300
        while (counts := await status_counts(rt)).get("paid", 0) < TOTAL_PAYOUTS:
            stuck = {s: n for s, n in counts.items() if s in ("failed", "needs_review")}
            assert not stuck, f"payouts {stuck}"
            for proc, log in zip(procs, logs, strict=True):
                assert proc.poll() is None, f"a worker died:\n{tail(log)}"
            assert time.monotonic() < deadline, f"not all paid after 300 s: {dict(counts)}"
            await asyncio.sleep(0.25)
        for proc, log in zip(procs, logs, strict=True):
            assert stop(proc, signal.SIGTERM) == 0, tail(log)
        report = await verify_exactly_once(rt, TOTAL_PAYOUTS)
    finally:
        for proc in procs:
            stop(proc, signal.SIGKILL)
        await rt.close()

    per_worker = [recorded_batches(log) for log in logs]
    everywhere = Counter(b for found in per_worker for b in found)
    assert max(everywhere.values()) == 1
    assert len(everywhere) == report["batches"], "a batch no worker logged, or the reverse"
    busy = [len(found) for found in per_worker]
    print(
        f"batches recorded per worker: {busy}, {report}, "
        f"job failures logged: {dict(job_failures(logs))}, "
        f"{time.monotonic() - started:.0f} s, seed {seed}"
    )
    assert sum(1 for n in busy if n) >= 2, f"only one worker did any work: {busy}"


def test_a_second_sqlite_worker_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    support.copy_template(support.create_sqlite_template(tmp_path), data_dir)
    target = Target("sqlite", data_dir, None)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = spawn_worker(target, first_log)
    second: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(wait_ready(first, target, first_log))
        second = spawn_worker(target, second_log)
        try:
            code = second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the second worker kept running:\n{tail(second_log)}")
        message = tail(second_log)
        assert code != 0, message
        assert "SQLite" in message and "one worker" in message, message
        assert "PAYOUTD_DATABASE_URL" in message, message  # says what to do instead
        time.sleep(0.5)
        assert first.poll() is None, f"the first worker stopped:\n{tail(first_log)}"
        assert (data_dir / "worker.lock").read_text().strip() == str(first.pid)
        assert stop(first, signal.SIGTERM) == 0, tail(first_log)
    finally:
        stop(first)
        if second is not None:
            stop(second)
