"""What bank rails exchange with the engine: payments going out of the operator's funding
accounts, and the lines of the statements banks send back.

These records are the whole contract between the ramp services and the rails (the sandbox
bank, the payment files written for real banks, the statements read from them), so a file
format never learns about payouts and a payout never learns about XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class Direction(StrEnum):
    CREDIT = "credit"  # money into the operator's account
    DEBIT = "debit"  # money out of it


@dataclass(frozen=True, slots=True)
class BankAccountRef:
    """An account as payment files and statements name it. EUR accounts are an IBAN (and a
    BIC); USD accounts a routing number and an account number."""

    holder: str
    currency: str  # "USD" or "EUR"
    iban: str | None = None
    bic: str | None = None
    routing_number: str | None = None
    account_number: str | None = None
    account_type: str = "checking"  # ACH: "checking" or "savings"
    # ACH: an "individual" is paid in a PPD batch, a "business" in a CCD batch
    holder_type: str = "individual"


@dataclass(frozen=True, slots=True)
class Originator:
    """The operator's own funding account that outgoing payments are paid from, with what
    a NACHA file needs to name the company (ignored by SEPA)."""

    account: BankAccountRef
    company_name: str
    company_id: str = ""  # NACHA Company Identification (10 characters, often "1" + EIN)
    origin_routing: str = ""  # NACHA Immediate Origin; defaults to the account's routing number
    destination_routing: str = ""  # NACHA Immediate Destination (the ODFI)
    destination_name: str = ""


@dataclass(frozen=True, slots=True)
class OutgoingPayment:
    """One payment out: a ramp payout paying a customer's bank account."""

    payment_id: str  # carried as the end-to-end id / individual id, so returns find it
    amount: Decimal
    currency: str  # "USD" or "EUR"
    creditor: BankAccountRef
    remittance: str  # what the beneficiary sees (SEPA Ustrd, NACHA addenda)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One booked entry of a bank statement (camt.053 Ntry, MT940 :61:/:86:) or of the
    sandbox bank.

    `reference` is stable for the same entry however often the statement is read (the
    bank's entry reference, or a digest of the entry where the bank gives none), so an
    import can be repeated without moving money twice."""

    reference: str
    account: str  # the operator's account the statement is for (IBAN or account number)
    booked_on: date
    amount: Decimal  # always positive; `direction` says which way
    currency: str
    direction: Direction
    memo: str  # the remittance information: the ramp payout's memo for an incoming payment
    end_to_end_id: str | None = None  # an outgoing payment's payment_id, as the bank echoes it
    returned: bool = False  # a payment of ours coming back (R01…, AC04…)
    return_reason: str | None = None
    counterparty: str | None = None


@dataclass(frozen=True, slots=True)
class ChainDeposit:
    """A transfer into one of the operator's funding wallets seen on chain: what funds an
    off-ramp. `(network, txid, index)` names it once, however often a scan sees it."""

    network: str  # payoutd's network code: "SOL", "ETH", "BASE"
    currency: str  # "USDC" or "USDT"
    address: str  # the funding wallet it was paid to
    amount: Decimal
    txid: str
    index: int  # the log index (EVM) or output/instruction index within the transaction
    block: int
    confirmations: int
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class BankPayment:
    """An off-ramp's payment out of a funding account, as payoutd keeps it: `pending`
    until written into a payment file (or handed to the sandbox bank), `exported`, then
    `settled` when the statement shows the debit or `returned` when the money comes
    back."""

    id: str  # the end-to-end id the bank echoes
    ramp_id: str
    merchant_id: str
    amount: Decimal
    currency: str  # "USD" or "EUR"
    creditor: BankAccountRef
    remittance: str
    status: str
    export_id: str | None = None
    settle_after: datetime | None = None

    def outgoing(self) -> OutgoingPayment:
        return OutgoingPayment(
            payment_id=self.id,
            amount=self.amount,
            currency=self.currency,
            creditor=self.creditor,
            remittance=self.remittance,
        )


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """Money that matched no ramp payout exactly (an unknown memo, another amount, a
    deposit from another sender), waiting for an operator to assign or dismiss it."""

    id: str
    kind: str  # "bank_line" or "deposit"
    subject_id: str  # the stored line or deposit
    reason: str
    status: str  # open, assigned, dismissed
    amount: Decimal
    currency: str
    memo: str  # a line's remittance text, a deposit's sender
    reference: str  # a line's bank reference, a deposit's txid
    created_at: datetime
    ramp_id: str | None = None
    resolved_by: str | None = None
    note: str | None = None
    resolved_at: datetime | None = None
