"""Request and response bodies of the ramp payout and bank calls (/v1/ramp-payouts,
/v1/admin/bank, /v1/sandbox/bank)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from payoutd.api.v1.params import BANK_ACCOUNT_ID_EXAMPLE, CUSTOMER_ID_EXAMPLE, WALLET_ID_EXAMPLE
from payoutd.api.v1.schemas import ID_EXAMPLE, TIME_EXAMPLE, AmountIn
from payoutd.services import ramps

# One on-ramp throughout (10.00 USD by wire from a customer's bank account to its USDC
# wallet on Solana), so the examples of a request and its answer agree with one another.
MEMO_EXAMPLE = "BRGSFNHQBH3RKPEQDMD2"
FUNDING_ACCOUNT_EXAMPLE = "bankAccount_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SOURCE_EXAMPLE = {"id": BANK_ACCOUNT_ID_EXAMPLE, "currency": "usd", "network": "wire"}
FUNDING_EXAMPLE = {"id": FUNDING_ACCOUNT_EXAMPLE, "currency": "usd", "network": "wire"}
DESTINATION_EXAMPLE = {"id": WALLET_ID_EXAMPLE, "currency": "usdc", "network": "sol"}
HUMAN_EXAMPLE = (
    f"Send 10 usd via the wire network from {BANK_ACCOUNT_ID_EXAMPLE} with an account "
    f"number of ********6789 to {FUNDING_ACCOUNT_EXAMPLE} with an account number of "
    "********0001. After sending usd, the payout will be funded and 10 of usdc will be "
    f"on-ramped to {WALLET_ID_EXAMPLE} with an address of "
    "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV on the sol network."
)
PAYMENT_ID_EXAMPLE = "PBRGSFNHQBH3RKP"


class RampEnd(BaseModel):
    """One end of a ramp payout: a bank account (usd, eur) or a wallet (usdc, usdt) of the
    payout's customer, and how the money travels from or to it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(
        min_length=1,
        max_length=64,
        description="The customer's bank account (`bankAccount_` and 32 hex digits) or "
        "wallet (`wallet_` and 32 hex digits); it must be active and the customer's own "
        "(else 422 `party_mismatch`)",
        examples=[BANK_ACCOUNT_ID_EXAMPLE, WALLET_ID_EXAMPLE],
    )
    currency: str = Field(
        min_length=3,
        max_length=4,
        description="usd or eur for a bank account, usdc or usdt for a wallet; the "
        "source's and destination's decide the kind (bank to wallet: onRamp, wallet to "
        "bank: offRamp)",
        examples=["usd", "usdc"],
    )
    network: str = Field(
        min_length=3,
        max_length=8,
        description="A bank account's: achPull, achPush or wire (usd) or sepa (eur) as the "
        "source, ach or wire (usd) or sepa (eur) as the destination; a wallet's: sol, "
        "ethereum or base",
        examples=["wire", "sol"],
    )


class RampCreate(BaseModel):
    """A ramp payout to create: what the customer sends, from where, and to where."""

    model_config = ConfigDict(extra="forbid")
    customer: str = Field(
        min_length=1,
        max_length=64,
        description="The customer's id (`customer_` and 32 hex digits): one of yours, "
        "whose KYC is approved (else 422 `customer_not_approved`)",
        examples=[CUSTOMER_ID_EXAMPLE],
    )
    amount: AmountIn = Field(
        description="What the customer sends, in the source's currency: positive, with at "
        "most 2 decimals for usd and eur, 6 for usdc and usdt",
        examples=["10.00"],
    )
    source: RampEnd = Field(
        description="What the customer sends from: its bank account (onRamp) or its "
        "wallet (offRamp)",
        examples=[SOURCE_EXAMPLE],
    )
    destination: RampEnd = Field(
        description="What the customer receives on: its wallet (onRamp) or its bank "
        "account (offRamp)",
        examples=[DESTINATION_EXAMPLE],
    )
    third_party: bool = Field(
        default=False,
        description="Whether the payout is sent on behalf of someone else",
        examples=[False],
    )
    third_party_message: str | None = Field(
        default=None,
        description="The business case of a third-party transfer, at most 500 characters",
        examples=["Salary for March"],
    )
    wire_message: str | None = Field(
        default=None,
        description="A wire's message: at most 3 lines (separated by \\n) of 35 characters; "
        "an offRamp's bank payment carries it (else the memo) as its remittance text",
        examples=["INVOICE 2024-118"],
    )
    lookup_key: str | None = Field(
        default=None,
        description="A key of your own, 1 to 100 characters, to list payouts by "
        "(`GET /v1/ramp-payouts?lookup_key=`); need not be unique",
        examples=["order-1042"],
    )
    meta: dict[str, Any] = Field(
        default_factory=dict,
        description="Key-value pairs of your own, kept with the payout and shown back",
        examples=[{"invoice": "2024-118"}],
    )


