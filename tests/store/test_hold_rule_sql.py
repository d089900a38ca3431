"""The PostgreSQL intake's one statement (payoutd.store.placements, `funded`) decides
holds in SQL, for speed; it is held to the one definition of the rule,
domain.ledger.all_holds_fit, on random balances and batches."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from payoutd.domain.ledger import all_holds_fit, merchant_account
from payoutd.services import payouts
from tests.api.test_intake import placement
from tests.support import Harness

CASES = 40


@pytest.mark.postgres
async def test_the_one_statement_funds_a_batch_exactly_when_the_rule_says_so(pg: Harness) -> None:
    rng = random.Random(20261207)
    probe = await placement(pg, (await pg.merchant("Probe", BTC="1")).id)
    unit = probe.quote.plan.debit_amount  # what one payout of 0.01 BTC debits
    seen = {True: 0, False: 0}
    sat = Decimal("0.00000001")
    for case in range(CASES):
        # two merchants, and a third with no BTC balance at all
        ms = [await pg.merchant(f"M{case}-{i}") for i in range(3)]
        chosen = [
            rng.choice(ms[:2]) if rng.random() < 0.95 else ms[2] for _ in range(rng.randint(1, 5))
        ]
        items = [
            await placement(pg, m.id, amount=rng.choice(["0.01", "0.015", "0.02"])) for m in chosen
        ]
        debits = [i.quote.plan.debit_amount for i in items]
        rooms = []
        for m in ms[:2]:
            wanted = sum((d for c, d in zip(chosen, debits, strict=True) if c is m), Decimal(0))
            # exactly enough, a satoshi short, more than enough, or anything
            room = rng.choice([wanted, wanted - sat, wanted + unit, unit * rng.randint(0, 6)])
            if room > 0:
                await pg.deposit(m, "BTC", str(room))
            rooms.append(max(room, Decimal(0)))
        available = {
            merchant_account(m.id, "BTC"): room for m, room in zip(ms, rooms, strict=False) if room
        }
        expected = all_holds_fit(
            available,
            [(merchant_account(m.id, "BTC"), d) for m, d in zip(chosen, debits, strict=True)],
        )
        async with pg.rt.db.autocommit() as uow:
            answers = await payouts.place_many(uow, pg.rt.ctx, items, all_or_none=True)
        assert (answers is not None) == expected, (case, rooms, chosen)
        seen[expected] += 1
        for m, room in zip(ms[:2], rooms, strict=True):
            shown = (await pg.balances(m)).get("BTC", {"available": "0"})["available"]
            spent = (
                sum((d for c, d in zip(chosen, debits, strict=True) if c is m), Decimal(0))
                if expected
                else 0
            )
            assert Decimal(shown) == room - spent
    assert seen[True] > 5 and seen[False] > 5, seen  # both outcomes were exercised
    assert (await pg.ledger_check())["ok"]
