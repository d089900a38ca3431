"""What the services need from the edges: the unit of work and its repositories
(the database's adapter), the chains, the rates, the clock, the secrets. Services know these
Protocols, never their implementations, and the records they pass around live in
payoutd.domain."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from payoutd.domain.access import ApiKey, Merchant, MerchantPolicy, Totp
from payoutd.domain.assets import Asset
from payoutd.domain.banking import (
    BankPayment,
    ChainDeposit,
    Originator,
    OutgoingPayment,
    ReviewItem,
    StatementLine,
)
from payoutd.domain.batches import Batch
from payoutd.domain.batching import Output
from payoutd.domain.errors import PayoutdError
from payoutd.domain.events import Event
from payoutd.domain.fees import ServiceFee
from payoutd.domain.idempotency import StoredRequest
from payoutd.domain.imports import PayoutImport, Row, RowResult
from payoutd.domain.ledger import Balance, Entry, HoldRequest
from payoutd.domain.parties import AccountStatus, BankAccount, Customer, KycStatus, Wallet
from payoutd.domain.payout import (
    Change,
    DialectRecord,
    Payout,
    RampChange,
    RampPayout,
    RampStatus,
    RampType,
    Status,
)
from payoutd.domain.rates import Rate
from payoutd.domain.webhooks import Delivery, Endpoint, Lane, Outcome


class Payouts(Protocol):
    async def get(
        self, merchant_id: str | None, payout_id: str, *, for_update: bool = False
    ) -> Payout | None: ...

    async def by_order_ids(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Payout]: ...

    async def claim(
        self,
        status: Status,
        *,
        network: str | None = None,
        currency: str | None = None,
        due_before: datetime | None = None,
        expires_before: datetime | None = None,
        limit: int = 500,
        unbatched: bool = False,
    ) -> list[Payout]: ...

    async def in_status(
        self,
        status: Status,
        *,
        due_before: datetime | None = None,
        expires_before: datetime | None = None,
        limit: int = 500,
    ) -> list[Payout]: ...

    async def save_many(self, changes: Sequence[Change]) -> None: ...

    async def in_batch(self, batch_id: str) -> list[Payout]: ...

    async def add_dialect_record(self, record: DialectRecord) -> None: ...

    async def dialect_records(self, payout_ids: Sequence[str]) -> dict[str, DialectRecord]: ...

    async def queues(self, status: Status) -> Sequence[tuple[str, str, datetime]]: ...

    async def release_reserved(self, network: str, batch_id: str | None = None) -> int: ...

    async def set_confirmations(self, batch_id: str, confirmations: int, now: datetime) -> None: ...


class Placements(Protocol):
    """New payouts written with their holds and `payout.created` events."""

    async def add(
        self,
        new: Sequence[Payout],
        held: Sequence[HoldRequest],
        created: Sequence[Event],
        now: datetime,
    ) -> set[str]: ...

    async def add_if_funded(
        self,
        new: Sequence[Payout],
        held: Sequence[HoldRequest],
        created: Sequence[Event],
        now: datetime,
    ) -> set[str] | None: ...


class Ledger(Protocol):
    async def balances_of(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Balance]: ...

    async def post(
        self,
        kind: str,
        reference: str | None,
        entries: list[Entry],
        now: datetime,
        *,
        release: dict[str, Decimal] | None = None,
    ) -> str: ...

    async def check_holds(
        self, wanted: Sequence[HoldRequest], *, field_name: str = "amount"
    ) -> list[PayoutdError | None]: ...

    async def add_holds(self, granted: Sequence[HoldRequest], now: datetime) -> list[str]: ...

    async def settle_holds(
        self,
        posts: Sequence[tuple[str, list[Entry]]],
        voids: Sequence[str],
        kind: str,
        now: datetime,
    ) -> list[str]: ...


class Merchants(Protocol):
    async def add(self, merchant: Merchant) -> None: ...

    async def get(self, merchant_id: str) -> Merchant | None: ...

    async def policy(self, merchant_id: str) -> MerchantPolicy | None: ...

    async def add_key(self, key: ApiKey) -> None: ...

    async def key(self, merchant_id: str, key_id: str) -> ApiKey | None: ...

    async def keys(self, merchant_id: str) -> list[ApiKey]: ...

    async def revoke_key(self, key_id: str, now: datetime) -> None: ...

    async def touch_key(self, key_id: str, now: datetime) -> None: ...

    async def webhook_secret(self, merchant_id: str) -> str | None: ...

    async def set_webhook_secret(self, merchant_id: str, secret: str) -> None: ...

    async def totp(self, merchant_id: str, *, for_update: bool = False) -> Totp: ...

    async def set_totp(self, merchant_id: str, **values: object) -> None: ...

    async def totp_failures(self, merchant_id: str, *, since: datetime) -> list[datetime]: ...

    async def add_totp_failure(
        self, merchant_id: str, at: datetime, *, forget_before: datetime
    ) -> None: ...

    async def clear_totp_failures(self, merchant_id: str) -> None: ...

    async def forbid_payouts_until(self, merchant_id: str, until: datetime) -> datetime: ...

    async def lift_cooldown(self, merchant_id: str) -> datetime | None: ...

    async def set_address_allowlist(self, merchant_id: str, enabled: bool) -> None: ...

    async def add_address(
        self, merchant_id: str, network: str, address: str, label: str | None, now: datetime
    ) -> str | None: ...

    async def remove_address(
        self, merchant_id: str, address_id: str
    ) -> dict[str, object] | None: ...

    async def address_saved(self, merchant_id: str, network: str, address: str) -> bool: ...


class ServiceFees(Protocol):
    async def of_many(self, merchant_ids: Sequence[str]) -> dict[str, dict[str, ServiceFee]]: ...

    async def set(
        self, merchant_id: str, currency: str, fee: ServiceFee, now: datetime
    ) -> None: ...


class RampPayouts(Protocol):
    """Ramp payouts (domain.payout.RampPayout), compare-and-set on every change."""

    async def add(self, ramp: RampPayout) -> RampPayout:
        """Insert with the customer's next `number` (the one stored is returned)."""
        ...

    async def get(
        self, merchant_id: str | None, ramp_id: str, *, for_update: bool = False
    ) -> RampPayout | None: ...

    async def by_memo(self, memo: str) -> RampPayout | None: ...

    async def page(
        self,
        merchant_id: str | None,
        *,
        lookup_key: str | None = None,
        status: RampStatus | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[RampPayout]:
        """Newest first, ids below `before_id`."""
        ...

    async def in_status(
        self, status: RampStatus, type_: RampType, *, limit: int = 100
    ) -> list[RampPayout]: ...

    async def pending_off_ramps(
        self, source_network: str, source_currency: str, sender: str
    ) -> list[RampPayout]: ...

    async def save(self, change: RampChange) -> None:
        """Raises ConcurrentChange unless the row was at the version `change` started from."""
        ...


class BankBook(Protocol):
    """What came in and went out of the operator's funding accounts and wallets: statement
    lines and chain deposits (each stored once), the review queue, payments and their
    files."""

    async def add_line(
        self, line: StatementLine, outcome: str, ramp_id: str | None, now: datetime
    ) -> str | None:
        """The stored line's id; None when (account, reference) is stored already."""
        ...

    async def set_line_outcome(self, line_id: str, outcome: str, ramp_id: str | None) -> None: ...

    async def line(self, line_id: str) -> StatementLine | None: ...

    async def add_deposit(
        self, deposit: ChainDeposit, outcome: str, ramp_id: str | None, now: datetime
    ) -> str | None:
        """The stored deposit's id; None when (network, txid, index) is stored already."""
        ...

    async def set_deposit_outcome(
        self, deposit_id: str, outcome: str, ramp_id: str | None
    ) -> None: ...

    async def deposit(self, deposit_id: str) -> ChainDeposit | None: ...

    async def add_review(self, kind: str, subject_id: str, reason: str, now: datetime) -> str: ...

    async def review_items(
        self, status: str | None, *, limit: int = 100, before_id: str | None = None
    ) -> list[ReviewItem]: ...

    async def review_item(self, item_id: str, *, for_update: bool = False) -> ReviewItem | None: ...

    async def resolve_review(
        self,
        item_id: str,
        status: str,
        ramp_id: str | None,
        by: str,
        note: str | None,
        now: datetime,
    ) -> bool:
        """Compare-and-set from `open`; False when another resolution came first."""
        ...

    async def add_payment(self, payment: BankPayment, now: datetime) -> None: ...

    async def payment(self, payment_id: str) -> BankPayment | None: ...

    async def payment_of(self, ramp_id: str) -> BankPayment | None: ...

    async def unexported(self, currency: str, *, limit: int = 10_000) -> list[BankPayment]: ...

    async def sandbox_due(self, now: datetime, *, limit: int = 100) -> list[BankPayment]: ...

    async def set_payment_status(
        self,
        payment_id: str,
        expected: str,
        status: str,
        now: datetime,
        *,
        export_id: str | None = None,
    ) -> bool: ...

    async def exports_since(self, currency: str, since: datetime) -> int: ...

    async def add_export(
        self,
        export_id: str,
        currency: str,
        format_: str,
        payments: int,
        total: Decimal,
        content: str,
        now: datetime,
    ) -> None: ...


class Signatures(Protocol):
    async def first_use(
        self, key_id: str, signature: str, *, expires_at: datetime, now: datetime
    ) -> bool: ...


class Outbox(Protocol):
    async def add(
        self,
        type_: str,
        merchant_id: str | None,
        subject_id: str | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> str: ...

    async def add_many(self, events: Sequence[Event], now: datetime) -> list[str]: ...


class Batches(Protocol):
    async def add(self, batch: Batch) -> None: ...

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None: ...

    async def set_status(
        self, batch_id: str, expected: str, status: str, now: datetime, **values: Any
    ) -> bool: ...

    async def next_sequence(self, network: str) -> int | None: ...


class Audit(Protocol):
    async def record(
        self,
        *,
        actor: str,
        action: str,
        now: datetime,
        merchant_id: str | None = None,
        subject_id: str | None = None,
        details: dict[str, Any] | None = None,
        source: str | None = None,
    ) -> str: ...


class Webhooks(Protocol):
    async def add_endpoint(self, e: Endpoint) -> None: ...

    async def endpoint(
        self, merchant_id: str | None, endpoint_id: str, *, for_update: bool = False
    ) -> Endpoint | None: ...

    async def endpoints_by_id(self, endpoint_ids: Sequence[str]) -> dict[str, Endpoint]: ...

    async def enabled_endpoints(self, merchant_ids: set[str]) -> list[Endpoint]: ...

    async def update_endpoint(self, endpoint_id: str, now: datetime, **values: Any) -> None: ...

    async def cancel_pending(self, endpoint_id: str) -> None: ...

    async def undispatched(self, limit: int) -> list[dict[str, Any]]: ...

    async def mark_dispatched(self, seqs: list[int], now: datetime) -> None: ...

    async def events(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def add_deliveries(self, rows: list[dict[str, Any]]) -> None: ...

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, *, skip_lanes: Sequence[str] = ()
    ) -> list[Delivery]: ...

    async def renew_leases(self, held: dict[str, datetime], until: datetime) -> list[str]: ...

    async def record(
        self,
        delivery: Delivery,
        *,
        at: datetime,
        status: str,
        next_attempt_at: datetime | None,
        status_code: int | None,
        latency_ms: int | None,
        error: str | None,
    ) -> None: ...

    async def record_many(self, outcomes: Sequence[Outcome]) -> None: ...

    async def delivery(self, lane: Lane, delivery_id: str) -> Delivery | None: ...

    async def redeliver(self, delivery_id: str, now: datetime) -> None: ...


class CallbackFormat(Protocol):
    """A provider's webhook format, for callback_urls of payouts its dialect created
    (payoutd.dialects): whether an event is sent in it, and the headers and body of one
    (signed with `secret`, the API key that created the payout, where the provider signs;
    `record` is what the dialect kept of the payout)."""

    def wants(self, event: Mapping[str, Any]) -> bool: ...

    def render(
        self, event: Mapping[str, Any], secret: str, record: DialectRecord
    ) -> tuple[dict[str, str], str]: ...


class EndpointFormat(Protocol):
    """A provider's webhook format for endpoints subscribed through its dialect (Calypso's
    webhook subscriptions): whether an event is sent in it, and the headers and body of
    one, signed with the endpoint's own key (`key_id`, `secret`)."""

    def wants(self, event: Mapping[str, Any]) -> bool: ...

    def render(
        self, event: Mapping[str, Any], key_id: str, secret: str
    ) -> tuple[dict[str, str], str]: ...


class Idempotency(Protocol):
    async def claim(
        self, merchant_id: str, key: str, request_hash: str, now: datetime, locked_until: datetime
    ) -> bool: ...

    async def get(self, merchant_id: str, key: str) -> StoredRequest | None: ...

    async def retake(
        self, merchant_id: str, key: str, now: datetime, locked_until: datetime
    ) -> bool: ...

    async def complete(self, merchant_id: str, key: str, status: int, body: Any) -> None: ...

    async def release(self, merchant_id: str, key: str) -> None: ...


class Parties(Protocol):
    """A merchant's customers, bank accounts and wallets (ramp payouts). A read names the
    merchant (None: the operator, any merchant's); account numbers and IBANs come back
    opened, whatever the store keeps of them."""

    async def add_customer(self, c: Customer) -> None: ...

    async def customer(self, merchant_id: str | None, customer_id: str) -> Customer | None: ...

    async def customers(
        self,
        merchant_id: str,
        *,
        lookup_key: str | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[Customer]: ...

    async def set_kyc(self, customer_id: str, status: KycStatus, now: datetime) -> None: ...

    async def add_bank_account(self, a: BankAccount) -> None: ...

    async def bank_account(
        self, merchant_id: str | None, account_id: str
    ) -> BankAccount | None: ...

    async def bank_accounts(
        self,
        merchant_id: str,
        *,
        lookup_key: str | None = None,
        customer_id: str | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[BankAccount]: ...

    async def set_bank_account_status(
        self, account_id: str, status: AccountStatus, now: datetime
    ) -> None: ...

    async def add_wallet(self, w: Wallet) -> None: ...

    async def wallet(self, merchant_id: str | None, wallet_id: str) -> Wallet | None: ...

    async def wallets(
        self,
        merchant_id: str,
        *,
        lookup_key: str | None = None,
        customer_id: str | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[Wallet]: ...

    async def set_wallet_status(
        self, wallet_id: str, status: AccountStatus, now: datetime
    ) -> None: ...


class Sealed(Protocol):
    async def reseal(self, change: Callable[[str], str]) -> int: ...


class ChainDeposits(Protocol):
    """Transfers into the operator's funding wallets, recorded once each, and where each
    network's deposit watch has got to."""

    async def cursor(self, network: str) -> int | None:
        """The first block of `network` not scanned yet (None: never scanned)."""
        ...

    async def add(self, deposit: ChainDeposit, now: datetime) -> bool:
        """Record the deposit; False when it is recorded already (a rescan, or another
        worker got there first: on PostgreSQL the second waits for the first's commit)."""
        ...

    async def advance(self, network: str, next_block: int, now: datetime) -> None:
        """Move the cursor forward to `next_block`; never back (a slower scanner that
        finishes last does not undo a faster one's progress)."""
        ...


class Imports(Protocol):
    async def add(self, imp: PayoutImport, rows: Sequence[Row]) -> None: ...

    async def get(self, merchant_id: str | None, import_id: str) -> PayoutImport | None: ...

    async def page(
        self, merchant_id: str, *, before_id: str | None, limit: int
    ) -> list[PayoutImport]: ...

    async def rows(self, import_id: str) -> list[Row]: ...

    async def any_claimable(self, now: datetime) -> bool: ...

    async def claim(
        self, owner: str, now: datetime, lease_until: datetime
    ) -> PayoutImport | None: ...

    async def advance(
        self,
        imp: PayoutImport,
        owner: str,
        results: Sequence[RowResult],
        *,
        next_row: int,
        now: datetime,
        lease_until: datetime,
    ) -> bool: ...

    async def fail(self, import_id: str, owner: str, error: str, now: datetime) -> None: ...

    async def results(
        self,
        import_id: str,
        *,
        status: str | None = None,
        after_number: int | None = None,
        limit: int = 100,
    ) -> list[RowResult]: ...


class UnitOfWork(Protocol):
    """One database transaction, opened and committed by the request
    or the job; services only read and write through its repositories."""

    @property
    def payouts(self) -> Payouts: ...

    @property
    def placements(self) -> Placements: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def merchants(self) -> Merchants: ...

    @property
    def service_fees(self) -> ServiceFees: ...

    @property
    def signatures(self) -> Signatures: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def batches(self) -> Batches: ...

    @property
    def audit(self) -> Audit: ...

    @property
    def webhooks(self) -> Webhooks: ...

    @property
    def sealed(self) -> Sealed: ...

    @property
    def parties(self) -> Parties: ...

    @property
    def idempotency(self) -> Idempotency: ...

    @property
    def ramps(self) -> RampPayouts: ...

    @property
    def bank(self) -> BankBook: ...

    @property
    def chain_deposits(self) -> ChainDeposits: ...

    @property
    def imports(self) -> Imports: ...

    async def connection_closed(self) -> bool: ...


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


class PaymentFiles(Protocol):
    """The files of real banks (payoutd.rails.files): payment files the operator uploads,
    statements the operator downloads. Refusals are PayoutdErrors naming the field."""

    def export(
        self,
        originator: Originator,
        payments: Sequence[OutgoingPayment],
        *,
        reference: str,
        created_at: datetime,
        execution_date: date,
        file_number: int = 1,
    ) -> tuple[str, bytes]:
        """(file name, content): a SEPA pain.001 for a EUR originator account, a NACHA
        file for a USD one. `reference` (1-35 letters, digits, '-') names the file;
        `file_number` counts the files of `created_at`'s day for this account, from 1."""
        ...

    def read(self, data: bytes) -> list[StatementLine]:
        """The booked lines of a camt.053 or MT940 statement, with references that are
        the same however often the file is read (`statement_unreadable` otherwise)."""
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
    # mempool unmined; conflicted: replaced or double-spent; reverted: mined but failed;
    # expired: the chain proves none of it was included or ever can be (a Solana
    # blockhash past its last valid block height, the node's ledger reaching back to it)
    state: str
    confirmations: int = 0  # of the least confirmed transaction of the batch
    # account chains: outputs whose own transaction reverted (they moved no money)
    failed_outputs: frozenset[int] = frozenset()


class NotWritten(Exception):
    """Nothing of the batch was applied: the statement was refused, or never sent."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


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

    async def prepare(
        self,
        batch_id: str,
        asset: Asset,
        outputs: list[Output],
        priority: str | None,
        *,
        payout_count: int,
        next_sequence: int | None,
    ) -> PreparedTx:
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


class BankRail(Protocol):
    """How payments reach a bank, like Chain for chains. The sandbox bank (the embedded
    default) takes payments itself and settles them after a delay; real banks take
    payment files the operator uploads (PaymentFiles) and confirm in their statements."""

    @property
    def name(self) -> str:
        """ "sandbox" or "files"."""
        ...

    @property
    def settle_seconds(self) -> float:
        """The sandbox bank settles a payment this long after it was handed over."""
        ...

    def accepts_payments(self) -> bool:
        """True: payments are handed to the rail as they are made (the sandbox); False:
        they wait for the operator's export of a payment file."""
        ...


@runtime_checkable
class Deposits(Protocol):
    """A chain adapter that can see incoming token transfers (the sandbox chain, EVM): what
    funds an off-ramp. Adapters without it are simply not watched."""

    async def deposits(
        self, addresses: Sequence[str], currencies: Sequence[str], from_block: int | None
    ) -> tuple[list[ChainDeposit], int]:
        """Transfers of `currencies` to any of `addresses` mined in blocks from `from_block`
        on that have at least the network's confirmations, oldest first, and the block
        to ask from next time. A call covers a bounded range of blocks, so catching up
        takes several; it never returns a transfer with fewer confirmations, so nothing
        it returns can still be reorganised away (within the network's confirmations).
        `from_block` None (never scanned): the adapter picks the start, a live chain
        the first block not confirmed yet (what a funding wallet received before
        payoutd watched it is not payoutd's), the sandbox its first block (its whole
        history is payoutd's)."""
        ...
