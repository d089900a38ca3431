"""The objects payoutd answers with, as frozen dataclasses: amounts are `Decimal` (the API
sends them as strings, never as JSON numbers), instants are timezone-aware `datetime`s.

Dataclasses rather than Pydantic: the SDK then depends on httpx alone and never fights
an application over its Pydantic version. Each model keeps the whole JSON object in
`raw`, so a field a newer payoutd adds is readable before the SDK names it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _opt_dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _time(value: Any) -> datetime:
    # fromisoformat reads a trailing "Z" only from Python 3.11 on
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _opt_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


@dataclass(frozen=True, slots=True)
class Fees:
    network: Decimal
    service: Decimal
    total: Decimal
    currency: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Fees:
        return cls(_dec(d["network"]), _dec(d["service"]), _dec(d["total"]), d["currency"])


@dataclass(frozen=True, slots=True)
class Debit:
    """What the paying balance is debited."""

    amount: Decimal
    currency: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Debit:
        return cls(_dec(d["amount"]), d["currency"])


@dataclass(frozen=True, slots=True)
class Rate:
    """One `base` costs `value` `quote`; all None when no conversion was needed."""

    value: Decimal | None
    base: str | None
    quote: str | None
    source: str | None
    expires_at: datetime | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rate:
        return cls(
            _opt_dec(d.get("value")),
            d.get("base"),
            d.get("quote"),
            d.get("source"),
            _opt_time(d.get("expires_at")),
        )


@dataclass(frozen=True, slots=True)
class Payout:
    id: str
    order_id: str | None
    status: str
    is_final: bool
    amount: Decimal
    currency: str
    payout_amount: Decimal
    payout_currency: str
    network: str
    address: str
    memo: str | None
    priority: str | None
    fee_mode: str
    fees: Fees
    final_amount: Decimal
    debit: Debit
    rate: Rate
    approval: str
    txid: str | None
    confirmations: int
    batch_id: str | None
    failure_reason: str | None
    execute_at: datetime | None
    expires_at: datetime | None
    callback_url: str | None
    comment: str | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Payout:
        return cls(
            id=d["id"],
            order_id=d.get("order_id"),
            status=d["status"],
            is_final=bool(d["is_final"]),
            amount=_dec(d["amount"]),
            currency=d["currency"],
            payout_amount=_dec(d["payout_amount"]),
            payout_currency=d["payout_currency"],
            network=d["network"],
            address=d["address"],
            memo=d.get("memo"),
            priority=d.get("priority"),
            fee_mode=d["fee_mode"],
            fees=Fees.from_json(d["fees"]),
            final_amount=_dec(d["final_amount"]),
            debit=Debit.from_json(d["debit"]),
            rate=Rate.from_json(d["rate"]),
            approval=d["approval"],
            txid=d.get("txid"),
            confirmations=int(d.get("confirmations") or 0),
            batch_id=d.get("batch_id"),
            failure_reason=d.get("failure_reason"),
            execute_at=_opt_time(d.get("execute_at")),
            expires_at=_opt_time(d.get("expires_at")),
            callback_url=d.get("callback_url"),
            comment=d.get("comment"),
            metadata=dict(d.get("metadata") or {}),
            created_at=_time(d["created_at"]),
            updated_at=_time(d["updated_at"]),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced payout that was not created."""

    amount: Decimal
    currency: str
    payout_amount: Decimal
    payout_currency: str
    network: str
    address: str | None
    fee_mode: str
    priority: str | None
    fees: Fees
    final_amount: Decimal
    debit: Debit
    rate: Rate
    quoted_at: datetime
    expires_at: datetime
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Quote:
        return cls(
            amount=_dec(d["amount"]),
            currency=d["currency"],
            payout_amount=_dec(d["payout_amount"]),
            payout_currency=d["payout_currency"],
            network=d["network"],
            address=d.get("address"),
            fee_mode=d["fee_mode"],
            priority=d.get("priority"),
            fees=Fees.from_json(d["fees"]),
            final_amount=_dec(d["final_amount"]),
            debit=Debit.from_json(d["debit"]),
            rate=Rate.from_json(d["rate"]),
            quoted_at=_time(d["quoted_at"]),
            expires_at=_time(d["expires_at"]),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    available: Decimal
    held: Decimal
    balance: Decimal
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Balance:
        return cls(d["currency"], _dec(d["available"]), _dec(d["held"]), _dec(d["balance"]), raw=d)


@dataclass(frozen=True, slots=True)
class AssetLimit:
    network: str
    min_amount: Decimal
    max_amount: Decimal

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AssetLimit:
        return cls(d["network"], _dec(d["min_amount"]), _dec(d["max_amount"]))


@dataclass(frozen=True, slots=True)
class Limits:
    """What can be paid out in `currency`: every balance converted into it, the smallest
    payout, and per network the bounds of one payout."""

    currency: str
    available: Decimal
    min_payout_amount: Decimal
    rate_source: str
    assets: list[AssetLimit]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Limits:
        return cls(
            d["currency"],
            _dec(d["available"]),
            _dec(d["min_payout_amount"]),
            d["rate_source"],
            [AssetLimit.from_json(a) for a in d["assets"]],
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Asset:
    currency: str
    network: str
    network_name: str
    decimals: int
    min_amount: Decimal
    max_amount: Decimal
    priority: bool
    memo: bool
    contract: str | None
    mode: str
    confirmations: int
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Asset:
        return cls(
            currency=d["currency"],
            network=d["network"],
            network_name=d["network_name"],
            decimals=int(d["decimals"]),
            min_amount=_dec(d["min_amount"]),
            max_amount=_dec(d["max_amount"]),
            priority=bool(d["priority"]),
            memo=bool(d["memo"]),
            contract=d.get("contract"),
            mode=d["mode"],
            confirmations=int(d["confirmations"]),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    event_types: list[str]
    description: str | None
    status: str
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    secret: str | None  # only in the answer to create (and to a secret rotation)
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WebhookEndpoint:
        return cls(
            id=d["id"],
            url=d["url"],
            event_types=list(d["event_types"]),
            description=d.get("description"),
            status=d["status"],
            disabled_reason=d.get("disabled_reason"),
            failing_since=_opt_time(d.get("failing_since")),
            created_at=_time(d["created_at"]),
            secret=d.get("secret"),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    attempt: int
    at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DeliveryAttempt:
        return cls(
            int(d["attempt"]),
            _time(d["at"]),
            d.get("status_code"),
            d.get("latency_ms"),
            d.get("error"),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event's delivery to one endpoint, with its attempts."""

    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[DeliveryAttempt]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Delivery:
        return cls(
            id=d["id"],
            event_id=d["event_id"],
            event_type=d["event_type"],
            status=d["status"],
            attempts=int(d["attempts"]),
            next_attempt_at=_opt_time(d.get("next_attempt_at")),
            last_status_code=d.get("last_status_code"),
            last_error=d.get("last_error"),
            last_latency_ms=d.get("last_latency_ms"),
            created_at=_time(d["created_at"]),
            delivered_at=_opt_time(d.get("delivered_at")),
            attempt_log=[DeliveryAttempt.from_json(a) for a in d.get("attempt_log") or []],
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    prefix: str
    name: str | None
    scopes: list[str]
    ip_allowlist: list[str] | None
    rate_limit_per_minute: int | None
    signed_requests: bool
    created_at: datetime
    last_used_at: datetime | None
    payouts_blocked_until: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ApiKey:
        return cls(
            id=d["id"],
            prefix=d["prefix"],
            name=d.get("name"),
            scopes=list(d["scopes"]),
            ip_allowlist=d.get("ip_allowlist"),
            rate_limit_per_minute=d.get("rate_limit_per_minute"),
            signed_requests=bool(d["signed_requests"]),
            created_at=_time(d["created_at"]),
            last_used_at=_opt_time(d.get("last_used_at")),
            payouts_blocked_until=_opt_time(d.get("payouts_blocked_until")),
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified webhook (payoutd_client.webhooks.verify)."""

    id: str
    type: str
    created_at: datetime | None
    data: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def payout(self) -> Payout | None:
        """The payout a `payout.*` event carries, as it was when the event happened."""
        found = self.data.get("payout")
        return Payout.from_json(found) if isinstance(found, dict) else None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WebhookEvent:
        data = d.get("data")
        return cls(
            id=str(d.get("id")),
            type=str(d.get("type")),
            created_at=_opt_time(d.get("created_at")),
            data=data if isinstance(data, dict) else {},
            raw=d,
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items and the cursor of the next page (None on the last)."""

    data: list[T]
    next_cursor: str | None
