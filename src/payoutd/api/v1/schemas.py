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


# -- shared wording -----------------------------------------------------------------------

ID_EXAMPLE = "0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8a"
TIME_EXAMPLE = "2026-12-08T09:30:00Z"
_TIME_DOC = "An RFC 3339 date-time in UTC (`Z`)"
AMOUNT_OUT = (
    "A decimal string (never a JSON number), at the precision of its currency: "
    "the asset's decimals for crypto, 2 for fiat"
)
_CURSOR_DOC = (
    "Pass as `cursor` to read the next (older) page; null on the last page. Opaque: use it as given"
)
CURSOR_EXAMPLE = "djE6MDE5M2I1YzItN2U0YS03YzFkLTlhMmItM2Y0ZTVkNmM3Yjhh"
CURRENCY_DOC = (
    "A currency code in capitals: a crypto asset payoutd lists in `GET /v1/assets` "
    "(`BTC`, `LTC`, `USDT`, ...) or a fiat the rates file prices (`USD`, `EUR`, ...)"
)
NETWORK_DOC = (
    "The network (chain) code, as `GET /v1/assets` lists it (`BTC`, `LTC`, `ETH`, "
    "`TRON`, `BSC`, `POLYGON`, `SOL`, `TON`, `DOGE`, ...)"
)
STATUS_DOC = (
    "`pending_approval`: an offer, nothing held until approved (or `expired` after "
    "`expires_at`); `scheduled`: funds held, waiting for `execute_at`; `queued`: "
    "funds held, waiting for the next batch (cancellable until a batch takes it); "
    "`sending`: in a batch whose transaction is being signed and broadcast; "
    "`confirming`: broadcast, waiting for confirmations; `paid`: confirmed, funds "
    "posted; `failed`: refused or reverted, funds returned (`failure_reason`); "
    "`cancelled`: cancelled before sending, funds returned; `expired`: an offer not "
    "approved in time; `needs_review`: the chain's outcome is unclear and an operator "
    "decides (funds stay held)"
)
FEE_MODE_DOC = (
    "`on_top` (default): fees are charged to the balance on top of `amount`, the "
    "recipient gets all of it; `from_amount`: fees come out of what the recipient gets"
)
PRIORITY_DOC = (
    "How fast to confirm, on networks whose fee depends on it (`priority: true` in "
    "`GET /v1/assets`): `economy`, `recommended`, `high` or `highest`. Null: the "
    "network's default"
)
RATE_SOURCE_DOC = (
    "Where the exchange rate comes from: `static` (the operator's rates file) or one "
    "of the exchanges the server enables (`Binance`, `Kucoin`; `PAYOUTD_RATE_SOURCES`). "
    "Null: the first enabled source"
)


def next_cursor(**default: Any) -> Any:
    return Field(**default, description=_CURSOR_DOC, examples=[CURSOR_EXAMPLE, None])


def when(description: str, *, null: bool = False, **default: Any) -> Any:
    """A date-time field of an answer; `null`: it may be null."""
    examples: list[str | None] = [TIME_EXAMPLE, None] if null else [TIME_EXAMPLE]
    return Field(**default, description=f"{description}. {_TIME_DOC}", examples=examples)


