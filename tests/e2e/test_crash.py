"""Crash test (DESIGN §1.3): a real `payoutd serve --role worker` process is killed with
SIGKILL at random moments, over and over, while payouts keep arriving; each time a new
worker takes over. At the end every payout is paid exactly once on the (sandbox) chain.

What a crash may interrupt: gathering a batch, the commit that records its transaction,
the broadcast right after it, the commit that marks it broadcast, following it to its
confirmations, the miner. After every kill the test looks at the database (no worker is
alive then) and counts the batches a crash left recorded but not yet marked broadcast:
the dangerous window, where a careless engine would rebuild the transaction.

The run is reproducible in its plan (seeded): the seed is printed, and
PAYOUTD_CRASH_SEED=<seed> replays it. PAYOUTD_CRASH_KILLS overrides the number of kills.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from payoutd.bootstrap import Runtime, build
from payoutd.domain.payout import FINAL
from payoutd.services import merchants, payouts
from payoutd.store.tables import batches, holds, outbox, sandbox_transactions
from payoutd.store.tables import payouts as payouts_t
from tests import support

ROOT = Path(__file__).resolve().parents[2]
PAYOUTD = ROOT / ".venv" / "bin" / "payoutd"

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

MIN_KILLS = int(os.environ.get("PAYOUTD_CRASH_KILLS", "55"))
TOTAL_PAYOUTS = 600
MAX_PHASE_SECONDS = 600  # a hang guard: the kill phase fails after this long

# Real mainnet addresses (tests/unit/chains/test_addressing.py); few of them, so one
# address gets several payouts in a batch and its outputs are merged.
EVM = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
    "0xdAC17F958D2ee523a2206206994597C13D831ec7",
]
ADDRESSES: dict[str, list[str]] = {
    "BTC": [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        "3CMNFxN1oHBc4R1EpboAL5yzHGgE611Xou",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    ],
    "LTC": [
        "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA",
        "MHrYRxAiMNBTku3eoDHwhA1LQGDjUStZW2",
        "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9",
        "ltc1qj08ys4ct2hzzc2hcz6h2hgrvlmsjynawmt3sjh",
    ],
    "DOGE": [
        "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE",
        "A7HRQk3GFCW2QasvdZxXuYj8kkQK5QrYLs",
        "9zYnVRaekPtdKBYuPw5QiBtv3NNrzD2LLW",
    ],
    "ETH": EVM[:6],
    "BSC": EVM[3:],
    "POLYGON": EVM[::2],
    "TRON": ["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"],
    "SOL": [
        "So11111111111111111111111111111111111111112",
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
    ],
    "TON": [
        "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N",
        "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHF",
    ],
}

# (currency, network, smallest and largest amount in units of 10**-decimals, decimals)
QUEUES: list[tuple[str, str, int, int, int]] = [
    ("BTC", "BTC", 10_000, 100_000, 8),
    ("LTC", "LTC", 1_000, 50_000, 5),
    ("DOGE", "DOGE", 10, 200, 0),
    ("ETH", "ETH", 1_000, 20_000, 6),
    ("USDT", "ETH", 100, 5_000, 2),
    ("USDT", "TRON", 100, 5_000, 2),
    ("USDT", "BSC", 100, 5_000, 2),
    ("USDT", "POLYGON", 100, 5_000, 2),
    ("TRX", "TRON", 5, 100, 0),
    ("SOL", "SOL", 10, 500, 3),
    ("TON", "TON", 5, 50, 1),
]
DEPOSITS = {
    "BTC": "100",
    "LTC": "10000",
    "DOGE": "10000000",
    "ETH": "1000",
    "USDT": "10000000",
    "TRX": "10000000",
    "SOL": "100000",
    "TON": "1000000",
}

# The worker is tuned fast so many batches happen in little time.
WORKER_ENV = {
    "PAYOUTD_WORKER_INTERVAL_SECONDS": "0.05",
    "PAYOUTD_SANDBOX_BLOCK_SECONDS": "0.1",
    "PAYOUTD_SANDBOX_BATCH_WINDOW_SECONDS": "0.2",
    "PAYOUTD_SANDBOX_CONFIRMATIONS": "2",
    # a node's answer takes a few ms; the sandbox's, a local write, well under one, and
    # the kills would seldom land between recording a batch and marking it broadcast
    "PAYOUTD_SANDBOX_BROADCAST_SECONDS": "0.02",
    "PAYOUTD_BATCH_MAX_OUTPUTS": "7",
    "PAYOUTD_DB_POOL_SIZE": "5",
    "PAYOUTD_LOG_JSON": "true",
    "PYTHONUNBUFFERED": "1",
}


# --- the database under test --------------------------------------------------------


@dataclass
class Target:
    kind: str
    data_dir: Path
    url: str | None  # None: SQLite in data_dir


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        support.copy_template(support.create_sqlite_template(tmp_path), data_dir)
        yield Target("sqlite", data_dir, None)
        return
    if not support.pg_available():
        if support.IN_CI:
            pytest.fail("PostgreSQL is required in CI (127.0.0.1:5432) but did not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = support.create_pg_database()  # fresh and migrated: this test owns it
    try:
        yield Target("postgres", data_dir, support.pg_url(name))
    finally:
        support.drop_pg_database(name)


# --- worker processes --------------------------------------------------------------


def worker_env(target: Target) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(WORKER_ENV)
    env["PAYOUTD_DATA_DIR"] = str(target.data_dir)
    if target.url:
        env["PAYOUTD_DATABASE_URL"] = target.url
    return env


def spawn_worker(target: Target, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(PAYOUTD), "serve", "--role", "worker"],
            env=worker_env(target),
            cwd=target.data_dir.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _pg_connected(pid: int, port: int) -> bool:
    """Whether the process holds an established TCP connection to PostgreSQL."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                cols = line.split()
                if cols[2].endswith(f":{port:04X}") and cols[3] == "01" and cols[9] in inodes:
                    return True
    except OSError:
        return False
    return False


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def _ready(proc: subprocess.Popen[bytes], target: Target) -> bool:
    """Whether the worker is past its imports and migrations, about to run its loops: on
    SQLite it has written its pid into the worker lock; on PostgreSQL it is connected
    (the migration check, the last step before the loops start)."""
    if target.url is None:
        try:
            return (target.data_dir / "worker.lock").read_text().strip() == str(proc.pid)
        except FileNotFoundError:
            return False
    if not Path("/proc").is_dir():  # no /proc to look into: the usual start-up time
        return time.monotonic() - READY_FALLBACK.setdefault(proc.pid, time.monotonic()) > 1.5
    return _pg_connected(proc.pid, make_url(support.PG_ADMIN_URL).port or 5432)


