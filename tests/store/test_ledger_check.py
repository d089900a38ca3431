"""The ledger check notices each kind of damage (so a clean report means something)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from payoutd.store.tables import holds, ledger_accounts, ledger_entries
from tests.support import Harness

ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


async def test_check_detects_unbalanced_transaction_and_drifted_balances(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.1", "currency": "BTC", "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
    )
    assert r.status_code == 201
    assert (await h.ledger_check())["ok"]
    r = await h.client.get("/v1/admin/ledger/check", headers=h.admin)
    assert r.status_code == 200 and r.json()["ok"] is True

    async with h.rt.db.unit() as uow:
        # one entry of the deposit changes: its transaction no longer sums to zero
        await uow.conn.execute(
            update(ledger_entries).where(ledger_entries.c.amount < 0).values(amount=Decimal("-0.9"))
        )
    problems = (await h.ledger_check())["problems"]
    assert any("does not sum to zero" in p for p in problems)
    assert any("sum of entries" in p for p in problems)

    async with h.rt.db.unit() as uow:
        await uow.conn.execute(update(holds).values(amount=Decimal("0.5")))
        await uow.conn.execute(
            update(ledger_accounts)
            .where(ledger_accounts.c.kind == "merchant")
            .values(held=Decimal("2"))
        )
    report = (await h.client.get("/v1/admin/ledger/check", headers=h.admin)).json()
    assert report["ok"] is False
    assert any("pending holds" in p for p in report["problems"])
    assert any("below zero" in p for p in report["problems"])


@pytest.mark.postgres
async def test_the_check_reads_one_snapshot_while_payouts_flow(pg: Harness) -> None:
    """100 checks (the admin API's, which the CLI shares) run while a burst of payouts is
    placed, batched, sent and confirmed: each check sees the ledger at one moment, so a
    clean ledger is reported clean every time. Read in several statements under READ
    COMMITTED, a check saw holds or entries committed between two of its statements."""
    m = await pg.merchant("Burst", BTC="10")
    done = asyncio.Event()
    reports: list[dict[str, Any]] = []

    async def create(i: int) -> None:
        r = await pg.client.post(
            "/v1/payouts",
            headers=m.headers,
            json={"amount": "0.001", "currency": "BTC", "address": ADDR, "order_id": f"o-{i}"},
        )
        assert r.status_code == 201, r.text

    async def burst() -> None:
        try:
            for wave in range(4):
                await asyncio.gather(*(create(wave * 50 + i) for i in range(50)))
        finally:
            done.set()

    async def worker() -> None:
        while not done.is_set() or len(reports) < 100:
            await pg.tick()
            await pg.mine()

    async def checks() -> None:
        while len(reports) < 100:
            r = await pg.client.get("/v1/admin/ledger/check", headers=pg.admin)
            assert r.status_code == 200, r.text
            reports.append(r.json())

    await asyncio.gather(burst(), worker(), checks())
    false_reports = [r["problems"] for r in reports if not r["ok"]]
    assert false_reports == [], (
        f"{len(false_reports)} of {len(reports)} checks reported "
        f"problems, first: {false_reports[0]}"
    )
    await pg.settle()
    final = await pg.ledger_check()
    assert final["ok"], final["problems"]