class PayoutCreate(BaseModel):
    """A payout to make: `amount` of `currency`, sent to `address` on `network`."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[
        AmountIn,
        Field(
            description="How much to pay, in `currency` (a decimal string, greater than "
            "zero). With a fiat `currency` and a crypto `payout_currency`, the fiat worth "
            "converted at the quoted rate. " + _DECIMAL_DOC,
            examples=["0.5", "150.00"],
        ),
    ]
    currency: str = Field(
        min_length=2,
        max_length=10,
        description=CURRENCY_DOC + ". What `amount` is denominated in",
        examples=["LTC", "USDT", "USD"],
    )
    address: str = Field(
        min_length=1,
        max_length=128,
        description="The recipient's address on `network`, checked for that network's "
        "format (and checksum) before anything is held",
        examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"],
    )
    network: str | None = Field(
        default=None,
        max_length=10,
        description=NETWORK_DOC + ". May be left out when the payout currency travels "
        "on one network only (BTC, LTC); a currency on several (USDT) needs it, else 422 "
        "`network_required`",
        examples=["LTC", "TRON"],
    )
    payout_currency: str | None = Field(
        default=None,
        max_length=10,
        description="The crypto currency the recipient gets, when `currency` is another "
        "one (usually fiat): `amount` is converted at the quoted rate. Null: `currency` "
        "itself",
        examples=[None, "LTC"],
    )
    memo: str | None = Field(
        default=None,
        max_length=64,
        description="A memo, tag or comment the network carries with the transfer, on "
        "networks that take one (`memo: true` in `GET /v1/assets`, e.g. TON)",
        examples=[None, "invoice-1042"],
    )
    balance_currency: str | None = Field(
        default=None, max_length=10, examples=[None, "USD"], description=BALANCE_CURRENCY
    )
    fee_mode: Literal["on_top", "from_amount"] = Field(
        default="on_top", description=FEE_MODE_DOC, examples=["on_top"]
    )
    priority: Literal["economy", "recommended", "high", "highest"] | None = Field(
        default=None, description=PRIORITY_DOC, examples=[None, "recommended"]
    )
    rate_source: str | None = Field(
        default=None, max_length=20, description=RATE_SOURCE_DOC, examples=[None, "static"]
    )
    approval: Literal["auto", "manual"] = Field(
        default="auto",
        description="`auto` (default): the payout holds its funds and is queued now; "
        "`manual`: an offer (`pending_approval`) that holds nothing and keeps its price "
        "until `expires_at`, sent only once approved (`POST /v1/payouts/{id}/approve`)",
        examples=["auto", "manual"],
    )
    execute_at: Instant | None = Field(
        default=None,
        description="Send no earlier than this: the payout holds its funds now and waits "
        "`scheduled` until then. " + _INSTANT_DOC + " Null: as soon as possible",
        examples=["2030-01-01T09:00:00Z", None],
    )
    order_id: str | None = Field(
        default=None,
        pattern=ORDER_ID,
        description="Your own id for the payout, unique per merchant: letters, digits, "
        "`-` and `_`, up to 100. A second request with the same `order_id` creates "
        "nothing and answers the existing payout with 200",
        examples=["order-1042", None],
    )
    # checked by services.webhooks.check_url, the rule for every webhook URL
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="A URL that receives this payout's events (signed with the merchant's "
        "callback secret, `POST /v1/webhook-secret`; docs/webhooks.md): `http` or "
        "`https`, no credentials, at most 2048 characters, on a globally routable address",
        examples=[None, "https://shop.example.com/hooks/payouts"],
    )
    comment: str | None = Field(
        default=None,
        max_length=1000,
        description="A note for yourself, shown back; never sent to the chain",
        examples=["Refund for order 1042", None],
    )
    metadata: Metadata = Field(default_factory=dict, examples=[{"customer": "c_981"}])


class QuoteCreate(BaseModel):
    """A payout to price: the same fields as a payout, the address optional."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[
        AmountIn,
        Field(
            description="How much to pay, in `currency`. " + _DECIMAL_DOC,
            examples=["100", "0.5"],
        ),
    ]
    currency: str = Field(
        min_length=2,
        max_length=10,
        description=CURRENCY_DOC + ". What `amount` is denominated in",
        examples=["USD", "LTC"],
    )
    payout_currency: str | None = Field(
        default=None,
        max_length=10,
        description="The crypto currency the recipient would get, when `currency` is "
        "another one. Null: `currency` itself",
        examples=["LTC", None],
    )
    network: str | None = Field(
        default=None,
        max_length=10,
        description=NETWORK_DOC + ". May be left out when the payout currency travels "
        "on one network only",
        examples=["LTC", None],
    )
    address: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The recipient's address, checked when given; the price does not depend on it",
        examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA", None],
    )
    memo: str | None = Field(
        default=None,
        max_length=64,
        description="A memo or tag, on networks that take one",
        examples=[None],
    )
    balance_currency: str | None = Field(
        default=None, max_length=10, examples=[None, "USD"], description=BALANCE_CURRENCY
    )
    fee_mode: Literal["on_top", "from_amount"] = Field(
        default="on_top", description=FEE_MODE_DOC, examples=["on_top"]
    )
    priority: Literal["economy", "recommended", "high", "highest"] | None = Field(
        default=None, description=PRIORITY_DOC, examples=[None, "recommended"]
    )
    rate_source: str | None = Field(
        default=None, max_length=20, description=RATE_SOURCE_DOC, examples=[None, "static"]
    )


class Fees(BaseModel):
    """A payout's fees, in the payout currency."""

    network: str = Field(
        description="The network fee: the payout's share of its batch's transaction fee "
        "(an estimate until the batch is sent). " + AMOUNT_OUT,
        examples=["0.0001"],
    )
    service: str = Field(
        description="The operator's service fee (percent and fixed, per merchant and "
        "currency). " + AMOUNT_OUT,
        examples=["0.005"],
    )
    total: str = Field(description="`network` plus `service`. " + AMOUNT_OUT, examples=["0.0051"])
    currency: str = Field(
        description="The currency of the three amounts: the payout currency",
        examples=["LTC"],
    )


class Debit(BaseModel):
    """What leaves the merchant's balance for the payout: amount and fees, converted
    when another balance pays."""

    amount: str = Field(
        description="Held now, posted when paid. " + AMOUNT_OUT, examples=["0.5051"]
    )
    currency: str = Field(
        description="The balance that pays (`balance_currency`, else the payout currency)",
        examples=["LTC", "USD"],
    )


class Rate(BaseModel):
    """The exchange rate a converted payout was priced at: one `base` (the payout
    currency) costs `value` `quote`. All null when nothing was converted."""

    value: str | None = Field(
        description="The price of one `base` in `quote`, a decimal string",
        examples=["72.15", None],
    )
    base: str | None = Field(description="The payout currency", examples=["LTC", None])
    quote: str | None = Field(
        description="The currency the price is in: the request's or the paying balance's",
        examples=["USD", None],
    )
    source: str | None = Field(
        description="Where the rate came from: `static` (the rates file) or an exchange",
        examples=["static", None],
    )
    expires_at: str | None = when(
        "Until when the price holds (an offer must be approved before it)", null=True
    )