READY_FALLBACK: dict[int, float] = {}


async def wait_ready(proc: subprocess.Popen[bytes], target: Target, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"worker exited by itself with {proc.returncode}:\n{tail(log_path)}")
        if _ready(proc, target):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"worker not ready after 60 s:\n{tail(log_path)}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> int:
    """Signal and reap (never leave a zombie behind)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


# --- the merchant side: payouts arriving over time ------------------------------------


async def make_merchants(rt: Runtime, count: int) -> list[str]:
    ids = []
    async with rt.db.unit() as uow:
        for i in range(count):
            m, _ = await merchants.create_merchant(uow, rt.ctx, f"Crash {i}")
            for currency, amount in DEPOSITS.items():
                await merchants.deposit(uow, rt.ctx, m.id, currency, Decimal(amount))
            ids.append(m.id)
    return ids


async def place_wave(
    rt: Runtime, rng: random.Random, merchant_ids: list[str], start: int, size: int
) -> None:
    quoted = []
    for i in range(start, start + size):
        currency, network, lo, hi, decimals = rng.choice(QUEUES)
        amount = Decimal(rng.randint(lo, hi)).scaleb(-decimals)
        req = payouts.PayoutRequest(
            amount=amount,
            currency=currency,
            network=network,
            address=rng.choice(ADDRESSES[network]),
            order_id=f"crash-{i}",
        )
        quoted.append((rng.choice(merchant_ids), await payouts.quote(rt.ctx, {}, req)))
    # One transaction per payout, as the API does: a transaction holding funds of several
    # merchants at once could deadlock with a worker paying a batch of them.
    for merchant_id, q in quoted:
        async with rt.db.unit() as uow:
            created = (await payouts.place(uow, rt.ctx, merchant_id, q)).created
            assert created


# --- what the database says -----------------------------------------------------------


async def status_counts(rt: Runtime) -> Counter[str]:
    async with rt.db.read() as uow:
        rows = await uow.conn.execute(
            select(payouts_t.c.status, func.count()).group_by(payouts_t.c.status)
        )
        return Counter({status: n for status, n in rows})


@dataclass
class Window:
    """What one kill left behind, seen while no worker runs."""

    recorded_unsent: set[str] = field(default_factory=set)  # prepared, not on chain
    sent_unmarked: set[str] = field(default_factory=set)  # prepared, already on chain
    txids: dict[str, str] = field(default_factory=dict)  # batch id -> recorded txid


async def window(rt: Runtime) -> Window:
    w = Window()
    async with rt.db.read() as uow:
        on_chain = {r[0] for r in await uow.conn.execute(select(sandbox_transactions.c.txid))}
        for batch_id, txid in await uow.conn.execute(
            select(batches.c.id, batches.c.txid).where(batches.c.status == "prepared")
        ):
            (w.sent_unmarked if txid in on_chain else w.recorded_unsent).add(batch_id)
            w.txids[batch_id] = txid
    return w


def _key(address: str, memo: str | None, amount: Any) -> tuple[str, str | None, Decimal]:
    return (address, memo or None, Decimal(str(amount)).normalize())


async def verify_exactly_once(rt: Runtime, expected_payouts: int) -> dict[str, int]:
    """Every payout paid once: payouts, batches and the chain agree in every direction,
    and the ledger is clean. Returns a few counts for the report."""
    async with rt.db.read() as uow:
        pays = [r._mapping for r in await uow.conn.execute(select(payouts_t))]
        bats = {r._mapping["id"]: r._mapping for r in await uow.conn.execute(select(batches))}
        txs = {
            r._mapping["txid"]: r._mapping
            for r in await uow.conn.execute(select(sandbox_transactions))
        }
        pending_holds = (
            await uow.conn.execute(
                select(func.count()).select_from(holds).where(holds.c.status == "pending")
            )
        ).scalar_one()
        ledger = (await uow.ledger.check()).as_dict()
        events = [
            r._mapping
            for r in await uow.conn.execute(
                select(outbox.c.type, outbox.c.subject_id, outbox.c.payload).where(
                    outbox.c.type.in_(["payout.status_changed", "payout.paid", "batch.broadcast"])
                )
            )
        ]

    assert len(pays) == expected_payouts
    statuses = Counter(p["status"] for p in pays)
    assert statuses == {"paid": expected_payouts}, f"not all paid: {dict(statuses)}"
    assert not [b for b in bats.values() if b["status"] != "confirmed"], (
        f"batches not confirmed: {Counter(b['status'] for b in bats.values())}"
    )
    assert pending_holds == 0, f"{pending_holds} holds still pending"
    assert ledger["ok"], ledger["problems"][:20]

    # Payout -> batch -> mined transaction with an output to its address.
    members: dict[str, list[Any]] = defaultdict(list)
    for p in pays:
        assert p["batch_id"] in bats, f"payout {p['id']} has no batch"
        batch = bats[p["batch_id"]]
        assert p["txid"] == batch["txid"], f"payout {p['id']} txid differs from its batch's"
        tx = txs.get(p["txid"])
        assert tx is not None, f"payout {p['id']} paid by {p['txid']}, not on chain"
        assert tx["status"] == "mined", f"transaction {p['txid']} is {tx['status']}"
        assert any(o["address"] == p["address"] for o in tx["outputs"]), (
            f"transaction {p['txid']} has no output to {p['address']} (payout {p['id']})"
        )
        assert (batch["network"], batch["currency"]) == (p["network"], p["payout_currency"])
        members[p["batch_id"]].append(p)

    # Batch <-> transaction, one to one; each transaction's outputs are exactly its
    # batch's payouts merged by address. A transaction rebuilt after a crash would show
    # here as a second transaction (another txid) carrying payouts already paid.
    by_txid = Counter(b["txid"] for b in bats.values())
    assert max(by_txid.values()) == 1, "two batches share a txid"
    orphans = set(txs) - set(by_txid)
    assert not orphans, (
        f"{len(orphans)} transactions on chain belong to no batch: {sorted(orphans)[:5]}"
    )
    for batch_id, batch in bats.items():
        mine = members.get(batch_id, [])
        assert len(mine) == batch["payout_count"] and mine, f"batch {batch_id} payouts"
        tx = txs[batch["txid"]]
        assert (tx["network"], tx["currency"]) == (batch["network"], batch["currency"])
        merged: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
        for p in mine:
            merged[(p["address"], p["memo"] or None)] += p["final_amount"]
        want = Counter(_key(a, m, v) for (a, m), v in merged.items())
        got = Counter(_key(o["address"], o.get("memo"), o["amount"]) for o in tx["outputs"])
        assert got == want, f"batch {batch_id}: outputs {got} != payouts {want}"

    # For every address: what the chain paid it equals what its payouts say.
    chain_sum: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for tx in txs.values():
        assert tx["status"] == "mined"
        for o in tx["outputs"]:
            chain_sum[(tx["network"], tx["currency"], o["address"])] += Decimal(o["amount"])
    paid_sum: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for p in pays:
        paid_sum[(p["network"], p["payout_currency"], p["address"])] += p["final_amount"]
    assert dict(chain_sum) == dict(paid_sum)

    # The merchant heard of each step once: one `sending`, one `paid` per payout and one
    # broadcast per batch (events are written in the transaction of the change).
    sending = Counter(
        e["subject_id"]
        for e in events
        if e["type"] == "payout.status_changed" and e["payload"]["new_status"] == "sending"
    )
    paid = Counter(e["subject_id"] for e in events if e["type"] == "payout.paid")
    broadcast = Counter(e["subject_id"] for e in events if e["type"] == "batch.broadcast")
    ids = {p["id"] for p in pays}
    assert set(sending) == ids and set(sending.values()) == {1}, "sending events"
    assert set(paid) == ids and set(paid.values()) == {1}, "paid events"
    assert set(broadcast) == set(bats) and set(broadcast.values()) == {1}, "broadcast events"
    merged_outputs = sum(len(m) for m in members.values()) - sum(
        len(tx["outputs"]) for tx in txs.values()
    )
    return {
        "batches": len(bats),
        "transactions": len(txs),
        "addresses": len(paid_sum),
        "merged_outputs": merged_outputs,
    }


ERROR_LINE = re.compile(r"^[\w.]*(?:Error|Exception|Exit)\b.*$", re.MULTILINE)


def job_failures(paths: list[Path]) -> Counter[str]:
    """The worker's failed passes (logged, then retried on the next pass), by job and the
    last line of their exception."""
    found: Counter[str] = Counter()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by SIGKILL, or a non-JSON line
            if entry.get("event") == "worker.job_failed":
                errors = [m.group(0) for m in ERROR_LINE.finditer(str(entry.get("exception")))]
                found[f"{entry.get('job')}: {(errors or ['?'])[-1][:160]}"] += 1
    return found


# --- the test -----------------------------------------------------------------------


async def test_sigkill_worker_many_times_every_payout_paid_exactly_once(
    target: Target, tmp_path: Path
) -> None:
    seed = int(os.environ.get("PAYOUTD_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"crash test seed: {seed} (replay: PAYOUTD_CRASH_SEED={seed}), db: {target.kind}")
    kill_rng, work_rng = random.Random(seed), random.Random(seed + 1)
    logs = tmp_path / "logs"
    logs.mkdir()

    rt = build(support.test_settings(target.data_dir, target.url, min_payout_eur=0, db_pool_size=5))
    proc: subprocess.Popen[bytes] | None = None
    kills = 0
    windows: list[Window] = []
    started = time.monotonic()
    try:
        merchant_ids = await make_merchants(rt, 3)
        created = 0

        async def create() -> None:
            nonlocal created
            while created < TOTAL_PAYOUTS:
                # Spread over the whole kill phase, so every worker finds work waiting.
                if created >= TOTAL_PAYOUTS * (kills + 1) / MIN_KILLS:
                    await asyncio.sleep(0.05)
                    continue
                size = min(work_rng.randint(1, 10), TOTAL_PAYOUTS - created)
                await place_wave(rt, work_rng, merchant_ids, created, size)
                created += size
                await asyncio.sleep(work_rng.uniform(0.05, 0.5))

        creator = asyncio.create_task(create())
        try:
            while kills < MIN_KILLS or not creator.done():
                assert time.monotonic() - started < MAX_PHASE_SECONDS, (
                    f"kill phase too slow: {kills} kills, {created} payouts (seed {seed})"
                )
                log_path = logs / f"worker-{kills:03d}.log"
                proc = spawn_worker(target, log_path)
                if kill_rng.random() < 0.1:
                    # now and then anywhere in the process's life, start-up included
                    await asyncio.sleep(kill_rng.uniform(0.0, 2.0))
                else:
                    await wait_ready(proc, target, log_path)
                    await asyncio.sleep(kill_rng.uniform(0.05, 1.0))
                assert proc.poll() is None, (
                    f"worker died by itself ({proc.returncode}):\n{tail(log_path)}"
                )
                stop(proc, signal.SIGKILL)
                proc = None
                kills += 1
                windows.append(await window(rt))
                if creator.done():
                    creator.result()  # raise what went wrong there
        finally:
            if not creator.done():
                creator.cancel()
            # before the runtime closes under it
            await asyncio.gather(creator, return_exceptions=True)
        creator.result()
        assert created == TOTAL_PAYOUTS

        # A last worker, left alone, finishes everything.
        final_log = logs / "worker-final.log"
        proc = spawn_worker(target, final_log)
        await wait_ready(proc, target, final_log)  # so it has its SIGTERM handler
        deadline = time.monotonic() + 90
        while True:
            counts = await status_counts(rt)
            if sum(n for s, n in counts.items() if s in {f.value for f in FINAL}) == TOTAL_PAYOUTS:
                break
            assert proc.poll() is None, tail(final_log)
            assert time.monotonic() < deadline, (
                f"not final after 90 s: {dict(counts)} (seed {seed})\n{tail(final_log)}"
            )
            await asyncio.sleep(0.25)
        assert stop(proc, signal.SIGTERM) == 0, tail(final_log)
        proc = None

        report = await verify_exactly_once(rt, TOTAL_PAYOUTS)
        # Every batch a crash caught between recording and marking broadcast went out
        # with the transaction recorded before the crash, never a rebuilt one.
        recorded_txids = {b: t for w in windows for b, t in w.txids.items()}
        async with rt.db.read() as uow:
            final_txids = {
                r[0]: r[1]
                for r in await uow.conn.execute(
                    select(batches.c.id, batches.c.txid).where(batches.c.id.in_(recorded_txids))
                )
            }
        assert final_txids == recorded_txids, "a batch's transaction changed after a crash"
    finally:
        if proc is not None:
            stop(proc, signal.SIGKILL)
        await rt.close()

    # How often the crashes hit the dangerous window: batches recorded (their transaction
    # fixed) but not yet marked broadcast when the worker died.
    recorded_unsent = set().union(*(w.recorded_unsent for w in windows))
    sent_unmarked = set().union(*(w.sent_unmarked for w in windows))
    failures = job_failures(sorted(logs.glob("worker-*.log")))
    elapsed = time.monotonic() - started
    print(
        f"{target.kind}: {kills} kills, {TOTAL_PAYOUTS} payouts, {report}, "
        f"kills leaving a batch recorded but unsent: "
        f"{sum(1 for w in windows if w.recorded_unsent)} ({len(recorded_unsent)} batches), "
        f"sent but unmarked: {sum(1 for w in windows if w.sent_unmarked)} "
        f"({len(sent_unmarked)} batches), job failures logged: {dict(failures)}, "
        f"{elapsed:.0f} s, seed {seed}"
    )
    assert kills >= MIN_KILLS
    hits = sum(1 for w in windows if w.recorded_unsent or w.sent_unmarked)
    assert hits >= 1, f"no kill landed between recording and marking a batch (seed {seed})"
    assert report["batches"] >= 50, report
    assert report["merged_outputs"] > 0, "no address ever got merged outputs"
