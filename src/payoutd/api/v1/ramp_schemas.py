"""Request and response bodies of the ramp payout and bank calls (/v1/ramp-payouts,
/v1/admin/bank, /v1/sandbox/bank)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from payoutd.api.v1.schemas import AmountIn


class RampEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(
        min_length=1,
        max_length=64,
        description="The bank account's or wallet's id",
        examples=["0193a1f2-7c1e-7d3a-9b7e-3f6c2a1d4e5f"],
    )
    currency: str = Field(
        min_length=3,
        max_length=4,
        description="usd or eur for a bank account, usdc or usdt for a wallet",
        examples=["usd"],
    )
    network: str = Field(
        min_length=3,
        max_length=8,
        description="A bank account's: achPull, achPush, wire or sepa (source), ach, wire "
        "or sepa (destination); a wallet's: sol, ethereum or base",
        examples=["wire"],
    )


class RampCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer: str = Field(
        min_length=1,
        max_length=64,
        description="The customer's id",
        examples=["0193a1f2-7c1e-7d3a-9b7e-3f6c2a1d4e50"],
    )
    amount: AmountIn = Field(
        description="What the customer sends, in the source's currency",
        examples=["10.00"],
    )
    source: RampEnd = Field(description="What the customer sends from")
    destination: RampEnd = Field(description="What the customer receives on")
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
        description="A wire's message: at most 3 lines (separated by \\n) of 35 characters",
        examples=["INVOICE 2024-118"],
    )
    lookup_key: str | None = Field(
        default=None,
        description="A key to list payouts by",
        examples=["order-1042"],
    )
    meta: dict[str, Any] = Field(
        default_factory=dict,
        description="Key-value pairs kept with the payout",
        examples=[{"invoice": "2024-118"}],
    )


class RampEndOut(BaseModel):
    id: str = Field(description="The bank account's or wallet's id", examples=["0193a1f2-…"])
    currency: str = Field(description="Its currency", examples=["usd"])
    network: str = Field(description="Its network", examples=["wire"])


class RampInstructions(BaseModel):
    memo: str = Field(
        description="What the customer's transfer must carry as its message",
        examples=["BRGSFNHQBH3RKPEQDMD2"],
    )
    human: str = Field(
        description="The instructions as a sentence",
        examples=["Send 10 usd via the wire network from …"],
    )


class RampOut(BaseModel):
    id: str = Field(description="The ramp payout's id", examples=["0193a1f2-…"])
    object: Literal["ramp_payout"] = Field(description="Always ramp_payout")
    number: int = Field(description="The customer's payouts counted 1, 2, …", examples=[18])
    type: Literal["onRamp", "offRamp"] = Field(
        description="onRamp: bank to wallet; offRamp: wallet to bank", examples=["onRamp"]
    )
    status: str = Field(
        description="pending, funded, processing, succeeded, failed, cancelled or refunded",
        examples=["pending"],
    )
    customer: str = Field(description="The customer's id", examples=["0193a1f2-…"])
    amount: str = Field(description="What the customer sends", examples=["10.00"])
    currency: str = Field(description="The source's currency", examples=["usd"])
    final_amount: str | None = Field(
        description="What the customer receives after fees and conversion, once funded",
        examples=["9.85"],
    )
    fee: str | None = Field(
        description="The fees taken, in the destination's currency, once funded",
        examples=["0.15"],
    )
    rate: str | None = Field(
        description="The rate a conversion used (one source unit in the other currency)",
        examples=["1"],
    )
    source: RampEndOut = Field(description="What the customer sends from")
    funding: RampEndOut = Field(description="The operator's account the customer pays into")
    destination: RampEndOut = Field(description="What the customer receives on")
    instructions: RampInstructions = Field(description="How the customer funds the payout")
    third_party: bool = Field(description="Sent on behalf of someone else", examples=[False])
    third_party_message: str | None = Field(
        description="The third-party business case", examples=[None]
    )
    wire_message: str | None = Field(description="The wire's message", examples=[None])
    lookup_key: str | None = Field(description="The key to list by", examples=["order-1042"])
    meta: dict[str, Any] = Field(description="The caller's key-value pairs", examples=[{}])
    payout_id: str | None = Field(
        description="On-ramp: the payout that carries the stablecoin", examples=[None]
    )
    failure_reason: str | None = Field(description="Why it failed", examples=[None])
    created_at: str = Field(description="When it was created", examples=["2026-12-08T01:00Z"])
    updated_at: str = Field(description="When it last changed", examples=["2026-12-08T01:00Z"])


class RampList(BaseModel):
    data: list[RampOut] = Field(description="Newest first")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last", examples=[None]
    )


class StatementImported(BaseModel):
    lines: int = Field(description="Lines the statement holds", examples=[3])
    funded: int = Field(description="Lines that funded an on-ramp", examples=[1])
    settled: int = Field(description="Debits that confirmed an off-ramp's payment", examples=[1])
    returned: int = Field(description="Returns that refunded an off-ramp", examples=[0])
    review: int = Field(description="Lines queued for an operator", examples=[1])
    duplicate: int = Field(description="Lines imported before (changed nothing)", examples=[0])


class ReviewItemOut(BaseModel):
    id: str = Field(description="The item's id", examples=["0193a1f2-…"])
    kind: Literal["bank_line", "deposit"] = Field(
        description="A statement line or a chain deposit", examples=["bank_line"]
    )
    reason: str = Field(
        description="Why it matched nothing", examples=["no pending payout carries this memo"]
    )
    status: Literal["open", "assigned", "dismissed"] = Field(
        description="open until an operator resolves it", examples=["open"]
    )
    amount: str = Field(description="What arrived", examples=["10.00"])
    currency: str = Field(description="Its currency", examples=["USD"])
    memo: str = Field(description="A line's remittance text, a deposit's sender", examples=[""])
    reference: str = Field(description="The bank's reference, a deposit's txid", examples=["E1"])
    ramp_id: str | None = Field(description="The payout it was assigned to", examples=[None])
    resolved_by: str | None = Field(description="Who resolved it", examples=[None])
    note: str | None = Field(description="The operator's note", examples=[None])
    created_at: str = Field(description="When it was queued", examples=["2026-12-08T01:00Z"])
    resolved_at: str | None = Field(description="When it was resolved", examples=[None])


class ReviewList(BaseModel):
    data: list[ReviewItemOut] = Field(description="Newest first")


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["assign", "dismiss"] = Field(
        description="assign: the money funds `ramp_id`; dismiss: nothing moves",
        examples=["assign"],
    )
    ramp_id: str | None = Field(
        default=None,
        max_length=36,
        description="The pending ramp payout to fund (assign only)",
        examples=["0193a1f2-…"],
    )
    note: str | None = Field(
        default=None, max_length=500, description="Why", examples=["customer typo in memo"]
    )
    operator: str = Field(
        default="operator",
        min_length=1,
        max_length=100,
        description="Who decided",
        examples=["alice"],
    )


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: Literal["usd", "eur", "USD", "EUR"] = Field(
        description="EUR payments are written as a SEPA pain.001, USD as a NACHA file",
        examples=["eur"],
    )


class SandboxTransfer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: AmountIn = Field(description="What the customer sends", examples=["10.00"])
    currency: str = Field(min_length=3, max_length=3, description="usd or eur", examples=["usd"])
    memo: str = Field(
        max_length=140,
        description="The transfer's message: a ramp payout's memo funds it",
        examples=["BRGSFNHQBH3RKPEQDMD2"],
    )
    network: str = Field(
        min_length=3,
        max_length=8,
        description="How it travels: achPull, achPush, wire or sepa",
        examples=["wire"],
    )


class SandboxBooked(BaseModel):
    reference: str = Field(description="The line's bank reference", examples=["SANDBOX-…"])
    outcome: Literal["funded", "settled", "returned", "review", "duplicate"] = Field(
        description="What the line did", examples=["funded"]
    )