class PayoutOut(BaseModel):
    """A payout as the API shows it (and as its webhook events carry it)."""

    id: str = Field(description="payoutd's id of the payout (a UUID)", examples=[ID_EXAMPLE])
    object: Literal["payout"] = Field(description="Always `payout`", examples=["payout"])
    order_id: str | None = Field(
        description="Your id, as given when it was created; null when none was",
        examples=["order-1042", None],
    )
    status: str = Field(description=STATUS_DOC, examples=["queued", "paid"])
    is_final: bool = Field(
        description="True once the status never changes again: `paid`, `failed`, "
        "`cancelled` or `expired`",
        examples=[False],
    )
    amount: str = Field(
        description="The amount asked for, in `currency`. " + AMOUNT_OUT, examples=["0.5"]
    )
    currency: str = Field(description="The currency of `amount`", examples=["LTC"])
    payout_amount: str = Field(
        description="`amount` in the payout currency, before fees. " + AMOUNT_OUT,
        examples=["0.50000000"],
    )
    payout_currency: str = Field(
        description="The crypto currency the recipient gets", examples=["LTC"]
    )
    network: str = Field(description=NETWORK_DOC, examples=["LTC"])
    address: str = Field(
        description="The recipient's address", examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"]
    )
    memo: str | None = Field(description="The memo or tag sent along; null: none", examples=[None])
    priority: str | None = Field(description=PRIORITY_DOC, examples=["recommended", None])
    fee_mode: str = Field(description=FEE_MODE_DOC, examples=["on_top"])
    fees: Fees = Field(description="The network and service fees, in the payout currency")
    final_amount: str = Field(
        description="What the recipient gets, in the payout currency: `payout_amount`, "
        "less the fees with `fee_mode: from_amount`. " + AMOUNT_OUT,
        examples=["0.50000000"],
    )
    debit: Debit = Field(description="What the merchant's balance pays for it")
    rate: Rate = Field(description="The exchange rate used, when anything was converted")
    approval: str = Field(
        description="`auto` (held and queued when created) or `manual` (an offer)",
        examples=["auto"],
    )
    txid: str | None = Field(
        description="The hash of the transaction that carries it; null until its batch is signed",
        examples=["9c1f0b3a5e7d2c4b6a8f0e1d3c5b7a9f1e3d5c7b9a1f3e5d7c9b1a3f5e7d9c1b", None],
    )
    confirmations: int = Field(
        description="Confirmations of its transaction so far (0 until mined)", examples=[2]
    )
    batch_id: str | None = Field(
        description="The batch (`GET /v1/batches/{id}`) that carries it; null until one takes it",
        examples=[ID_EXAMPLE, None],
    )
    failure_reason: str | None = Field(
        description="Why it failed or needs review, in words; null otherwise",
        examples=[None, "transaction reverted"],
    )
    execute_at: str | None = when(
        "When a scheduled payout is released; null: as soon as possible", null=True
    )
    expires_at: str | None = when(
        "An offer's deadline for approval (`approval: manual`), after which it is "
        "`expired`; null for other payouts",
        null=True,
    )
    callback_url: str | None = Field(
        description="The URL that receives this payout's events; null: none",
        examples=["https://shop.example.com/hooks/payouts", None],
    )
    comment: str | None = Field(
        description="Your note, as given", examples=["Refund for order 1042", None]
    )
    metadata: dict[str, Any] = Field(
        description="Your key-value pairs, as given (strings)", examples=[{"customer": "c_981"}]
    )
    created_at: str = when("When it was created")
    updated_at: str = when("When it last changed (status, confirmations, txid)")


class QuoteOut(BaseModel):
    """What a payout would cost now; nothing is held or created."""

    object: Literal["quote"] = Field(description="Always `quote`", examples=["quote"])
    amount: str = Field(description="The amount asked for, in `currency`", examples=["100.00"])
    currency: str = Field(description="The currency of `amount`", examples=["USD"])
    payout_amount: str = Field(
        description="`amount` in the payout currency, before fees. " + AMOUNT_OUT,
        examples=["1.38600000"],
    )
    payout_currency: str = Field(
        description="The crypto currency the recipient would get", examples=["LTC"]
    )
    network: str = Field(description=NETWORK_DOC, examples=["LTC"])
    address: str | None = Field(description="The address, when one was given", examples=[None])
    fee_mode: str = Field(description=FEE_MODE_DOC, examples=["on_top"])
    priority: str | None = Field(description=PRIORITY_DOC, examples=["recommended", None])
    fees: Fees = Field(description="The network fee (an estimate) and the service fee")
    final_amount: str = Field(
        description="What the recipient would get, in the payout currency. " + AMOUNT_OUT,
        examples=["1.38600000"],
    )
    debit: Debit = Field(description="What the paying balance would be charged")
    rate: Rate = Field(description="The exchange rate, when anything is converted")
    quoted_at: str = when("When the price was made")
    expires_at: str = when("Until when an offer made now would keep this price")