class RampEndOut(BaseModel):
    """One end of a ramp payout as it was created: a party's id, currency and network."""

    id: str = Field(
        description="The bank account's (`bankAccount_` and 32 hex digits) or wallet's "
        "(`wallet_` and 32 hex digits) id",
        examples=[BANK_ACCOUNT_ID_EXAMPLE],
    )
    currency: str = Field(
        description="Its currency: usd, eur, usdc or usdt (lower case)", examples=["usd"]
    )
    network: str = Field(
        description="How the money travels from or to it: achPull, achPush, ach, wire, "
        "sepa, sol, ethereum or base",
        examples=["wire"],
    )


class RampInstructions(BaseModel):
    """How the customer funds the payout: the memo its transfer must carry, and the
    same instructions as a sentence to show the customer."""

    memo: str = Field(
        description="20 characters (A-Z and 2-9, no 0/O, 1/I/L nor U) unique to the payout: "
        "an onRamp is funded by a bank transfer whose remittance text carries this memo "
        "with the exact amount and currency; a transfer without it waits in the review "
        "queue",
        examples=[MEMO_EXAMPLE],
    )
    human: str = Field(
        description="The instructions as a sentence: send what, from where (the customer's "
        "masked account number or wallet address), to which funding account or wallet, "
        "and what is then paid where",
        examples=[HUMAN_EXAMPLE],
    )


