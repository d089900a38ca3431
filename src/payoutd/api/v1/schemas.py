"""Request and response models of the native API. Amounts travel as strings.

Every request model here is the one validation of its body: the FastAPI routes and the
payout lane (payoutd.api.payout_lane, `PayoutCreate.model_validate_json`) both use them,
so a body is refused or taken the same way on either path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

from payoutd.domain.money import DECIMAL_PATTERN, fmt, parse_amount, parse_decimal

_DECIMAL_DOC = (
    "A decimal string: digits and an optional fraction (at most 20 digits before "
    "the point, 18 after it). No JSON number, sign, exponent, spaces or leading "
    "zeros."
)

# a positive amount
AmountIn = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    PlainSerializer(fmt, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "example": "0.5",
            "description": _DECIMAL_DOC + " Greater than zero.",
        }
    ),
]
# zero or more (fees)
DecimalIn = Annotated[
    Decimal,
    BeforeValidator(parse_decimal),
    PlainSerializer(fmt, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DECIMAL_PATTERN,
            "example": "0.5",
            "description": _DECIMAL_DOC,
        }
    ),
]

# when a scheduled payout is released: an instant, so its offset must be said, and within
# years a payout can sensibly wait for (a year 1 or 9999 is a typo, or a probe)
EXECUTE_AT_YEARS = (2000, 2200)
_INSTANT_DOC = (
    f"An RFC 3339 date-time with its UTC offset or `Z`, e.g. "
    f"`2030-01-01T09:00:00Z` or `2030-01-01T10:00:00+01:00`; a time without an "
    f"offset or a bare date is refused. Years {EXECUTE_AT_YEARS[0]} to "
    f"{EXECUTE_AT_YEARS[1]}. Shown back in UTC."
)


def _text_only(value: Any) -> Any:
    """An instant arrives as text: pydantic would also read a number as Unix time."""
    if not isinstance(value, str | datetime):
        raise ValueError(
            "must be a date-time string with its UTC offset, e.g. 2030-01-01T09:00:00Z"
        )
    return value


def _instant(value: datetime) -> datetime:
    """The instant in UTC, as it is stored and shown (the answer to the create, the
    payout.created event and every later read say the same)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry its UTC offset or Z, e.g. 2030-01-01T09:00:00Z")
    low, high = EXECUTE_AT_YEARS
    if not low <= value.year <= high:
        raise ValueError(f"must be in the years {low} to {high}")
    return value.astimezone(UTC)


Instant = Annotated[
    datetime,
    BeforeValidator(_text_only),
    AfterValidator(_instant),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "example": "2030-01-01T09:00:00Z",
            "description": _INSTANT_DOC,
        }
    ),
]

ORDER_ID = r"^[A-Za-z0-9_\-]{1,100}$"

# A payout's metadata: Stripe's limits. Flat pairs of strings, so that what a merchant
# stores can always be shown again (a value nested hundreds of levels deep could be
# stored, then never rendered as JSON).
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=METADATA_KEY_MAX)],
        Annotated[str, StringConstraints(max_length=METADATA_VALUE_MAX)],
    ],
    Field(
        max_length=METADATA_MAX_KEYS,
        description=f"Your own key-value pairs, returned as given: at most "
        f"{METADATA_MAX_KEYS} keys, each key 1 to {METADATA_KEY_MAX} "
        f"characters, each value a string of at most {METADATA_VALUE_MAX} "
        f"characters (no numbers, booleans, nulls, lists or objects).",
    ),
]


BALANCE_CURRENCY = (
    "The balance that pays: any currency the merchant holds, crypto or fiat (USD, EUR and "
    "any other fiat the rates file prices). Left out, the balance of the currency sent "
    "pays. Another currency's balance is debited what the payout costs (amount and fees, "
    "in the currency sent) converted at the quoted rate, rounded up to its decimals; "
    "`debit` shows the amount and `rate` the rate."
)


class PayoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: AmountIn
    currency: str = Field(min_length=2, max_length=10, examples=["USDT"])
    address: str = Field(min_length=1, max_length=128)
    network: str | None = Field(default=None, max_length=10, examples=["TRON"])
    payout_currency: str | None = Field(default=None, max_length=10)
    memo: str | None = Field(default=None, max_length=64)
    balance_currency: str | None = Field(
        default=None, max_length=10, examples=["USD"], description=BALANCE_CURRENCY
    )
    fee_mode: Literal["on_top", "from_amount"] = "on_top"
    priority: Literal["economy", "recommended", "high", "highest"] | None = None
    rate_source: str | None = Field(default=None, max_length=20)
    approval: Literal["auto", "manual"] = "auto"
    execute_at: Instant | None = None
    order_id: str | None = Field(default=None, pattern=ORDER_ID)
    # checked by services.webhooks.check_url, the rule for every webhook URL
    callback_url: str | None = Field(default=None, max_length=2048)
    comment: str | None = Field(default=None, max_length=1000)
    metadata: Metadata = Field(default_factory=dict)


class QuoteCreate(BaseModel):
    """A payout to price: the same fields as a payout, the address optional."""

    model_config = ConfigDict(extra="forbid")

    amount: AmountIn
    currency: str = Field(min_length=2, max_length=10, examples=["USD"])
    payout_currency: str | None = Field(default=None, max_length=10, examples=["LTC"])
    network: str | None = Field(default=None, max_length=10)
    address: str | None = Field(default=None, min_length=1, max_length=128)
    memo: str | None = Field(default=None, max_length=64)
    balance_currency: str | None = Field(
        default=None, max_length=10, examples=["USD"], description=BALANCE_CURRENCY
    )
    fee_mode: Literal["on_top", "from_amount"] = "on_top"
    priority: Literal["economy", "recommended", "high", "highest"] | None = None
    rate_source: str | None = Field(default=None, max_length=20)


class Fees(BaseModel):
    network: str
    service: str
    total: str
    currency: str


class Debit(BaseModel):
    amount: str
    currency: str


class Rate(BaseModel):
    """One `base` (the payout currency) costs `value` `quote`."""

    value: str | None
    base: str | None
    quote: str | None
    source: str | None
    expires_at: str | None


class PayoutOut(BaseModel):
    id: str
    object: Literal["payout"]
    order_id: str | None
    status: str
    is_final: bool
    amount: str
    currency: str
    payout_amount: str
    payout_currency: str
    network: str
    address: str
    memo: str | None
    priority: str | None
    fee_mode: str
    fees: Fees
    final_amount: str
    debit: Debit
    rate: Rate
    approval: str
    txid: str | None
    confirmations: int
    batch_id: str | None
    failure_reason: str | None
    execute_at: str | None
    expires_at: str | None
    callback_url: str | None
    comment: str | None
    metadata: dict[str, Any]
    created_at: str
    updated_at: str


class QuoteOut(BaseModel):
    object: Literal["quote"]
    amount: str
    currency: str
    payout_amount: str
    payout_currency: str
    network: str
    address: str | None
    fee_mode: str
    priority: str | None
    fees: Fees
    final_amount: str
    debit: Debit
    rate: Rate
    quoted_at: str
    expires_at: str


class AssetLimitOut(BaseModel):
    network: str
    min_amount: str
    max_amount: str


class LimitsOut(BaseModel):
    currency: str
    available: str
    min_payout_amount: str
    rate_source: str
    assets: list[AssetLimitOut]


class ServiceFeeSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # what the store's NUMERIC(38, 18) holds: a larger `fixed` overflowed it (a 500)
    percent: Annotated[DecimalIn, Field(le=100)] = Decimal(0)
    fixed: DecimalIn = Decimal(0)


class ServiceFeeOut(BaseModel):
    merchant_id: str
    currency: str
    percent: str
    fixed: str


class PayoutList(BaseModel):
    data: list[PayoutOut]
    next_cursor: str | None


class BalanceOut(BaseModel):
    currency: str
    available: str
    held: str
    balance: str


class BalanceList(BaseModel):
    data: list[BalanceOut]
    next_cursor: str | None = None