class AssetLimitOut(BaseModel):
    """One network's bounds for the currency."""

    network: str = Field(description=NETWORK_DOC, examples=["TRON"])
    min_amount: str = Field(
        description="The smallest payout on this network, in the currency", examples=["0.5"]
    )
    max_amount: str = Field(
        description="The largest payout on this network, in the currency",
        examples=["10000000"],
    )


class LimitsOut(BaseModel):
    """What can be paid out in one currency right now."""

    currency: str = Field(description="The currency asked about", examples=["USDT"])
    available: str = Field(
        description="What every balance the merchant holds could pay in this currency, "
        "converted at current rates, held funds excluded. " + AMOUNT_OUT,
        examples=["1250.000000"],
    )
    min_payout_amount: str = Field(
        description="The smallest payout, in this currency: what `PAYOUTD_MIN_PAYOUT_EUR` "
        "(20 EUR by default) is worth",
        examples=["21.60"],
    )
    rate_source: str = Field(
        description="The rate source the conversions used", examples=["static"]
    )
    assets: list[AssetLimitOut] = Field(
        description="Per network: the asset's own minimum and maximum",
        examples=[[{"network": "TRON", "min_amount": "0.5", "max_amount": "10000000"}]],
    )


class ServiceFeeSet(BaseModel):
    """The operator's service fee for one merchant and currency: `percent` of the payout
    amount plus `fixed`."""

    model_config = ConfigDict(extra="forbid")
    # what the store's NUMERIC(38, 18) holds: a larger `fixed` overflowed it (a 500)
    percent: Annotated[
        DecimalIn,
        Field(
            le=100,
            description="Percent of the payout amount, 0 to 100, a decimal string",
            examples=["0.5"],
        ),
    ] = Decimal(0)
    fixed: Annotated[
        DecimalIn,
        Field(description="A fixed amount per payout, in the currency", examples=["0.1"]),
    ] = Decimal(0)


class ServiceFeeOut(BaseModel):
    """A merchant's service fee in one currency."""

    merchant_id: str = Field(description="The merchant", examples=[ID_EXAMPLE])
    currency: str = Field(description="The currency it applies to", examples=["USDT"])
    percent: str = Field(description="Percent of the payout amount", examples=["0.5"])
    fixed: str = Field(description="Fixed amount per payout, in the currency", examples=["0.1"])


class PayoutList(BaseModel):
    """A page of payouts, newest first."""

    data: list[PayoutOut] = Field(description="The payouts of this page")
    next_cursor: str | None = next_cursor()


class BalanceOut(BaseModel):
    """One currency's balance."""

    currency: str = Field(description="The currency, crypto or fiat", examples=["LTC"])
    available: str = Field(
        description="What new payouts can use: `balance` less `held`. " + AMOUNT_OUT,
        examples=["1.49490000"],
    )
    held: str = Field(
        description="Held by accepted payouts not yet paid, failed or cancelled. " + AMOUNT_OUT,
        examples=["0.50510000"],
    )
    balance: str = Field(
        description="Everything posted to the ledger for this currency. " + AMOUNT_OUT,
        examples=["2.00000000"],
    )


class BalanceList(BaseModel):
    """The merchant's balances, one per currency held."""

    data: list[BalanceOut] = Field(description="One entry per currency")
    next_cursor: str | None = next_cursor(default=None)


class AssetOut(BaseModel):
    """A currency on a network that payoutd can pay out."""

    currency: str = Field(description="The currency code", examples=["USDT"])
    network: str = Field(description="The network code", examples=["TRON"])
    network_name: str = Field(description="The network's name", examples=["TRON"])
    decimals: int = Field(description="Decimal places of its amounts", examples=[6])
    min_amount: str = Field(description="The smallest payout, in the currency", examples=["0.5"])
    max_amount: str = Field(
        description="The largest payout, in the currency", examples=["10000000"]
    )
    priority: bool = Field(
        description="Whether `priority` changes the network fee on this network", examples=[False]
    )
    memo: bool = Field(description="Whether the network takes a `memo`", examples=[False])
    contract: str | None = Field(
        description="The token's contract address; null for the network's own coin",
        examples=["TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", None],
    )
    mode: str = Field(
        description="`live` (a real node, `PAYOUTD_CHAINS_FILE`), `sandbox` (the built-in "
        "sandbox chain) or `unavailable`",
        examples=["sandbox"],
    )
    confirmations: int = Field(
        description="Confirmations a payout waits for before it is `paid`", examples=[19]
    )


class AssetList(BaseModel):
    """Every asset payoutd knows."""

    data: list[AssetOut] = Field(description="One entry per currency and network")
    next_cursor: str | None = next_cursor(default=None)


class LedgerCheck(BaseModel):
    """The ledger verified on one snapshot: every transaction sums to zero per
    currency, every balance is the sum of its entries, no balance is overdrawn."""

    ok: bool = Field(description="True when no problem was found", examples=[True])
    transactions: int = Field(description="Ledger transactions checked", examples=[1204])
    entries: int = Field(description="Ledger entries checked", examples=[2408])
    accounts: int = Field(description="Accounts checked", examples=[37])
    problems: list[str] = Field(
        description="What is wrong, in words; empty when `ok`", examples=[[]]
    )


