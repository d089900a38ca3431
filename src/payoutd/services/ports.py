"""The small interfaces services need from the edges (chains, clock, secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from payoutd.domain.assets import Asset
from payoutd.domain.batching import Output
from payoutd.domain.rates import Rate


class Rates(Protocol):
    """Exchange rates by source name (payoutd.rates.RateSources)."""

    @property
    def available(self) -> tuple[str, ...]: ...

    def resolve(self, name: str | None) -> str: ...

    async def rate(self, base: str, quote: str, source: str | None = None) -> Rate: ...


class MetricsSink(Protocol):
    def transition(self, old: str, new: str) -> None: ...

    def created(self, network: str, currency: str) -> None: ...

    def wallet_shortfall(self, network: str, currency: str) -> None: ...

    def intake_batch(self, payouts: int) -> None: ...

    def totp_failure(self, reason: str) -> None: ...

    def totp_lockout(self) -> None: ...


class Secrets(Protocol):
    """Seals secrets for storage and opens them where they are used (payoutd.secretbox):
    what the database holds is never a usable secret."""

    def seal(self, plaintext: str) -> str: ...

    def open(self, sealed: str) -> str: ...

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the newest master key."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PreparedTx:
    """A batch's signed (or fully determined) transactions, recorded before broadcast.

    On UTXO chains (and the sandbox) one transaction carries every output. On account
    chains a batch is an ordered run of transactions from one hot wallet, one per output,
    with consecutive nonces; `output_txids` then names each output's transaction."""

    txid: str  # the batch's transaction, or the first of its run
    raw: str  # all the adapter needs to broadcast the very same transactions again
    fee: Decimal  # in the network's native coin (an upper bound until mined, on EVM)
    fee_currency: str
    # what the same payouts would have cost one transaction each, at the same fee rate
    unbatched_fee: Decimal | None = None
    output_txids: tuple[str, ...] = ()  # per output, in order; empty: all share `txid`
    # what each output actually pays, in order, once fees were subtracted from the
    # outputs that asked for it; empty: every output pays what was asked
    output_amounts: tuple[Decimal, ...] = ()
    sequence_end: int | None = None  # account chains: the last nonce this batch uses

    def txid_of(self, output_index: int) -> str:
        return self.output_txids[output_index] if self.output_txids else self.txid


@dataclass(frozen=True, slots=True)
class TxState:
    # unknown: the chain has never seen it; mempool; mined; dropped: gone from the
    # mempool unmined; conflicted: replaced or double-spent; reverted: mined but failed
    state: str
    confirmations: int = 0  # of the least confirmed transaction of the batch
    # account chains: outputs whose own transaction reverted (they moved no money)
    failed_outputs: frozenset[int] = frozenset()


class ConcurrentChange(Exception):
    """Another process changed the payout first (its version moved on); the caller's
    transaction must roll back."""


class Rejected(Exception):
    """The chain definitively refused the transaction: nothing was sent."""


class OutputRejected(Exception):
    """Building the batch failed because of some of its outputs (an address the node
    refuses, an amount under the dust limit after fees): those payouts cannot be sent."""

    def __init__(self, indices: frozenset[int], reason: str) -> None:
        super().__init__(reason)
        self.indices = indices
        self.reason = reason


class ChainUnavailable(Exception):
    """The node could not be reached or answered ambiguously: the outcome is unknown."""


class Chain(Protocol):
    network: str
    mode: str  # "sandbox" or "live"
    confirmations: int
    batch_window_seconds: float | None  # None: the global default

    def validate_address(self, address: str) -> str: ...

    def validate_txid(self, txid: str) -> str:
        """`txid` in this network's form, or ValueError (the family's rule)."""
        ...

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        """The network fee one payout of `asset` is charged, in the asset's currency."""
        ...

    async def shortfall(self, asset: Asset, outputs: list[Output]) -> str | None:
        """Why the hot wallet cannot pay these outputs now (None when it can). A batch
        that cannot be paid waits, with this reason in the log and the metrics."""
        ...

    async def prepare(self, batch_id: str, asset: Asset, outputs: list[Output],
                      priority: str | None, *, payout_count: int,
                      next_sequence: int | None) -> PreparedTx:
        """Build and sign (or fully determine) the batch's transactions. `payout_count` (at
        least len(outputs): same-address payouts are merged) prices the comparison with
        sending each payout on its own. `next_sequence`: on account chains, the first
        nonce payoutd has not recorded yet for this wallet (None: nothing recorded); the
        adapter uses the larger of it and the node's pending nonce."""
        ...

    async def release(self, tx: PreparedTx) -> None:
        """Forget a prepared transaction that will never be broadcast (unlock its coins,
        free its nonce)."""
        ...

    async def broadcast(self, tx: PreparedTx) -> None:
        """Idempotent: broadcasting a transaction the chain already has is not an error."""
        ...

    async def status(self, tx: PreparedTx) -> TxState: ...