class RampOut(BaseModel):
    """A ramp payout: a customer's bank account to its wallet (onRamp) or its wallet to
    its bank account (offRamp), `pending` until the customer's money arrives, then
    `funded`, `processing` while the other leg travels, and `succeeded`, `failed`,
    `cancelled` or `refunded`."""

    id: str = Field(description="payoutd's id of the ramp payout (a UUID)", examples=[ID_EXAMPLE])
    object: Literal["ramp_payout"] = Field(description="Always ramp_payout")
    number: int = Field(
        description="The payout's number among its customer's ramp payouts, counted 1, 2, …",
        examples=[18],
    )
    type: Literal["onRamp", "offRamp"] = Field(
        description="onRamp: bank account to wallet; offRamp: wallet to bank account",
        examples=["onRamp"],
    )
    status: Literal[
        "pending", "funded", "processing", "succeeded", "failed", "cancelled", "refunded"
    ] = Field(
        description="pending: waiting for the customer's money, nothing held (only then "
        "cancellable); funded: it arrived (a statement line or review carrying the memo, "
        "a chain deposit into the funding wallet) and was credited to your balance; "
        "processing: the other leg travels (onRamp: a native payout sends the stablecoin, "
        "`payout_id`; offRamp: a bank payment to the customer's account); succeeded: paid; "
        "failed: the other leg could not be made or failed (`failure_reason`; an onRamp's "
        "fiat stays on your balance); cancelled: cancelled while pending; refunded: the "
        "bank returned an offRamp's payment and the stablecoin is your balance again",
        examples=["pending"],
    )
    customer: str = Field(
        description="The customer's id (`customer_` and 32 hex digits)",
        examples=[CUSTOMER_ID_EXAMPLE],
    )
    amount: str = Field(
        description="What the customer sends, in the source's currency (an operator "
        "assigning a queued transfer sets it to what actually arrived)",
        examples=["10.00"],
    )
    currency: str = Field(description="The source's currency (lower case)", examples=["usd"])
    final_amount: str | None = Field(
        description="What the customer receives, in the destination's currency, after fees "
        "and conversion; null until the payout is processing",
        examples=["9.850000", None],
    )
    fee: str | None = Field(
        description="The fees taken, in the destination's currency; null until the payout "
        "is processing",
        examples=["0.150000", None],
    )
    rate: str | None = Field(
        description="The rate the conversion used (one source unit in the destination's "
        "currency); null until the payout is processing",
        examples=["1", None],
    )
    source: RampEndOut = Field(
        description="What the customer sends from", examples=[SOURCE_EXAMPLE]
    )
    funding: RampEndOut = Field(
        description="The operator's funding bank account (onRamp) or wallet (offRamp) the "
        "customer pays into, in the source's currency and network",
        examples=[FUNDING_EXAMPLE],
    )
    destination: RampEndOut = Field(
        description="What the customer receives on", examples=[DESTINATION_EXAMPLE]
    )
    instructions: RampInstructions = Field(
        description="How the customer funds the payout",
        examples=[{"memo": MEMO_EXAMPLE, "human": HUMAN_EXAMPLE}],
    )
    third_party: bool = Field(description="Sent on behalf of someone else", examples=[False])
    third_party_message: str | None = Field(
        description="The business case of a third-party transfer, as created",
        examples=[None, "Salary for March"],
    )
    wire_message: str | None = Field(
        description="The wire's message, as created", examples=[None, "INVOICE 2024-118"]
    )
    lookup_key: str | None = Field(
        description="Your key to list by, as created", examples=["order-1042", None]
    )
    meta: dict[str, Any] = Field(
        description="Your key-value pairs, as created", examples=[{"invoice": "2024-118"}]
    )
    payout_id: str | None = Field(
        description="onRamp, from processing on: the native payout (`GET /v1/payouts/{id}`) "
        "that sends the stablecoin; null before, and for an offRamp",
        examples=[None, ID_EXAMPLE],
    )
    failure_reason: str | None = Field(
        description="Why it failed or was refunded (the engine's refusal, the bank's "
        "return reason); null otherwise",
        examples=[None],
    )
    created_at: str = Field(description="When it was created (UTC)", examples=[TIME_EXAMPLE])
    updated_at: str = Field(
        description="When its status or amounts last changed (UTC)", examples=[TIME_EXAMPLE]
    )


class RampList(BaseModel):
    """A page of ramp payouts, newest first."""

    data: list[RampOut] = Field(description="The ramp payouts of this page, newest first")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last",
        examples=[None, ramps.encode_cursor(ID_EXAMPLE)],
    )


class StatementImported(BaseModel):
    """What a statement import did: its booked lines, counted by outcome. Importing the
    same statement again changes nothing (every line counts as duplicate)."""

    lines: int = Field(
        description="The booked lines the statement holds (the sum of the other counts)",
        examples=[4],
    )
    funded: int = Field(
        description="Credits that carried a pending onRamp's memo with its exact amount and "
        "currency: each funded its payout",
        examples=[1],
    )
    settled: int = Field(
        description="Debits of our bank payments (by their end-to-end id): each offRamp succeeded",
        examples=[1],
    )
    returned: int = Field(
        description="Returns of our bank payments: each offRamp was refunded (its "
        "stablecoin is your balance again)",
        examples=[0],
    )
    review: int = Field(
        description="Lines that matched nothing (no memo, another amount, a payout no "
        "longer pending, a debit or return not ours): queued for an operator "
        "(`GET /v1/admin/bank/review`), no money moved",
        examples=[1],
    )
    duplicate: int = Field(
        description="Lines imported before (same account and bank reference): changed nothing",
        examples=[1],
    )