class MerchantCreate(BaseModel):
    """A merchant to create."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=1, max_length=200, description="The merchant's name", examples=["Acme"]
    )


class MerchantCreated(BaseModel):
    """A new merchant and its first API key (shown only here)."""

    merchant_id: str = Field(description="The merchant's id", examples=[ID_EXAMPLE])
    api_key: str = Field(
        description="Its first API key, whole (`pk_<prefix>_<secret>`): keep it, it is "
        "shown only once",
        examples=["pk_3f9a1c2b_Zx8bq0Lr5tWm2nVy7cKp4sHd"],
    )


class DepositCreate(BaseModel):
    """A credit to a merchant's balance, booked through the ledger (audited)."""

    model_config = ConfigDict(extra="forbid")
    merchant_id: str = Field(
        min_length=1, max_length=36, description="The merchant credited", examples=[ID_EXAMPLE]
    )
    currency: str = Field(
        min_length=2,
        max_length=10,
        examples=["USD"],
        description="Any currency payoutd knows, crypto or fiat (USD, EUR and any other "
        "fiat the rates file prices)",
    )
    amount: Annotated[
        AmountIn, Field(description="How much to credit. " + _DECIMAL_DOC, examples=["1000"])
    ]


class DepositOut(BaseModel):
    """The deposit as booked."""

    transaction_id: str = Field(description="The ledger transaction", examples=[ID_EXAMPLE])
    merchant_id: str = Field(description="The merchant credited", examples=[ID_EXAMPLE])
    currency: str = Field(description="The currency credited", examples=["USD"])
    amount: str = Field(description="The amount credited. " + AMOUNT_OUT, examples=["1000.00"])


class SandboxOutput(BaseModel):
    """One output of a sandbox transaction (yours only, unless an operator asks)."""

    address: str = Field(
        description="The address paid", examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"]
    )
    amount: str = Field(description="The amount it received", examples=["0.50000000"])
    memo: str | None = Field(default=None, description="The memo it carried", examples=[None])


class SandboxTx(BaseModel):
    """A transaction the sandbox chain mined."""

    txid: str = Field(
        description="Its hash",
        examples=["9c1f0b3a5e7d2c4b6a8f0e1d3c5b7a9f1e3d5c7b9a1f3e5d7c9b1a3f5e7d9c1b"],
    )
    network: str = Field(description="The network it was sent on", examples=["LTC"])
    currency: str = Field(description="The currency it moved", examples=["LTC"])
    status: str = Field(
        description="`mempool` (waiting for a block), `mined`, or `dropped` (lost, by a "
        "`drop` rule)",
        examples=["mined"],
    )
    fee: str = Field(
        description="The fee you paid for it: your share, unless an operator asks",
        examples=["0.00001000"],
    )
    block_height: int | None = Field(
        description="The block that mined it; null while unmined", examples=[1042, None]
    )
    confirmations: int = Field(description="Blocks on top of it, its own included", examples=[2])
    outputs: list[SandboxOutput] = Field(description="Its outputs (yours only)")
    created_at: str = when("When it was broadcast")
    sender: str | None = Field(
        default=None,
        description="Who paid a transfer simulated into an address (POST "
        "/v1/sandbox/deposits); null for the hot wallet's own batches.",
        examples=["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"],
    )


class SandboxTxList(BaseModel):
    """A page of sandbox transactions, newest first."""

    data: list[SandboxTx] = Field(description="The transactions of this page")
    next_cursor: str | None = next_cursor()


class SandboxRuleCreate(BaseModel):
    """Make the sandbox misbehave for transactions to one address (to test failures)."""

    model_config = ConfigDict(extra="forbid")
    address: str = Field(
        min_length=1,
        max_length=128,
        description="The address whose transactions the rule hits",
        examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"],
    )
    action: Literal["reject", "drop", "delay", "refuse"] = Field(
        description="`reject`: the broadcast is refused (the payout fails, funds return); "
        "`drop`: accepted then lost (the payout goes to `needs_review`); `delay`: mined "
        "`blocks` blocks late; `refuse`: the output is refused before signing",
        examples=["reject"],
    )
    network: str | None = Field(
        default=None,
        max_length=10,
        description="Only on this network; null: every network",
        examples=["LTC", None],
    )
    blocks: StrictInt = Field(
        default=0, ge=0, le=1000, description="For `delay`: how many blocks", examples=[3]
    )


class SandboxRuleOut(BaseModel):
    """The rule made."""

    id: str = Field(description="The rule's id", examples=[ID_EXAMPLE])


