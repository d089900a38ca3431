"""bench/batching.py keeps working, and payoutd's batching is near the physical limit."""

from __future__ import annotations

from pathlib import Path

from bench.batching import engine_batch, vsize


async def test_batch_of_ten_saves_what_a_real_utxo_transaction_saves(tmp_path: Path) -> None:
    fee, unbatched = await engine_batch(10, tmp_path)
    physical = 1 - vsize(10) / (vsize(1) * 10)
    assert abs((1 - fee / unbatched) - physical) < 0.01
    assert vsize(1) == 141  # a P2WPKH 1-in, 1-out + change transaction
