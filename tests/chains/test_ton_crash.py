"""Crash test on TON: a real `payoutd serve --role worker` process, paying from a hot
wallet on the TON emulator, is killed with SIGKILL at random moments, over and over, and
restarted. At the end every payout is paid exactly once: read back at the recipients
(each payout's own comment arrives once, with its amount), the hot wallet's seqnos used
once each, the ledger clean. The plan is seeded (PAYOUTD_CRASH_SEED replays it)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from payoutd.bootstrap import build
from payoutd.services import merchants, payouts
from payoutd.store.tables import batches
from payoutd.store.tables import payouts as payouts_t
from tests import support
from tests.chains import tonsandbox
from tests.chains.test_ton import seqno_of, wallet_transactions
from tests.chains.tonsandbox import friendly, new_address_raw

ROOT = Path(__file__).resolve().parents[2]
PAYOUTD = ROOT / ".venv" / "bin" / "payoutd"

pytestmark = [pytest.mark.slow]

KILLS = int(os.environ.get("PAYOUTD_CRASH_KILLS", "10"))
WAVE = 2  # payouts placed before each kill, so each worker finds work
PAYOUTS = 4 + WAVE * KILLS
BLOCK_MS = 250


def spawn(data_dir: Path, chains_file: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(
        {
            "PAYOUTD_DATA_DIR": str(data_dir),
            "PAYOUTD_CHAINS_FILE": str(chains_file),
            tonsandbox.KEY_ENV: os.environ[tonsandbox.KEY_ENV],
            "PAYOUTD_WORKER_INTERVAL_SECONDS": "0.05",
            "PAYOUTD_BATCH_MAX_OUTPUTS": "4",  # one external message per batch
            "PAYOUTD_LOG_JSON": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [str(PAYOUTD), "serve", "--role", "worker"],
            env=env,
            cwd=data_dir.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_a_worker_killed_again_and_again_pays_every_ton_payout_exactly_once(
    tmp_path: Path, sqlite_template: Path
) -> None:
    seed = int(os.environ.get("PAYOUTD_CRASH_SEED", str(random.randrange(2**32))))
    print(f"PAYOUTD_CRASH_SEED={seed}")
    rng = random.Random(seed)
    sandbox = tonsandbox.node()
    data_dir = tmp_path / "data"
    support.copy_template(sqlite_template, data_dir)
    chains_file = tonsandbox.chains_file(tmp_path, sandbox)
    recipients = [friendly(new_address_raw()) for _ in range(5)]
    log_path = tmp_path / "worker.log"
    sandbox.automine(BLOCK_MS)
    try:
        with tonsandbox.hot_wallet_env(sandbox, ton=Decimal(500)) as wallet:
            rt = build(support.test_settings(data_dir, None, chains_file=chains_file))
            try:
                async with rt.db.unit() as uow:
                    m, _ = await merchants.create_merchant(uow, rt.ctx, "Crash")
                    await merchants.deposit(uow, rt.ctx, m.id, "TON", Decimal(1000))
                expected: dict[str, tuple[str, Decimal]] = {}
                placed = 0

                async def place(count: int) -> None:
                    nonlocal placed
                    for _ in range(count):
                        memo = f"crash-{placed}"
                        amount = Decimal(rng.randint(2, 40)) / 10
                        address = rng.choice(recipients)
                        q = await payouts.quote(
                            rt.ctx,
                            {},
                            payouts.PayoutRequest(
                                amount=amount,
                                currency="TON",
                                network="TON",
                                address=address,
                                memo=memo,
                                order_id=memo,
                            ),
                        )
                        async with rt.db.unit() as uow:
                            assert (await payouts.place(uow, rt.ctx, m.id, q)).created
                        expected[memo] = (address, amount)
                        placed += 1

                await place(PAYOUTS - WAVE * KILLS)
                windows = 0  # kills that left a batch recorded and not marked sent
                for _ in range(KILLS):
                    await place(WAVE)
                    proc = spawn(data_dir, chains_file, log_path)
                    await asyncio.sleep(rng.uniform(0.9, 2.5))  # start-up takes ~1 s
                    kill(proc)
                    async with rt.db.read() as uow:
                        windows += len(
                            (
                                await uow.conn.execute(
                                    select(batches.c.id).where(batches.c.status == "prepared")
                                )
                            ).all()
                        )
                proc = spawn(data_dir, chains_file, log_path)
                try:
                    deadline = time.monotonic() + 120
                    while time.monotonic() < deadline:
                        async with rt.db.read() as uow:
                            statuses = Counter(
                                r[0] for r in await uow.conn.execute(select(payouts_t.c.status))
                            )
                        if statuses == {"paid": PAYOUTS}:
                            break
                        await asyncio.sleep(0.5)
                    else:
                        log = log_path.read_text(errors="replace")[-3000:]
                        pytest.fail(f"not all paid: {dict(statuses)}\n{log}")
                finally:
                    kill(proc, signal.SIGTERM)
                async with rt.db.read() as uow:
                    report = (await uow.ledger.check()).as_dict()
                    rows = [r._mapping for r in await uow.conn.execute(select(batches))]
                assert report["ok"], report
                print(f"{KILLS} kills, {windows} left a recorded batch not marked sent")
                assert {b["status"] for b in rows} == {"confirmed"}
                # one seqno per batch, none used twice, none skipped
                ends = sorted(int(b["sequence_end"]) for b in rows)
                assert ends == list(range(len(rows)))
            finally:
                await rt.close()
            sent = wallet_transactions(sandbox, wallet)
            assert [seqno_of(t) for t in sent] == list(range(len(rows)))
            arrived = Counter(
                (r.comment, address, r.value)
                for address in recipients
                for r in sandbox.received(address)
            )
            assert arrived == Counter(
                (memo, address, amount) for memo, (address, amount) in expected.items()
            )
    finally:
        sandbox.automine(0)