class SandboxDepositCreate(BaseModel):
    """An incoming transfer to simulate on the sandbox chain: someone else's wallet
    paying `amount` of `currency` into `address` (operator only, `admin` scope)."""

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
    """The simulated transfer, in the sandbox's mempool: mined with the next block and
    confirmed like any transaction (unless a `drop` rule lost it, or a `delay` rule holds
    it for some blocks)."""

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
    """An operator's decision on a payout in `needs_review`, after looking at the chain."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["paid", "failed"] = Field(
        description="`paid`: the transaction is on the chain (funds posted); `failed`: it "
        "is not and never will be (funds returned)",
        examples=["paid"],
    )
    txid: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="With `paid`: the transaction's hash, in the network's form",
        examples=["9c1f0b3a5e7d2c4b6a8f0e1d3c5b7a9f1e3d5c7b9a1f3e5d7c9b1a3f5e7d9c1b"],
    )
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="With `failed`: why, shown as the payout's `failure_reason`",
        examples=["not found on chain after 24 h"],
    )
    operator: str = Field(
        default="operator",
        min_length=1,
        max_length=100,
        description="Who decided, for the audit log",
        examples=["alice"],
    )


class BatchPayout(BaseModel):
    """One of your payouts in a batch."""

    id: str = Field(description="The payout's id", examples=[ID_EXAMPLE])
    status: str = Field(description="The payout's status", examples=["confirming"])
    address: str = Field(
        description="Its recipient", examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"]
    )
    final_amount: str = Field(description="What its recipient gets", examples=["0.50000000"])


class BatchOut(BaseModel):
    """A transaction that carried payouts: what it cost you and what batching saved. A
    batch may also carry other merchants' payouts, which you never see."""

    id: str = Field(description="The batch's id", examples=[ID_EXAMPLE])
    object: Literal["batch"] = Field(description="Always `batch`", examples=["batch"])
    network: str = Field(description="Its network", examples=["LTC"])
    currency: str = Field(description="The currency it pays", examples=["LTC"])
    status: str = Field(
        description="`prepared` (signed and recorded, not yet broadcast), `broadcast` "
        "(sent, confirming), `confirmed`, `failed` (refused by the chain; funds returned) "
        "or `needs_review`",
        examples=["broadcast"],
    )
    txid: str | None = Field(
        description="Its transaction's hash; null until signed",
        examples=["9c1f0b3a5e7d2c4b6a8f0e1d3c5b7a9f1e3d5c7b9a1f3e5d7c9b1a3f5e7d9c1b", None],
    )
    fee: str | None = Field(
        description="Your share of the transaction's fee; null until signed",
        examples=["0.00000400", None],
    )
    fee_currency: str | None = Field(
        description="The currency of the fee (the network's coin)", examples=["LTC", None]
    )
    # the same payouts one transaction each, at the same fee rate
    unbatched_fee: str | None = Field(
        description="What your payouts would have paid as one transaction each, at the "
        "same fee rate",
        examples=["0.00001200", None],
    )
    fee_saved: str | None = Field(
        description="`unbatched_fee` less `fee`: what batching saved you",
        examples=["0.00000800", None],
    )
    output_count: int | None = Field(
        description="Outputs of the transaction (payouts to one address share one)",
        examples=[3, None],
    )
    payout_count: int = Field(description="Your payouts in it", examples=[3])
    confirmations: int = Field(description="Confirmations so far", examples=[1])
    created_at: str = when("When the batch took its payouts")
    broadcast_at: str | None = when("When it was broadcast; null until then", null=True)
    payouts: list[BatchPayout] = Field(description="Your payouts in it")


class BatchList(BaseModel):
    """A page of batches, newest first."""

    data: list[BatchOut] = Field(description="The batches of this page")
    next_cursor: str | None = next_cursor()


