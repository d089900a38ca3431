"""The ledger check notices each kind of damage (so a clean report means something)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update

from payoutd.store.tables import holds, ledger_accounts, ledger_entries
from tests.support import Harness


async def test_check_detects_unbalanced_transaction_and_drifted_balances(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    r = await h.client.post("/v1/payouts", headers=m.headers, json={
        "amount": "0.1", "currency": "BTC", "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"})
    assert r.status_code == 201
    assert (await h.ledger_check())["ok"]
    r = await h.client.get("/v1/admin/ledger/check", headers=h.admin)
    assert r.status_code == 200 and r.json()["ok"] is True

    async with h.rt.db.unit() as uow:
        # one entry of the deposit changes: its transaction no longer sums to zero
        await uow.conn.execute(update(ledger_entries).where(ledger_entries.c.amount < 0)
                               .values(amount=Decimal("-0.9")))
    problems = (await h.ledger_check())["problems"]
    assert any("does not sum to zero" in p for p in problems)
    assert any("sum of entries" in p for p in problems)

    async with h.rt.db.unit() as uow:
        await uow.conn.execute(update(holds).values(amount=Decimal("0.5")))
        await uow.conn.execute(update(ledger_accounts).where(ledger_accounts.c.kind == "merchant")
                               .values(held=Decimal("2")))
    report = (await h.client.get("/v1/admin/ledger/check", headers=h.admin)).json()
    assert report["ok"] is False
    assert any("pending holds" in p for p in report["problems"])
    assert any("below zero" in p for p in report["problems"])