class AssetOut(BaseModel):
    currency: str
    network: str
    network_name: str
    decimals: int
    min_amount: str
    max_amount: str
    priority: bool
    memo: bool
    contract: str | None
    mode: str
    confirmations: int


class AssetList(BaseModel):
    data: list[AssetOut]
    next_cursor: str | None = None


class LedgerCheck(BaseModel):
    ok: bool
    transactions: int
    entries: int
    accounts: int
    problems: list[str]


class MerchantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class MerchantCreated(BaseModel):
    merchant_id: str
    api_key: str


class DepositCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merchant_id: str = Field(min_length=1, max_length=36)
    currency: str = Field(
        min_length=2,
        max_length=10,
        examples=["USD"],
        description="Any currency payoutd knows, crypto or fiat (USD, EUR and any other "
        "fiat the rates file prices)",
    )
    amount: AmountIn


class DepositOut(BaseModel):
    transaction_id: str
    merchant_id: str
    currency: str
    amount: str


class SandboxOutput(BaseModel):
    address: str
    amount: str
    memo: str | None = None


class SandboxTx(BaseModel):
    txid: str
    network: str
    currency: str
    status: str
    fee: str
    block_height: int | None
    confirmations: int
    outputs: list[SandboxOutput]
    created_at: str
    sender: str | None = Field(
        default=None,
        description="Who paid a transfer simulated into an address (POST "
        "/v1/sandbox/deposits); null for the hot wallet's own batches.",
        examples=["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"],
    )


class SandboxTxList(BaseModel):
    data: list[SandboxTx]
    next_cursor: str | None


class SandboxRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=1, max_length=128)
    action: Literal["reject", "drop", "delay", "refuse"]
    network: str | None = Field(default=None, max_length=10)
    blocks: StrictInt = Field(default=0, ge=0, le=1000)


class SandboxRuleOut(BaseModel):
    id: str


class SandboxDepositCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    network: str = Field(
        min_length=1,
        max_length=10,
        description="A network the sandbox chain serves.",
        examples=["ETH"],
    )
    currency: str = Field(
        min_length=1,
        max_length=10,
        description="What is transferred: an asset of that network (off-ramps watch USDC "
        "and USDT).",
        examples=["USDC"],
    )
    address: str = Field(
        min_length=1,
        max_length=128,
        description="The address paid, checked by the network's rules: a funding wallet "
        "to fund an off-ramp.",
        examples=["0x52908400098527886E0F7030069857D2E4169EE7"],
    )
    amount: str = Field(
        min_length=1,
        max_length=64,
        description="The amount, a decimal string no finer than the asset's decimals.",
        examples=["250.00"],
    )
    sender: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The paying wallet, checked by the network's rules; optional.",
        examples=["0x8617E340B3D01FA5F11F306F4090FD50E238070D"],
    )


class SandboxDepositOut(BaseModel):
    txid: str = Field(
        description="The simulated transfer's transaction id, in its network's form.",
        examples=["0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"],
    )
    network: str = Field(description="The network it is on.", examples=["ETH"])
    currency: str = Field(description="The asset transferred.", examples=["USDC"])
    address: str = Field(
        description="The address paid, normalised as its network writes it.",
        examples=["0x52908400098527886E0F7030069857D2E4169EE7"],
    )
    amount: str = Field(description="The amount, to the asset's decimals.", examples=["250.000000"])
    sender: str | None = Field(
        description="The paying wallet, when given.",
        examples=["0x8617E340B3D01FA5F11F306F4090FD50E238070D"],
    )
    status: Literal["mempool", "dropped"] = Field(
        description="mempool: mined with the next sandbox block, then confirmed like any "
        "transaction; dropped: a `drop` rule on the address lost it.",
        examples=["mempool"],
    )


class ReviewResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["paid", "failed"]
    txid: str | None = Field(default=None, min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=500)
    operator: str = Field(default="operator", min_length=1, max_length=100)


class BatchPayout(BaseModel):
    id: str
    status: str
    address: str
    final_amount: str