class WebhookEndpointCreate(BaseModel):
    """A URL to send your events to, signed with Standard Webhooks (docs/webhooks.md)."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=8,
        max_length=2048,
        examples=["https://example.com/hooks"],
        description="Where to POST events: `http` or `https`, no credentials, on a "
        "globally routable address (unless the operator allows private ones)",
    )
    event_types: list[str] | None = Field(
        default=None,
        description="Event types (`payout.created`, `payout.status_changed`, `payout.paid`, "
        '`payout.failed`, `payout.validation_error`), or ["*"]; none named: every event',
        examples=[["payout.paid", "payout.failed"], None],
    )
    services: list[str] | None = Field(
        default=None,
        description='Calypso\'s notificationServiceTypes, e.g. ["PAYOUT"]: every event of '
        "the family",
        examples=[None],
    )
    description: str | None = Field(
        default=None,
        max_length=500,
        description="Your note about the endpoint",
        examples=["order system"],
    )


class WebhookEndpointOut(BaseModel):
    """A webhook endpoint."""

    id: str = Field(description="The endpoint's id", examples=[ID_EXAMPLE])
    object: Literal["webhook_endpoint"] = Field(
        description="Always `webhook_endpoint`", examples=["webhook_endpoint"]
    )
    url: str = Field(description="Where events are POSTed", examples=["https://example.com/hooks"])
    event_types: list[str] = Field(
        description='The events it receives; ["*"]: all', examples=[["*"]]
    )
    description: str | None = Field(description="Your note", examples=["order system", None])
    status: str = Field(
        description="`enabled`, or `disabled` (every delivery failed for "
        "`PAYOUTD_WEBHOOK_DISABLE_AFTER_HOURS`, or the receiver answered 410 Gone; "
        "`POST .../enable` turns it back on)",
        examples=["enabled"],
    )
    disabled_reason: str | None = Field(
        description="Why it was disabled; null while enabled",
        examples=[None, "the receiver answered 410 Gone"],
    )
    failing_since: str | None = when(
        "Since when every delivery has failed; null when the last one succeeded", null=True
    )
    created_at: str = when("When it was created")
    secret: str | None = Field(
        default=None,
        description="The signing secret (`whsec_...`, Standard Webhooks): shown only when "
        "created or rotated",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", None],
    )
    previous_secret_expires_at: str | None = when(
        "After a rotation, until when the previous secret also signs", null=True, default=None
    )


class WebhookEndpointList(BaseModel):
    """A page of webhook endpoints."""

    data: list[WebhookEndpointOut] = Field(description="The endpoints of this page")
    next_cursor: str | None = next_cursor()


class SecretRotate(BaseModel):
    """A new signing secret for an endpoint."""

    model_config = ConfigDict(extra="forbid")
    overlap_seconds: StrictInt | None = Field(
        default=None,
        ge=0,
        le=7 * 86400,
        description="How long the previous secret keeps signing too (every delivery "
        "carries both signatures meanwhile), at most 7 days; null: 24 hours",
        examples=[3600, None],
    )


class WebhookAttemptOut(BaseModel):
    """One attempt of a delivery."""

    attempt: int = Field(description="Its number, from 1", examples=[1])
    at: str = when("When it was made")
    status_code: int | None = Field(
        description="The receiver's HTTP status; null when none came (timeout, refused)",
        examples=[200, None],
    )
    latency_ms: int | None = Field(description="How long it took, in ms", examples=[84])
    error: str | None = Field(
        description="What went wrong; null when it succeeded", examples=[None, "HTTP 500"]
    )


class WebhookDeliveryOut(BaseModel):
    """One event's delivery to one endpoint (or to a payout's `callback_url`)."""

    id: str = Field(description="The delivery's id", examples=[ID_EXAMPLE])
    event_id: str = Field(
        description="The event's id: the `webhook-id` header, the same on every attempt",
        examples=["0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8b"],
    )
    event_type: str = Field(description="The event's type", examples=["payout.paid"])
    status: str = Field(
        description="`pending` (to be tried, or tried again at `next_attempt_at`), "
        "`delivered` (a 2xx answer), `failed` (every retry failed) or `cancelled` (its "
        "endpoint was disabled or deleted)",
        examples=["delivered"],
    )
    attempts: int = Field(description="Attempts made", examples=[1])
    next_attempt_at: str | None = when("When it is tried next; null: not again", null=True)
    last_status_code: int | None = Field(
        description="The last attempt's HTTP status", examples=[200, None]
    )
    last_error: str | None = Field(description="The last attempt's error", examples=[None])
    last_latency_ms: int | None = Field(description="The last attempt's latency, ms", examples=[84])
    created_at: str = when("When the event was queued for this receiver")
    delivered_at: str | None = when("When a 2xx answer came; null until then", null=True)
    attempt_log: list[WebhookAttemptOut] = Field(description="Every attempt, oldest first")


class WebhookDeliveryList(BaseModel):
    """A page of deliveries, newest first."""

    data: list[WebhookDeliveryOut] = Field(description="The deliveries of this page")
    next_cursor: str | None = next_cursor()


class MerchantSecretOut(BaseModel):
    """The secret that signs deliveries to payouts' `callback_url`."""

    secret: str = Field(
        description="A Standard Webhooks secret (`whsec_...`)",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class ApiKeyCreate(BaseModel):
    """A new API key for the merchant."""

    model_config = ConfigDict(extra="forbid")
    scopes: list[Literal["read", "payouts"]] = Field(
        min_length=1,
        description="`read`: every read; `payouts`: also create, approve and cancel "
        "payouts and manage webhooks, keys and addresses. A new `payouts` key blocks "
        "payouts for `PAYOUTD_PAYOUT_KEY_COOLDOWN_HOURS` (24 h)",
        examples=[["read"], ["read", "payouts"]],
    )
    name: str | None = Field(
        default=None, max_length=200, description="Your label for it", examples=["accounting"]
    )
    totp_code: str | None = Field(
        default=None,
        max_length=10,
        description="Required for a `payouts` key once two-factor is enrolled: the current "
        "6-digit code",
        examples=["123456", None],
    )
    ip_allowlist: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Addresses or networks (CIDR) it may be used from; null: anywhere",
        examples=[["203.0.113.0/24"], None],
    )
    rate_limit_per_minute: StrictInt | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Requests per minute; null: `PAYOUTD_API_RATE_LIMIT_PER_MINUTE`",
        examples=[600, None],
    )
    signed_requests: StrictBool = Field(
        default=False,
        description="When true, every request with it must carry an HMAC signature made "
        "with `signing_secret`",
        examples=[False],
    )


