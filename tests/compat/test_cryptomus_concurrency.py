"""Issue 19, must show: an `order_id` sent 50 times at once through the Cryptomus dialect
on PostgreSQL makes one payout. The seed: "If a payout with that order_id exists, its
data is returned and no new payout is created".

The 50 requests go at once to two API runtimes on the same database (each its own app,
intake and connection pool, as two API processes are), so the repeats race in
PostgreSQL's transactions, not only in one runtime's queue: one intake already keeps two
placements of one order_id out of a batch (payoutd.api.intake). The test shows that
placing transactions were open at the same time (four at most, in runs here). With a
url_callback, each placement also writes in its transaction (how the callback is spoken
to), which takes the intake's other path; both are run."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from payoutd.api import intake as intake_module
from payoutd.services import payouts
from payoutd.store.tables import holds, outbox, payout_dialects
from payoutd.store.tables import payouts as payouts_table
from tests import support
from tests.compat.client import CryptomusClient
from tests.support import Harness

pytestmark = pytest.mark.postgres

REQUESTS = 50
TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"


class Overlap:
    """Stands in for the one service function the intakes call, and counts how many of
    its transactions were open at the same time."""

    def __init__(self) -> None:
        self.open = 0
        self.most = 0
        self.calls = 0

    async def place_many(self, uow: Any, ctx: Any, items: Any, **kw: Any) -> Any:
        self.open += 1
        self.calls += 1
        self.most = max(self.most, self.open)
        try:
            return await payouts.place_many(uow, ctx, items, **kw)
        finally:
            self.open -= 1


async def count(h: Harness, statement: Any) -> int:
    async with h.rt.db.read() as uow:
        return int((await uow.conn.execute(statement)).scalar_one())


@pytest.mark.parametrize("callback", [False, True], ids=["plain", "url_callback"])
async def test_an_order_id_sent_50_times_at_once_makes_one_payout(
    pg: Harness,
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    callback: bool,
) -> None:
    h = pg
    m = await h.merchant(USDT="100")
    body: dict[str, Any] = {
        "amount": "25",
        "currency": "USDT",
        "network": "TRON",
        "address": TRON_ADDR,
        "order_id": "once-only",
        "is_subtract": True,
    }
    if callback:
        body["url_callback"] = "https://shop.example/callback"
    overlap = Overlap()
    monkeypatch.setattr(intake_module, "place_many", overlap.place_many)
    # the same data_dir: the second runtime opens the sealed payout key with the same key
    settings = support.test_settings(tmp_path, pg_url, db_pool_size=40)
    async with support.harness(settings) as second:
        clients = [CryptomusClient(x.client, m.id, m.key) for x in (h, second)]
        answers: list[httpx.Response] = await asyncio.gather(
            *(clients[i % 2].payout(**body) for i in range(REQUESTS))
        )

    assert overlap.most >= 2, "no two transactions ran at once: nothing raced"
    assert [r.status_code for r in answers] == [200] * REQUESTS, [r.text for r in answers]
    # every answer is the one payout, word for word
    assert len({json.dumps(r.json(), sort_keys=True) for r in answers}) == 1, answers[0].text
    result = answers[0].json()["result"]

    assert await count(h, select(func.count()).where(payouts_table.c.merchant_id == m.id)) == 1
    assert await count(h, select(func.count()).where(holds.c.payout_id == result["uuid"])) == 1
    created = select(func.count()).where(
        outbox.c.subject_id == result["uuid"], outbox.c.type == "payout.created"
    )
    assert await count(h, created) == 1
    spoken = select(func.count()).where(payout_dialects.c.payout_id == result["uuid"])
    assert await count(h, spoken) == (1 if callback else 0)

    # the balance was debited once: what the one payout holds, and no more
    view = (await h.client.get(f"/v1/payouts/{result['uuid']}", headers=m.headers)).json()
    debit = Decimal(view["debit"]["amount"])
    usdt = (await h.balances(m))["USDT"]
    assert Decimal(usdt["held"]) == debit > Decimal(25)  # the fee on top (is_subtract)
    assert Decimal(usdt["available"]) == Decimal(100) - debit
    assert Decimal(result["balance"]) == Decimal(100) - debit
    check = await h.ledger_check()
    assert check["ok"], check["problems"]