class BatchOut(BaseModel):
    id: str
    object: Literal["batch"]
    network: str
    currency: str
    status: str
    txid: str | None
    fee: str | None
    fee_currency: str | None
    unbatched_fee: str | None  # the same payouts one transaction each, at the same fee rate
    fee_saved: str | None
    output_count: int | None
    payout_count: int
    confirmations: int
    created_at: str
    broadcast_at: str | None
    payouts: list[BatchPayout]


class BatchList(BaseModel):
    data: list[BatchOut]
    next_cursor: str | None


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2048, examples=["https://example.com/hooks"])
    event_types: list[str] | None = Field(
        default=None, description='Event types, or ["*"]; none named: every event'
    )
    services: list[str] | None = Field(
        default=None, description='Calypso\'s notificationServiceTypes, e.g. ["PAYOUT"]'
    )
    description: str | None = Field(default=None, max_length=500)


class WebhookEndpointOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"]
    url: str
    event_types: list[str]
    description: str | None
    status: str
    disabled_reason: str | None
    failing_since: str | None
    created_at: str
    secret: str | None = Field(default=None, description="Shown only when created or rotated")
    previous_secret_expires_at: str | None = None


class WebhookEndpointList(BaseModel):
    data: list[WebhookEndpointOut]
    next_cursor: str | None


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_seconds: StrictInt | None = Field(default=None, ge=0, le=7 * 86400)


class WebhookAttemptOut(BaseModel):
    attempt: int
    at: str
    status_code: int | None
    latency_ms: int | None
    error: str | None


class WebhookDeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    created_at: str
    delivered_at: str | None
    attempt_log: list[WebhookAttemptOut]


class WebhookDeliveryList(BaseModel):
    data: list[WebhookDeliveryOut]
    next_cursor: str | None


class MerchantSecretOut(BaseModel):
    secret: str


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: list[Literal["read", "payouts"]] = Field(min_length=1)
    name: str | None = Field(default=None, max_length=200)
    totp_code: str | None = Field(
        default=None, max_length=10, description="Required for a `payouts` key"
    )
    ip_allowlist: list[str] | None = Field(default=None, max_length=100)
    rate_limit_per_minute: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    signed_requests: StrictBool = False


class ApiKeyOut(BaseModel):
    id: str
    object: Literal["api_key"]
    prefix: str
    name: str | None
    scopes: list[str]
    ip_allowlist: list[str] | None
    rate_limit_per_minute: int | None
    signed_requests: bool
    created_at: str
    last_used_at: str | None
    key: str | None = Field(default=None, description="Shown only in the creation response")
    signing_secret: str | None = Field(
        default=None, description="Shown only in the creation response"
    )
    payouts_blocked_until: str | None = None


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]
    next_cursor: str | None = None


class ApiKeyDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    totp_code: str | None = Field(
        default=None, max_length=10, description="Required once two-factor is enrolled"
    )


class TotpOut(BaseModel):
    secret: str
    otpauth_uri: str


class CooldownLifted(BaseModel):
    merchant_id: str
    payouts_blocked_until: None = None
    lifted_until: str | None = Field(
        description="The end the lifted cooldown had; null when none was running"
    )


class AllowlistSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool
    totp_code: str | None = Field(default=None, max_length=10)


class AllowlistOut(BaseModel):
    enabled: bool


class AddressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    network: str = Field(min_length=2, max_length=10)
    address: str = Field(min_length=1, max_length=128)
    label: str | None = Field(default=None, max_length=200)
    totp_code: str | None = Field(default=None, max_length=10)


class AddressOut(BaseModel):
    id: str
    network: str
    address: str
    label: str | None
    created_at: str


class AddressList(BaseModel):
    data: list[AddressOut]
    next_cursor: str | None = None


class AuditEntry(BaseModel):
    id: str
    actor: str
    action: str
    subject_id: str | None
    details: dict[str, Any]
    source: str | None
    created_at: str


class AuditList(BaseModel):
    data: list[AuditEntry]
    next_cursor: str | None = None