class ApiKeyOut(BaseModel):
    """An API key (its secret only in the creation's answer)."""

    id: str = Field(description="The key's id", examples=[ID_EXAMPLE])
    object: Literal["api_key"] = Field(description="Always `api_key`", examples=["api_key"])
    prefix: str = Field(
        description="The public part of the key (`pk_<prefix>`), shown in the audit log",
        examples=["pk_3f9a1c2b"],
    )
    name: str | None = Field(description="Your label", examples=["accounting", None])
    scopes: list[str] = Field(description="What it may do", examples=[["read", "payouts"]])
    ip_allowlist: list[str] | None = Field(
        description="Where it may be used from; null: anywhere", examples=[None]
    )
    rate_limit_per_minute: int | None = Field(
        description="Its own rate limit; null: the server's", examples=[None]
    )
    signed_requests: bool = Field(description="Whether requests must be signed", examples=[False])
    created_at: str = when("When it was made")
    last_used_at: str | None = when("When it was last used; null: never", null=True)
    key: str | None = Field(
        default=None,
        description="The whole key (`pk_<prefix>_<secret>`): shown only in the creation response",
        examples=["pk_3f9a1c2b_Zx8bq0Lr5tWm2nVy7cKp4sHd", None],
    )
    signing_secret: str | None = Field(
        default=None,
        description="With `signed_requests`: the HMAC secret; shown only in the creation response",
        examples=[None],
    )
    payouts_blocked_until: str | None = when(
        "A new `payouts` key's cooldown: payouts are refused until then", null=True, default=None
    )


class ApiKeyList(BaseModel):
    """The merchant's API keys."""

    data: list[ApiKeyOut] = Field(description="Every key, without secrets")
    next_cursor: str | None = next_cursor(default=None)


class ApiKeyDelete(BaseModel):
    """What deleting a key needs."""

    model_config = ConfigDict(extra="forbid")
    totp_code: str | None = Field(
        default=None,
        max_length=10,
        description="Required once two-factor is enrolled",
        examples=["123456", None],
    )


class TotpOut(BaseModel):
    """A merchant's new TOTP secret, shown once for the account's owner."""

    secret: str = Field(description="The base32 TOTP secret", examples=["JBSWY3DPEHPK3PXP"])
    otpauth_uri: str = Field(
        description="The same as an `otpauth://` URI, for an authenticator app's QR code",
        examples=["otpauth://totp/payoutd:Acme?secret=JBSWY3DPEHPK3PXP&issuer=payoutd"],
    )


class CooldownLifted(BaseModel):
    """A payout cooldown ended by the operator."""

    merchant_id: str = Field(description="The merchant", examples=[ID_EXAMPLE])
    payouts_blocked_until: None = Field(
        default=None, description="Always null: payouts are allowed now", examples=[None]
    )
    lifted_until: str | None = Field(
        description="The end the lifted cooldown had; null when none was running",
        examples=[TIME_EXAMPLE, None],
    )


class AllowlistSet(BaseModel):
    """Turn the address allowlist on or off."""

    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool = Field(
        description="When true, payouts go only to saved addresses (`POST /v1/addresses`)",
        examples=[True],
    )
    totp_code: str | None = Field(
        default=None,
        max_length=10,
        description="Required once two-factor is enrolled",
        examples=["123456", None],
    )


class AllowlistOut(BaseModel):
    """The address allowlist's state."""

    enabled: bool = Field(description="Whether payouts go only to saved addresses", examples=[True])


class AddressCreate(BaseModel):
    """An address to save (for the allowlist)."""

    model_config = ConfigDict(extra="forbid")
    network: str = Field(min_length=2, max_length=10, description=NETWORK_DOC, examples=["LTC"])
    address: str = Field(
        min_length=1,
        max_length=128,
        description="The address, checked for the network's format",
        examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"],
    )
    label: str | None = Field(
        default=None, max_length=200, description="Your label", examples=["supplier A"]
    )
    totp_code: str | None = Field(
        default=None,
        max_length=10,
        description="Required once two-factor is enrolled",
        examples=["123456", None],
    )


class AddressOut(BaseModel):
    """A saved address."""

    id: str = Field(description="Its id", examples=[ID_EXAMPLE])
    network: str = Field(description="Its network", examples=["LTC"])
    address: str = Field(description="The address", examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"])
    label: str | None = Field(description="Your label", examples=["supplier A", None])
    created_at: str = when("When it was saved")


class AddressList(BaseModel):
    """The saved addresses."""

    data: list[AddressOut] = Field(description="Every saved address")
    next_cursor: str | None = next_cursor(default=None)


class AuditEntry(BaseModel):
    """One entry of the audit trail."""

    id: str = Field(description="Its id", examples=[ID_EXAMPLE])
    actor: str = Field(
        description="Who acted: `key:<prefix>` for an API key; for the operator, the "
        "operator's name with the key or `(cli)` it acted through",
        examples=["key:pk_3f9a1c2b"],
    )
    action: str = Field(description="What was done, as `object.verb`", examples=["api_key.created"])
    subject_id: str | None = Field(
        description="What it was done to (an id); null when nothing in particular",
        examples=[ID_EXAMPLE, None],
    )
    details: dict[str, Any] = Field(
        description="The action's particulars", examples=[{"scopes": ["read"]}]
    )
    source: str | None = Field(
        description="Where it came from: the client's IP address, or `cli@<host>` from "
        "the command line",
        examples=["203.0.113.7", None],
    )
    created_at: str = when("When it happened")


class AuditList(BaseModel):
    """A page of the audit trail, newest first."""

    data: list[AuditEntry] = Field(description="The entries of this page")
    next_cursor: str | None = next_cursor(default=None)
