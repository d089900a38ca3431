"""The fee saved by batching 10, 100 and 1,000 payouts, next to the physical limit.

payoutd's side: n payouts created through the services on a fresh SQLite database and
sent by the real worker code on the sandbox chain; the batch records its fee and what
the same payouts would have paid one transaction each at the same fee rate.

The physical limit, measured in the same run: real Bitcoin transactions serialized with
embit (P2WPKH, one input with a 72-byte signature and a 33-byte key): the vsize of one
transaction with n outputs plus change, against n transactions of one output plus change.
Fees at a fixed fee rate are proportional to vsize, so this is the most batching can save.

    .venv/bin/python -m bench.batching
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from embit.script import Script, Witness
from embit.transaction import Transaction, TransactionInput, TransactionOutput

SIZES = (10, 100, 1000)


def vsize(outputs: int) -> Decimal:
    """Virtual size of a P2WPKH transaction spending one input to `outputs` + change."""
    p2wpkh = Script(bytes([0x00, 0x14]) + bytes(20))
    vin = [TransactionInput(bytes(32), 0, witness=Witness([bytes(72), bytes(33)]))]
    vout = [TransactionOutput(1000, p2wpkh) for _ in range(outputs + 1)]
    tx = Transaction(vin=vin, vout=vout)
    full = len(tx.serialize())
    base = len(Transaction(vin=[TransactionInput(bytes(32), 0)], vout=vout).serialize())
    weight = base * 3 + full
    return Decimal(-(-weight // 4))  # vsize rounds up


async def engine_batch(n: int, workdir: Path) -> tuple[Decimal, Decimal]:
    """(fee of one batch of n payouts, fee of n single payouts) as payoutd records them."""
    from sqlalchemy import select

    from payoutd.bootstrap import build
    from payoutd.config import Settings
    from payoutd.services import merchants, payouts
    from payoutd.store.migrate import upgrade
    from payoutd.store.tables import batches
    from payoutd.worker import jobs

    settings = Settings(
        data_dir=workdir,
        sandbox_batch_window_seconds=0,
        min_payout_eur=Decimal(0),
        batch_max_outputs=max(SIZES),
    )
    rt = build(settings)
    try:
        await upgrade(rt.db.engine)
        async with rt.db.unit() as uow:
            m, _ = await merchants.create_merchant(uow, rt.ctx, "bench")
            await merchants.deposit(uow, rt.ctx, m.id, "BTC", Decimal(n))
        # distinct recipients, as in a mass payout
        addresses = [_p2pkh(i) for i in range(n)]
        for address in addresses:
            q = await payouts.quote(
                rt.ctx,
                {},
                payouts.PayoutRequest(amount=Decimal("0.001"), currency="BTC", address=address),
            )
            async with rt.db.unit() as uow:
                await payouts.place(uow, rt.ctx, m.id, q)
        await jobs.send_batches(rt.db, rt.ctx)
        async with rt.db.read() as uow:
            rows = (await uow.conn.execute(select(batches.c.fee, batches.c.unbatched_fee))).all()
        assert len(rows) == 1, f"expected one batch, got {len(rows)}"
        return rows[0][0], rows[0][1]
    finally:
        await rt.close()


def _p2pkh(i: int) -> str:
    from embit import base58
    from embit.hashes import hash160

    return str(base58.encode_check(b"\x00" + hash160(i.to_bytes(4, "big"))))


def table() -> str:
    rows = [
        "| payouts | payoutd batch fee (BTC) | one by one (BTC) | payoutd saves | "
        "physical: 1 tx of n outputs (vB) | n txs of 1 output (vB) | physical limit |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            fee, unbatched = asyncio.run(engine_batch(n, Path(tmp)))
        batched_vb, single_vb = vsize(n), vsize(1) * n
        rows.append(
            f"| {n} | {fee} | {unbatched} | {(1 - fee / unbatched) * 100:.1f}% | "
            f"{batched_vb} | {single_vb} | {(1 - batched_vb / single_vb) * 100:.1f}% |"
        )
    return "\n".join(rows)


def main() -> None:
    os.environ.setdefault("PAYOUTD_LOG_LEVEL", "warning")
    import logging

    logging.disable(logging.INFO)
    sys.stdout.write("## Fee saved by batching (sandbox chain vs Bitcoin vsize)\n\n")
    sys.stdout.write(table() + "\n")


if __name__ == "__main__":
    main()
