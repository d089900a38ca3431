"""The sandbox chain: payoutd's embedded test mode, like a provider's sandbox.

It keeps its mempool and blocks in payoutd's own database, mines a block every few
seconds (driven by the worker), charges fees by priority, and can be told to reject,
drop or delay transactions to given addresses so every failure path can be tried.
Addresses are still checked with each network's real mainnet rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import base58
from sqlalchemy import func, select, update

from payoutd.chains.addressing import validate_address, validate_txid
from payoutd.domain.assets import CURRENCIES, NETWORKS, Asset, resolve_asset
from payoutd.domain.banking import ChainDeposit
from payoutd.domain.batching import Output
from payoutd.domain.errors import field_error
from payoutd.domain.money import (
    ROUND_CREDIT,
    ROUND_DEBIT,
    decimals_of,
    fmt,
    parse_amount,
    quantize,
    quantum,
)
from payoutd.ids import new_id
from payoutd.services.ports import OutputRejected, PreparedTx, Rejected, TxState
from payoutd.store.db import Database
from payoutd.store.dialect import insert
from payoutd.store.tables import (
    batches,
    payouts,
    sandbox_blocks,
    sandbox_rules,
    sandbox_transactions,
)

# What one payout is charged for the network, in the asset's own currency, at
# `recommended`; other priorities scale it. Roughly what each network costs.
BASE_FEE: dict[str, Decimal] = {
    "BTC": Decimal("0.00002"),
    "LTC": Decimal("0.0001"),
    "DOGE": Decimal("1"),
    "ETH": Decimal("0.0002"),
    "BSC": Decimal("0.0002"),
    "POLYGON": Decimal("0.01"),
    "BASE": Decimal("0.00001"),
    "TRON": Decimal("1"),
    "SOL": Decimal("0.00001"),
    "TON": Decimal("0.01"),
}
TOKEN_FEE = Decimal("1")  # a token transfer is charged one unit of the token
PRIORITY_FACTOR: dict[str, Decimal] = {
    "economy": Decimal("0.5"),
    "recommended": Decimal(1),
    "high": Decimal(2),
    "highest": Decimal(4),
}
# The fee of a batch transaction follows a Bitcoin P2WPKH transaction's virtual size: a
# fixed part (version, locktime, one input, the change output: 109.5 vB) plus 31 vB per
# output, priced so that a one-output transaction costs BASE_FEE. Batching n payouts
# then saves what it saves on a real UTXO chain (bench/batching.py measures both).
TX_FIXED_VBYTES = Decimal("109.5")
OUTPUT_VBYTES = Decimal(31)
# reject: the node refuses the broadcast; drop: accepted, then gone from the mempool;
# delay: mined only after `blocks` more blocks; refuse: the node will not even build a
# transaction paying this address (the executor fails those payouts before signing)
ACTIONS = ("reject", "drop", "delay", "refuse")
DUST: dict[str, Decimal] = {"utxo": Decimal("0.00000546")}
# blocks one deposits() call looks through, as a live node's log queries are bounded
DEPOSIT_BLOCK_RANGE = 1000


def sandbox_txid(network: str, raw: str) -> str:
    """The sandbox's id of a transaction, a hash of it in the form its network's ids take
    (so an operator's txid is checked by the same rule as a real chain's)."""
    family = NETWORKS[network].family
    if family == "solana":  # a signature: 64 bytes, base58
        return base58.b58encode(hashlib.sha512(raw.encode()).digest()).decode()
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return "0x" + digest if family == "evm" else digest


class SandboxChain:
    mode = "sandbox"

    def __init__(
        self,
        network: str,
        db: Database,
        *,
        confirmations: int,
        batch_window_seconds: float | None,
        broadcast_seconds: float = 0.0,
        fee_estimate_seconds: float = 0.0,
    ) -> None:
        self.network = network
        self.db = db
        self.confirmations = confirmations
        self.batch_window_seconds = batch_window_seconds
        self.broadcast_seconds = broadcast_seconds
        self.fee_estimate_seconds = fee_estimate_seconds
        self.native = NETWORKS[network].native

    def validate_address(self, address: str) -> str:
        return validate_address(self.network, address)

    def validate_txid(self, txid: str) -> str:
        return validate_txid(self.network, txid)

    def _factor(self, priority: str | None) -> Decimal:
        return PRIORITY_FACTOR.get(priority or "recommended", Decimal(1))

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        if self.fee_estimate_seconds:
            await asyncio.sleep(self.fee_estimate_seconds)
        base = (
            TOKEN_FEE
            if asset.contract is not None or asset.currency != self.native
            else BASE_FEE[self.network]
        )
        return base * self._factor(priority)

    def batch_fee(self, outputs: int, priority: str | None) -> Decimal:
        unit = BASE_FEE[self.network] * self._factor(priority)
        vbytes = TX_FIXED_VBYTES + OUTPUT_VBYTES * outputs
        return quantize(
            unit * vbytes / (TX_FIXED_VBYTES + OUTPUT_VBYTES),
            CURRENCIES[self.native].decimals,
            ROUND_DEBIT,
        )

    async def shortfall(self, asset: Asset, outputs: list[Output]) -> str | None:
        """The sandbox's hot wallet never runs dry."""
        return None

    async def prepare(
        self,
        batch_id: str,
        asset: Asset,
        outputs: list[Output],
        priority: str | None,
        *,
        payout_count: int,
        next_sequence: int | None = None,
    ) -> PreparedTx:
        if self.fee_estimate_seconds:  # a node estimates the batch's fee rate first
            await asyncio.sleep(self.fee_estimate_seconds)
        fee = self.batch_fee(len(outputs), priority)
        amounts = [quantize(o.amount, asset.decimals, ROUND_CREDIT) for o in outputs]
        subtracting = [i for i, o in enumerate(outputs) if o.subtract_fee]
        if subtracting:
            # As Bitcoin Core's subtractFeeFromOutputs: the fee is split equally among
            # those outputs, the first of them also paying what does not divide.
            unit = quantum(asset.decimals)
            each = (fee / len(subtracting)).quantize(unit, rounding=ROUND_DOWN)
            for i in subtracting:
                amounts[i] -= each
            amounts[subtracting[0]] -= fee - each * len(subtracting)
        refused = await self._refused(outputs, amounts, asset)
        if refused:
            raise OutputRejected(frozenset(refused), "; ".join(sorted(set(refused.values()))))
        body = {
            "batch_id": batch_id,
            "network": self.network,
            "currency": asset.currency,
            "fee": fmt(fee),
            # amounts in the asset's own units, as a chain would encode them
            "outputs": [
                {"address": o.address, "amount": fmt(a), "memo": o.memo}
                for o, a in zip(outputs, amounts, strict=True)
            ],
        }
        raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
        txid = sandbox_txid(self.network, raw)
        return PreparedTx(
            txid=txid,
            raw=raw,
            fee=fee,
            fee_currency=self.native,
            unbatched_fee=self.batch_fee(1, priority) * payout_count,
            output_amounts=tuple(amounts) if subtracting else (),
        )

    async def _refused(
        self, outputs: list[Output], amounts: list[Decimal], asset: Asset
    ) -> dict[int, str]:
        """Outputs the sandbox node will not build: under the dust limit once fees are
        taken, or to an address a `refuse` rule names (an address the node rejects)."""
        found: dict[int, str] = {}
        dust = DUST.get(NETWORKS[self.network].family, Decimal(0))
        for i, amount in enumerate(amounts):
            if amount <= 0 or amount < dust:
                found[i] = f"amount {fmt(amount)} {asset.currency} is under the dust limit"
        async with self.db.read() as uow:
            rules = await self._rules(uow.conn, [o.address for o in outputs], actions=("refuse",))
        for i, o in enumerate(outputs):
            if o.address in rules.get("refuse_addresses", ()):
                found[i] = f"the node refuses address {o.address}"
        return found

    async def release(self, tx: PreparedTx) -> None:
        """The sandbox locks nothing for a prepared transaction."""

    async def broadcast(self, tx: PreparedTx) -> None:
        body = json.loads(tx.raw)
        if sandbox_txid(self.network, tx.raw) != tx.txid:
            raise Rejected("txid does not match the transaction")
        if self.broadcast_seconds:
            await asyncio.sleep(self.broadcast_seconds / 2)
        await self._accept(tx, body)
        if self.broadcast_seconds:
            await asyncio.sleep(self.broadcast_seconds / 2)

    async def _accept(self, tx: PreparedTx, body: dict[str, Any]) -> None:
        async with self.db.unit() as uow:
            conn = uow.conn
            known = (
                await conn.execute(
                    select(sandbox_transactions.c.txid).where(
                        sandbox_transactions.c.txid == tx.txid
                    )
                )
            ).first()
            if known:
                return  # re-broadcast of a transaction the chain already has
            rules = await self._rules(conn, [o["address"] for o in body["outputs"]])
            if "reject" in rules:
                raise Rejected(f"sandbox rule: reject {rules['reject']}")
            tip = await self._tip(conn)
            status = "dropped" if "drop" in rules else "mempool"
            now = datetime.now(UTC)
            await conn.execute(
                insert(self.db.dialect, sandbox_transactions)
                .values(
                    txid=tx.txid,
                    network=self.network,
                    currency=body["currency"],
                    fee=Decimal(body["fee"]),
                    outputs=body["outputs"],
                    status=status,
                    block_height=None,
                    release_height=tip + 1 + rules.get("delay", 0),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["txid"])
            )

    async def _rules(
        self,
        conn: Any,
        addresses: list[str],
        actions: tuple[str, ...] = ("reject", "drop", "delay"),
    ) -> dict[str, Any]:
        rows = await conn.execute(
            select(sandbox_rules.c.action, sandbox_rules.c.blocks, sandbox_rules.c.address).where(
                sandbox_rules.c.address.in_(addresses),
                sandbox_rules.c.action.in_(actions),
                (sandbox_rules.c.network == self.network) | sandbox_rules.c.network.is_(None),
            )
        )
        found: dict[str, Any] = {}
        for action, blocks, address in rows:
            found[action] = blocks if action == "delay" else address
            if action == "refuse":
                found.setdefault("refuse_addresses", set()).add(address)
        return found

    async def _tip(self, conn: Any) -> int:
        height = (
            await conn.execute(
                select(func.max(sandbox_blocks.c.height)).where(
                    sandbox_blocks.c.network == self.network
                )
            )
        ).scalar()
        return int(height or 0)

    async def status(self, tx: PreparedTx) -> TxState:
        txid = tx.txid
        async with self.db.read() as uow:
            row = (
                await uow.conn.execute(
                    select(
                        sandbox_transactions.c.status, sandbox_transactions.c.block_height
                    ).where(sandbox_transactions.c.txid == txid)
                )
            ).first()
            if row is None:
                return TxState("unknown")
            if row[0] == "dropped":
                return TxState("dropped")
            if row[0] == "mempool":
                return TxState("mempool")
            tip = await self._tip(uow.conn)
            return TxState("mined", tip - int(row[1]) + 1)

    async def idle(self) -> bool:
        """Nothing waits for a block: no mempool transaction, none still short of its
        confirmations. An idle sandbox mines nothing, so its tables stay small."""
        async with self.db.read() as uow:
            tip = await self._tip(uow.conn)
            busy = (
                await uow.conn.execute(
                    select(sandbox_transactions.c.txid)
                    .where(
                        sandbox_transactions.c.network == self.network,
                        (sandbox_transactions.c.status == "mempool")
                        | (
                            (sandbox_transactions.c.status == "mined")
                            & (sandbox_transactions.c.block_height > tip - self.confirmations)
                        ),
                    )
                    .limit(1)
                )
            ).first()
        return busy is None

    async def mine(self, now: datetime) -> int:
        """Mine one block: every mempool transaction whose delay has passed goes in."""
        async with self.db.unit() as uow:
            height = await self._tip(uow.conn) + 1
            # Several workers may mine at once (PostgreSQL): one of them wins the height,
            # the others simply mine nothing this time.
            won = (
                await uow.conn.execute(
                    insert(self.db.dialect, sandbox_blocks)
                    .values(network=self.network, height=height, mined_at=now)
                    .on_conflict_do_nothing(index_elements=["network", "height"])
                    .returning(sandbox_blocks.c.height)
                )
            ).first()
            if won is None:
                return height - 1
            await uow.conn.execute(
                update(sandbox_transactions)
                .where(
                    sandbox_transactions.c.network == self.network,
                    sandbox_transactions.c.status == "mempool",
                    sandbox_transactions.c.release_height <= height,
                )
                .values(status="mined", block_height=height)
            )
            return height

    # -- incoming transfers (off-ramp funding) -------------------------------------------

    async def receive(
        self, currency: str, address: str, amount: str, sender: str | None = None
    ) -> dict[str, Any]:
        """Simulate someone else's wallet paying `amount` of `currency` into `address`
        (POST /v1/sandbox/deposits): a transaction in the sandbox's mempool, mined with
        the next block and confirmed like the hot wallet's own; `drop` and `delay` rules
        on the address apply to it too. Invalid input raises PayoutdError and records
        nothing."""
        asset = resolve_asset(currency, self.network)
        try:
            address = self.validate_address(address)
        except ValueError as exc:
            raise field_error("invalid_address", "address", str(exc)) from None
        try:
            value = parse_amount(amount)
        except ValueError as exc:
            raise field_error("invalid_amount", "amount", f"amount {exc}") from None
        if decimals_of(value) > asset.decimals:
            raise field_error(
                "invalid_amount",
                "amount",
                f"{asset.currency} on {self.network} has {asset.decimals} decimals",
            )
        if sender is not None:
            try:
                sender = self.validate_address(sender)
            except ValueError as exc:
                raise field_error("invalid_address", "sender", str(exc)) from None
        # exact already (its decimals were checked): quantizing only pads it
        outputs = [
            {"address": address, "amount": fmt(quantize(value, asset.decimals, ROUND_CREDIT))}
        ]
        # a fresh id in the hashed body: the same transfer simulated twice is two transfers
        raw = json.dumps(
            {
                "deposit": new_id(),
                "network": self.network,
                "currency": asset.currency,
                "sender": sender,
                "outputs": outputs,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        txid = sandbox_txid(self.network, raw)
        async with self.db.unit() as uow:
            conn = uow.conn
            rules = await self._rules(conn, [address], actions=("drop", "delay"))
            tip = await self._tip(conn)
            await conn.execute(
                sandbox_transactions.insert().values(
                    txid=txid,
                    network=self.network,
                    currency=asset.currency,
                    fee=Decimal(0),  # the sender's wallet pays it, not the operator
                    outputs=outputs,
                    status="dropped" if "drop" in rules else "mempool",
                    block_height=None,
                    release_height=tip + 1 + rules.get("delay", 0),
                    created_at=datetime.now(UTC),
                    sender=sender,
                )
            )
        return {
            "txid": txid,
            "network": self.network,
            "currency": asset.currency,
            "address": address,
            "amount": outputs[0]["amount"],
            "sender": sender,
            "status": "dropped" if "drop" in rules else "mempool",
        }

    async def deposits(
        self, addresses: Sequence[str], currencies: Sequence[str], from_block: int | None
    ) -> tuple[list[ChainDeposit], int]:
        """Outputs paying any of `addresses` in `currencies`, in blocks from `from_block`
        (None: the first block; the sandbox's whole history is payoutd's) up to the last
        block with the network's confirmations, at most DEPOSIT_BLOCK_RANGE blocks."""
        start = 1 if from_block is None else from_block
        wanted = set(addresses)
        async with self.db.read() as uow:
            tip = await self._tip(uow.conn)
            last = min(tip - self.confirmations + 1, start + DEPOSIT_BLOCK_RANGE - 1)
            if last < start:
                return [], start  # nothing newly confirmed
            rows = (
                await uow.conn.execute(
                    select(
                        sandbox_transactions.c.txid,
                        sandbox_transactions.c.currency,
                        sandbox_transactions.c.outputs,
                        sandbox_transactions.c.block_height,
                        sandbox_transactions.c.sender,
                    )
                    .where(
                        sandbox_transactions.c.network == self.network,
                        sandbox_transactions.c.status == "mined",
                        sandbox_transactions.c.currency.in_(list(currencies)),
                        sandbox_transactions.c.block_height >= start,
                        sandbox_transactions.c.block_height <= last,
                    )
                    .order_by(sandbox_transactions.c.block_height, sandbox_transactions.c.seq)
                )
            ).all()
        found = [
            ChainDeposit(
                network=self.network,
                currency=currency,
                address=output["address"],
                amount=Decimal(output["amount"]),
                txid=txid,
                index=index,
                block=int(height),
                confirmations=tip - int(height) + 1,
                sender=sender,
            )
            for txid, currency, outputs, height, sender in rows
            for index, output in enumerate(outputs)
            if output["address"] in wanted
        ]
        return found, last + 1


async def add_rule(
    db: Database, *, address: str, action: str, network: str | None = None, blocks: int = 0
) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    rule_id = new_id()
    async with db.unit() as uow:
        await uow.conn.execute(
            sandbox_rules.insert().values(
                id=rule_id,
                network=network,
                address=address,
                action=action,
                blocks=blocks,
                created_at=datetime.now(UTC),
            )
        )
    return rule_id


async def transactions(
    db: Database,
    *,
    network: str | None = None,
    before_seq: int | None = None,
    limit: int = 50,
    merchant_id: str | None = None,
) -> list[dict[str, Any]]:
    """What the sandbox mined (and holds in its mempool), newest first; with
    `merchant_id`, only the transactions that carry that merchant's payouts (whole:
    the caller shows the merchant its own part, payoutd.services.shares)."""
    async with db.read() as uow:
        tips = {
            n: h
            for n, h in await uow.conn.execute(
                select(sandbox_blocks.c.network, func.max(sandbox_blocks.c.height)).group_by(
                    sandbox_blocks.c.network
                )
            )
        }
        stmt = select(sandbox_transactions).order_by(sandbox_transactions.c.seq.desc()).limit(limit)
        if before_seq is not None:
            stmt = stmt.where(sandbox_transactions.c.seq < before_seq)
        if network:
            stmt = stmt.where(sandbox_transactions.c.network == network)
        if merchant_id is not None:
            stmt = stmt.where(
                sandbox_transactions.c.txid.in_(
                    select(batches.c.txid)
                    .join(payouts, payouts.c.batch_id == batches.c.id)
                    .where(payouts.c.merchant_id == merchant_id)
                )
            )
        rows = (await uow.conn.execute(stmt)).all()
    out = []
    for r in rows:
        m = r._mapping
        height = m["block_height"]
        confirmations = (tips.get(m["network"], 0) - height + 1) if height else 0
        out.append(
            {
                "seq": m["seq"],
                "txid": m["txid"],
                "network": m["network"],
                "currency": m["currency"],
                "status": m["status"],
                "fee": m["fee"],
                "fee_currency": NETWORKS[m["network"]].native,
                "block_height": height,
                "confirmations": confirmations,
                "outputs": [
                    {"address": o["address"], "amount": o["amount"], "memo": o.get("memo") or None}
                    for o in m["outputs"]
                ],
                "created_at": m["created_at"].isoformat().replace("+00:00", "Z"),
                "sender": m["sender"],
            }
        )
    return out