class ReviewItemOut(BaseModel):
    """Money that matched no ramp payout (a statement line or a chain deposit), waiting
    for an operator to assign it to a pending payout or dismiss it."""

    id: str = Field(description="The review item's id (a UUID)", examples=[ID_EXAMPLE])
    kind: Literal["bank_line", "deposit"] = Field(
        description="bank_line: a statement line (it can fund an onRamp); deposit: a chain "
        "deposit into a funding wallet (it can fund an offRamp)",
        examples=["bank_line"],
    )
    reason: str = Field(
        description="Why it matched no payout", examples=["no pending payout carries this memo"]
    )
    status: Literal["open", "assigned", "dismissed"] = Field(
        description="open until an operator resolves it; assigned: it funded `ramp_id`; "
        "dismissed: nothing moved (handled outside payoutd)",
        examples=["open"],
    )
    amount: str = Field(description="What arrived", examples=["10.00"])
    currency: str = Field(description="Its currency (upper case)", examples=["USD"])
    memo: str = Field(
        description="A statement line's remittance text, a deposit's sender address",
        examples=["WIRE IN BRGSFNHQBH3RKPEQDMD3"],
    )
    reference: str = Field(
        description="A statement line's bank reference, a deposit's transaction id",
        examples=["E2612080001"],
    )
    ramp_id: str | None = Field(
        description="The ramp payout it was assigned to; null unless assigned",
        examples=[None, ID_EXAMPLE],
    )
    resolved_by: str | None = Field(
        description="The operator who resolved it; null while open", examples=[None, "alice"]
    )
    note: str | None = Field(
        description="The operator's note", examples=[None, "customer typo in memo"]
    )
    created_at: str = Field(description="When it was queued (UTC)", examples=[TIME_EXAMPLE])
    resolved_at: str | None = Field(
        description="When it was resolved (UTC); null while open", examples=[None, TIME_EXAMPLE]
    )


class ReviewList(BaseModel):
    """Review queue items, newest first."""

    data: list[ReviewItemOut] = Field(description="The items, newest first")


class ReviewDecision(BaseModel):
    """An operator's decision on an open review item."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["assign", "dismiss"] = Field(
        description="assign: the money funds the pending ramp payout `ramp_id` (of the "
        "item's kind and currency), whose amount becomes what arrived; dismiss: nothing "
        "moves, the operator handles the money outside payoutd",
        examples=["assign"],
    )
    ramp_id: str | None = Field(
        default=None,
        max_length=36,
        description="The pending ramp payout to fund (a UUID): required to assign, "
        "refused to dismiss",
        examples=[ID_EXAMPLE],
    )
    note: str | None = Field(
        default=None,
        max_length=500,
        description="Why, kept with the item",
        examples=["customer typo in memo"],
    )
    operator: str = Field(
        default="operator",
        min_length=1,
        max_length=100,
        description="Who decided, kept with the item as `resolved_by`",
        examples=["alice"],
    )


class ExportCreate(BaseModel):
    """Which currency's pending off-ramp payments to write into a payment file."""

    model_config = ConfigDict(extra="forbid")
    currency: Literal["usd", "eur", "USD", "EUR"] = Field(
        description="EUR payments are written as a SEPA pain.001, USD as a NACHA file",
        examples=["eur"],
    )


class SandboxTransfer(BaseModel):
    """A customer's transfer for the sandbox bank to book on the operator's funding
    account of its currency and network."""

    model_config = ConfigDict(extra="forbid")
    amount: AmountIn = Field(
        description="What the customer sends: positive, at most 2 decimals",
        examples=["10.00"],
    )
    currency: str = Field(min_length=3, max_length=3, description="usd or eur", examples=["usd"])
    memo: str = Field(
        max_length=140,
        description="The transfer's remittance text: one carrying a pending onRamp's memo, "
        "with its exact amount and currency, funds it; any other waits in the review queue",
        examples=[MEMO_EXAMPLE],
    )
    network: str = Field(
        min_length=3,
        max_length=8,
        description="How it travels: achPull, achPush or wire (usd), sepa (eur)",
        examples=["wire"],
    )


class SandboxBooked(BaseModel):
    """The statement line the sandbox bank booked and what it did."""

    reference: str = Field(
        description="The line's bank reference: `SANDBOX-` and a UUID for a transfer, "
        "`SANDBOX-RET-` and the payment's id for a return",
        examples=["SANDBOX-0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8a"],
    )
    outcome: Literal["funded", "settled", "returned", "review", "duplicate"] = Field(
        description="funded: it funded the onRamp carrying its memo; settled: it confirmed "
        "an offRamp's payment; returned: the offRamp was refunded; review: it matched "
        "nothing and waits in the review queue; duplicate: booked before, nothing changed",
        examples=["funded"],
    )
