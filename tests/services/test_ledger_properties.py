"""Property: whatever a merchant and the worker do, in any order, no money is created or
lost (DESIGN §1.1), no balance overdraws (§1.2), and a refused payout changes nothing.

Hypothesis draws a sequence of deposits, payouts (some beyond the balance, some too small
to carry their fees), cancels, sandbox rejections and worker/miner progress. A plain
model predicts every answer and every balance; after each step the balances must
equal the model's, and after each example the ledger check must be clean. Every example
starts from an empty database, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import base58
import pytest
from eth_utils.address import to_checksum_address
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from payoutd.chains import sandbox
from payoutd.domain.assets import NETWORKS
from payoutd.domain.money import ROUND_DEBIT, quantize
from tests import support


@dataclass(frozen=True)
class Spec:
    currency: str
    network: str
    decimals: int
    min_units: int  # the asset's minimum payout, in the smallest unit
    fee: Decimal  # the sandbox's network fee at `recommended`
    priced: bool  # whether `priority` is accepted
    scale: int  # a typical balance, in whole units
    addresses: tuple[str, ...]

    @property
    def native(self) -> bool:
        """The network's own coin: a from_amount payout pays its real fee share."""
        return NETWORKS[self.network].native == self.currency


def _h160(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()[:20]


def _btc(seed: str) -> str:
    return base58.b58encode_check(b"\x00" + _h160(seed)).decode()


def _tron(seed: str) -> str:
    return base58.b58encode_check(b"\x41" + _h160(seed)).decode()


def _eth(seed: str) -> str:
    return str(to_checksum_address("0x" + _h160(seed).hex()))


POOL = 4  # a few addresses per currency, so a rejected address is sometimes reused
SPECS: dict[str, Spec] = {
    "BTC": Spec(
        "BTC",
        "BTC",
        8,
        1_000,
        sandbox.BASE_FEE["BTC"],
        True,
        1,
        tuple(_btc(f"btc-{i}") for i in range(POOL)),
    ),
    "ETH": Spec(
        "ETH",
        "ETH",
        18,
        5 * 10**14,
        sandbox.BASE_FEE["ETH"],
        True,
        1,
        tuple(_eth(f"eth-{i}") for i in range(POOL)),
    ),
    "USDT": Spec(
        "USDT",
        "TRON",
        6,
        5 * 10**5,
        sandbox.TOKEN_FEE,
        False,
        100,
        tuple(_tron(f"usdt-{i}") for i in range(POOL)),
    ),
}
CURRENCIES = sorted(SPECS)
PRIORITIES = (None, "economy", "recommended", "high", "highest")
ZERO = Decimal(0)


def units(currency: str, n: int) -> Decimal:
    return Decimal(n).scaleb(-SPECS[currency].decimals)


# -- operations --------------------------------------------------------------------------


@st.composite
def deposits(draw: st.DrawFn) -> tuple[Any, ...]:
    cur = draw(st.sampled_from(CURRENCIES))
    spec = SPECS[cur]
    return ("deposit", cur, units(cur, draw(st.integers(1, 2 * spec.scale * 10**spec.decimals))))


@st.composite
def payouts(draw: st.DrawFn, funded: list[str]) -> tuple[Any, ...]:
    # mostly from a funded balance; now and then from one that does not exist
    cur = (
        draw(st.sampled_from(funded))
        if draw(st.integers(0, 7))
        else draw(st.sampled_from(CURRENCIES))
    )
    spec = SPECS[cur]
    # from the minimum up to about half the largest deposit: often affordable, often not
    n = draw(
        st.one_of(
            st.integers(spec.min_units, spec.min_units * 4),
            st.integers(spec.min_units, spec.scale * 10**spec.decimals),
        )
    )
    fee_mode = draw(st.sampled_from(["on_top", "from_amount"]))
    priority = draw(st.sampled_from(PRIORITIES)) if spec.priced else None
    address = draw(st.integers(0, POOL - 1))
    return ("payout", cur, units(cur, n), fee_mode, priority, address)


# sampled_from keeps duplicates, which weights the choice towards payouts and rejections
KINDS = ("deposit", "payout", "payout", "payout", "cancel", "reject", "reject", "settle")


@st.composite
def operations(draw: st.DrawFn, funded: list[str]) -> tuple[Any, ...]:
    kind = draw(st.sampled_from(KINDS))
    if kind == "deposit":
        return draw(deposits())
    if kind == "payout":
        return draw(payouts(funded))
    if kind == "settle":
        return ("settle",)
    if kind == "cancel":
        # which payout (modulo the candidates); mostly a queued one, else any at all
        return (kind, draw(st.integers(0, 10**6)), draw(st.integers(0, 3)) > 0)
    return (kind, draw(st.integers(0, 10**6)))


@st.composite
def scenarios(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Some money in one to three currencies first, then anything, then the worker runs
    once more so queued payouts reach their end."""
    funded = draw(st.sets(st.sampled_from(CURRENCIES), min_size=1))
    start = []
    for cur in sorted(funded):
        spec = SPECS[cur]
        n = draw(st.integers(spec.min_units, 2 * spec.scale * 10**spec.decimals))
        start.append(("deposit", cur, units(cur, n)))
    ops = draw(st.lists(operations(sorted(funded)), min_size=4, max_size=16))
    return [*start, *ops, ("settle",)]


# -- the model ---------------------------------------------------------------------------


@dataclass
class ModelPayout:
    id: str
    currency: str
    address: str
    debit: Decimal
    final_amount: Decimal
    status: str = "queued"
    fee_mode: str = "on_top"
    priority: str | None = None


@dataclass
class Model:
    deposited: dict[str, Decimal] = field(default_factory=dict)
    payouts: list[ModelPayout] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)

    def total(self, cur: str, status: str) -> Decimal:
        return sum(
            (p.debit for p in self.payouts if p.currency == cur and p.status == status), ZERO
        )

    def balance(self, cur: str) -> Decimal:
        return self.deposited.get(cur, ZERO) - self.total(cur, "paid")

    def held(self, cur: str) -> Decimal:
        return self.total(cur, "queued")

    def available(self, cur: str) -> Decimal:
        return self.balance(cur) - self.held(cur)

    def queued(self) -> list[ModelPayout]:
        return [p for p in self.payouts if p.status == "queued"]

    def settle(self) -> None:
        """The worker puts each currency's queue in one transaction, except that from_amount
        payouts of a native coin (which pay their real fee share out of their outputs) go
        in a transaction of their own; outputs left under the dust limit by their share are
        refused before signing; the sandbox rejects a transaction if any output goes to a
        rejected address."""
        for cur in CURRENCIES:
            queue = [p for p in self.queued() if p.currency == cur]
            if not queue:
                continue
            spec = SPECS[cur]
            if spec.native:
                first = queue[0].fee_mode
                groups = [
                    [p for p in queue if p.fee_mode == first],
                    [p for p in queue if p.fee_mode != first],
                ]
            else:
                groups = [queue]
            for group in groups:
                if spec.native and group and group[0].fee_mode == "from_amount":
                    group = self._refuse_dust(spec, group)
                if not group:
                    continue
                outcome = "failed" if any(p.address in self.rejected for p in group) else "paid"
                for p in group:
                    p.status = outcome
                event(f"batch {outcome}")

    def _refuse_dust(self, spec: Spec, group: list[ModelPayout]) -> list[ModelPayout]:
        """As the sandbox node: the batch fee is split equally among the outputs (the first
        pays the remainder); an output left under the dust limit fails its payouts."""
        # no database: only its fee arithmetic is used, which reads none
        chain = sandbox.SandboxChain(
            spec.network,
            None,  # type: ignore[arg-type]
            confirmations=2,
            batch_window_seconds=0,
        )
        dust = sandbox.DUST.get("utxo" if spec.network == "BTC" else "evm", ZERO)
        order = ["economy", "recommended", "high", "highest"]
        while group:
            outputs: dict[str, Decimal] = {}
            for p in group:
                outputs[p.address] = outputs.get(p.address, ZERO) + p.debit  # gross
            given = [p.priority for p in group if p.priority]
            priority = max(given, key=order.index) if given else None
            fee = chain.batch_fee(len(outputs), priority)
            each = (fee / len(outputs)).quantize(
                Decimal(1).scaleb(-spec.decimals), rounding="ROUND_DOWN"
            )
            refused = set()
            for i, (address, amount) in enumerate(outputs.items()):
                left = amount - each - (fee - each * len(outputs) if i == 0 else ZERO)
                if left <= 0 or left < dust:
                    refused.add(address)
            if not refused:
                return group
            for p in group:
                if p.address in refused:
                    p.status = "failed"
                    event("payout refused: dust")
            group = [p for p in group if p.address not in refused]
        return group


def network_fee(spec: Spec, priority: str | None) -> Decimal:
    factor = sandbox.PRIORITY_FACTOR[priority or "recommended"]
    return quantize(spec.fee * factor, spec.decimals, ROUND_DEBIT)


async def stored_balances(h: support.Harness, m: support.Merchant) -> dict[str, Any]:
    """The merchant's balances straight from the ledger (quicker than the API between
    steps; the API's view is checked at the end of every example)."""
    async with h.rt.db.read() as uow:
        return {
            b.currency: {"balance": b.balance, "held": b.held, "available": b.available}
            for b in await uow.ledger.balances(m.id)
        }


async def check_balances(shown: dict[str, Any], model: Model) -> None:
    assert set(shown) == set(model.deposited)
    for cur, b in shown.items():
        assert Decimal(b["balance"]) == model.balance(cur), (cur, b)
        assert Decimal(b["held"]) == model.held(cur), (cur, b)
        assert Decimal(b["available"]) == model.available(cur), (cur, b)
        assert Decimal(b["available"]) >= 0, (cur, b)


async def run_ops(h: support.Harness, ops: list[tuple[Any, ...]]) -> None:
    m = await h.merchant("Prop")
    model = Model()
    for op in ops:
        kind = op[0]
        if kind == "deposit":
            _, cur, amount = op
            await h.deposit(m, cur, str(amount))
            model.deposited[cur] = model.deposited.get(cur, ZERO) + amount
        elif kind == "payout":
            _, cur, amount, fee_mode, priority, addr = op
            spec = SPECS[cur]
            body: dict[str, Any] = {
                "amount": str(amount),
                "currency": cur,
                "network": spec.network,
                "address": spec.addresses[addr],
                "fee_mode": fee_mode,
            }
            if priority is not None:
                body["priority"] = priority
            fee = network_fee(spec, priority)
            debit = amount + fee if fee_mode == "on_top" else amount
            final = amount if fee_mode == "on_top" else amount - fee
            before = await stored_balances(h, m)
            r = await h.client.post("/v1/payouts", headers=m.headers, json=body)
            if final <= 0:
                expected = "withdrawal_too_small"
            elif cur not in model.deposited:
                expected = "wallet_not_found"
            elif debit > model.available(cur):
                expected = "insufficient_funds"
            else:
                expected = None
            if expected is not None:
                event(f"payout refused: {expected}")
                assert r.status_code == 422, r.text
                assert r.json()["error"]["code"] == expected, r.text
                assert await stored_balances(h, m) == before  # a refusal changes nothing
                continue
            assert r.status_code == 201, r.text
            p = r.json()
            assert p["status"] == "queued"
            assert Decimal(p["debit"]["amount"]) == debit
            assert Decimal(p["final_amount"]) == final
            assert Decimal(p["fees"]["network"]) == fee
            model.payouts.append(
                ModelPayout(
                    p["id"], cur, p["address"], debit, final, fee_mode=fee_mode, priority=priority
                )
            )
        elif kind == "cancel":
            _, pick, prefer_queued = op
            candidates = (prefer_queued and model.queued()) or model.payouts
            if not candidates:
                continue
            target = candidates[pick % len(candidates)]
            r = await h.client.post(f"/v1/payouts/{target.id}/cancel", headers=m.headers)
            if target.status == "queued":
                assert r.status_code == 200, r.text
                assert r.json()["status"] == "cancelled"
                target.status = "cancelled"
                event("payout cancelled")
            else:
                assert r.status_code == 409, r.text
                assert r.json()["error"]["code"] == "payout_not_cancellable", r.text
        elif kind == "reject":
            queued = model.queued()
            if not queued:
                continue
            target = queued[op[1] % len(queued)]
            if target.address not in model.rejected:
                await sandbox.add_rule(h.rt.db, address=target.address, action="reject")
                model.rejected.add(target.address)
        else:
            # two blocks confirm a batch (sandbox_confirmations=2): tick, mine, tick, mine, tick
            await h.settle(rounds=2)
            model.settle()
        await check_balances(await stored_balances(h, m), model)

    await check_balances(await h.balances(m), model)
    # Every payout is where the model says, and the chain carried exactly the paid ones.
    listed: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = (await h.client.get("/v1/payouts", headers=m.headers, params=params)).json()
        listed.update({p["id"]: p for p in page["data"]})
        if not (cursor := page["next_cursor"]):
            break
    assert {pid: p["status"] for pid, p in listed.items()} == {
        p.id: p.status for p in model.payouts
    }
    txs = (
        await h.client.get("/v1/sandbox/transactions", headers=m.headers, params={"limit": "200"})
    ).json()["data"]
    for cur in CURRENCIES:
        sent = sum(
            (
                Decimal(o["amount"])
                for t in txs
                if t["currency"] == cur
                for o in t["outputs"]
                if t["status"] == "mined"
            ),
            ZERO,
        )
        # what a from_amount payout of a native coin finally sends is known only when its
        # batch is built (it pays its real share of the fee): read it back
        paid = sum(
            (
                Decimal(listed[p.id]["final_amount"])
                for p in model.payouts
                if p.currency == cur and p.status == "paid"
            ),
            ZERO,
        )
        assert sent == paid, cur
    for p in model.payouts:
        got = listed[p.id]
        # whatever the fee turned out to be, the debit is split exactly into it and the rest
        assert Decimal(got["final_amount"]) + Decimal(got["fees"]["total"]) == p.debit
        assert Decimal(got["debit"]["amount"]) == p.debit
    check = await h.ledger_check()
    assert check["ok"], check["problems"]


_examples = itertools.count()  # a fresh data directory per example


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=scenarios())
def test_ledger_stays_balanced_and_matches_the_model(
    ops: list[tuple[Any, ...]], database_url: str | None, tmp_path: Path, sqlite_template: Path
) -> None:
    data_dir = tmp_path / f"example-{next(_examples)}"
    if database_url is None:
        support.copy_template(sqlite_template, data_dir)  # a fresh, migrated database
    else:
        data_dir.mkdir()

    async def example() -> None:
        async with support.harness(
            support.test_settings(data_dir, database_url), truncate=database_url is not None
        ) as h:
            await run_ops(h, ops)

    asyncio.run(example())


@pytest.mark.parametrize("cur", CURRENCIES)
def test_the_address_pools_are_valid(cur: str) -> None:
    from payoutd.chains.addressing import validate_address

    spec = SPECS[cur]
    assert len(set(spec.addresses)) == POOL
    for a in spec.addresses:
        assert validate_address(spec.network, a) == a
