"""Rules of ramp payouts (Sphere) that need no I/O: which ends a payout may join, its
memo, the instructions shown to the customer, the limits on its messages, and the ledger
entries its money moves with. States and transitions live in domain.payout with every
other payout's."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.ledger import (
    AccountKind,
    Entry,
    balanced,
    merchant_account,
    system_account,
)
from payoutd.domain.payout import RampPayout, RampType

# Sphere's wallet networks and payoutd's network codes.
WALLET_NETWORKS: dict[str, str] = {"sol": "SOL", "ethereum": "ETH", "base": "BASE"}
WALLET_CURRENCIES: frozenset[str] = frozenset({"usdc", "usdt"})
# Which bank networks move each fiat: USD by ACH or wire, EUR by SEPA. Sphere names an
# on-ramp's source achPull/achPush/wire/sepa and an off-ramp's destination ach/wire/sepa.
BANK_NETWORKS: dict[str, frozenset[str]] = {
    "usd": frozenset({"ach", "achPull", "achPush", "wire"}),
    "eur": frozenset({"sepa"}),
}
SOURCE_BANK_NETWORKS = frozenset({"achPull", "achPush", "wire", "sepa"})
DESTINATION_BANK_NETWORKS = frozenset({"ach", "wire", "sepa"})

# Memos are read aloud and typed into bank forms: no 0/O, 1/I/L, nor U (Crockford's
# reasons), 30 symbols; 20 of them are about 98 bits, so a collision the unique
# constraint would catch is never expected.
MEMO_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
MEMO_LENGTH = 20

THIRD_PARTY_MESSAGE_MAX = 500
WIRE_MESSAGE_LINES = 3
WIRE_MESSAGE_LINE_MAX = 35
LOOKUP_KEY_MAX = 100


def new_memo() -> str:
    return "".join(secrets.choice(MEMO_ALPHABET) for _ in range(MEMO_LENGTH))


_WORD = re.compile(r"[A-Za-z0-9]+")


def memo_candidates(text: str) -> list[str]:
    """The memo-shaped words of a remittance text (banks may fold its case and surround
    the memo with their own prefixes: /ROC/, EREF+...)."""
    alphabet = set(MEMO_ALPHABET)
    return [
        w.upper()
        for w in _WORD.findall(text)
        if len(w) == MEMO_LENGTH and set(w.upper()) <= alphabet
    ]


def check_third_party_message(message: str | None) -> str | None:
    if message is not None and len(message) > THIRD_PARTY_MESSAGE_MAX:
        raise field_error(
            "validation_error",
            "thirdPartyMessage",
            f"thirdPartyMessage is at most {THIRD_PARTY_MESSAGE_MAX} characters "
            f"(got {len(message)})",
        )
    return message


def check_wire_message(message: str | None) -> str | None:
    """Sphere: at most 3 lines, separated by \\n, each of at most 35 characters."""
    if message is None:
        return None
    lines = message.split("\n")
    if len(lines) > WIRE_MESSAGE_LINES:
        raise field_error(
            "validation_error",
            "wireMessage",
            f"wireMessage has at most {WIRE_MESSAGE_LINES} lines (got {len(lines)})",
        )
    for number, line in enumerate(lines, start=1):
        if len(line) > WIRE_MESSAGE_LINE_MAX:
            raise field_error(
                "validation_error",
                "wireMessage",
                f"wireMessage line {number} is longer than {WIRE_MESSAGE_LINE_MAX} "
                f"characters ({len(line)})",
            )
    return message


def check_lookup_key(key: str | None) -> str | None:
    if key is not None and not 0 < len(key) <= LOOKUP_KEY_MAX:
        raise field_error(
            "validation_error", "lookupKey", f"lookupKey is 1 to {LOOKUP_KEY_MAX} characters"
        )
    return key


@dataclass(frozen=True, slots=True)
class End:
    """One end of a ramp payout as the request names it."""

    id: str
    currency: str
    network: str


def ramp_type(source: End, destination: End) -> RampType:
    """onRamp when a bank account (usd/eur) pays a wallet (usdc/usdt), offRamp the other
    way; anything else names the field at fault."""
    src, dst = source.currency.lower(), destination.currency.lower()
    if src in BANK_NETWORKS:
        if dst not in WALLET_CURRENCIES:
            raise field_error(
                "validation_error",
                "destination.currency",
                "an onRamp pays a wallet: destination.currency is usdc or usdt",
            )
        if source.network not in SOURCE_BANK_NETWORKS or source.network not in BANK_NETWORKS[src]:
            raise field_error(
                "validation_error",
                "source.network",
                f"{src} is sent by {', '.join(sorted(BANK_NETWORKS[src] & SOURCE_BANK_NETWORKS))}",
            )
        if destination.network not in WALLET_NETWORKS:
            raise field_error(
                "validation_error",
                "destination.network",
                f"destination.network is one of {', '.join(WALLET_NETWORKS)}",
            )
        return RampType.ON_RAMP
    if src in WALLET_CURRENCIES:
        if dst not in BANK_NETWORKS:
            raise field_error(
                "validation_error",
                "destination.currency",
                "an offRamp pays a bank account: destination.currency is usd or eur",
            )
        if source.network not in WALLET_NETWORKS:
            raise field_error(
                "validation_error",
                "source.network",
                f"source.network is one of {', '.join(WALLET_NETWORKS)}",
            )
        if (
            destination.network not in DESTINATION_BANK_NETWORKS
            or destination.network not in BANK_NETWORKS[dst]
        ):
            raise field_error(
                "validation_error",
                "destination.network",
                f"{dst} is paid by "
                f"{', '.join(sorted(BANK_NETWORKS[dst] & DESTINATION_BANK_NETWORKS))}",
            )
        return RampType.OFF_RAMP
    raise field_error(
        "validation_error", "source.currency", "source.currency is usd, eur, usdc or usdt"
    )


def masked(number: str) -> str:
    """An account number as the instructions show it: ******** and its last 4."""
    return "********" + number[-4:]


def human_instructions(
    *,
    amount: str,
    source: End,
    source_detail: str,
    funding: End,
    funding_detail: str,
    destination: End,
    destination_detail: str,
) -> str:
    """Sphere's `instructions.human`, sentence for sentence. The details are the parties'
    numbers as the seed shows them: a bank account's masked account number, a wallet's
    address."""

    def detail(end: End, value: str) -> str:
        if end.currency.lower() in BANK_NETWORKS:
            return f"with an account number of {value}"
        return f"with an address of {value}"

    return (
        f"Send {amount} {source.currency} via the {source.network} network from {source.id} "
        f"{detail(source, source_detail)} to {funding.id} {detail(funding, funding_detail)}. "
        f"After sending {source.currency}, the payout will be funded and {amount} of "
        f"{destination.currency} will be "
        f"{'on-ramped' if source.currency.lower() in BANK_NETWORKS else 'off-ramped'} to "
        f"{destination.id} {detail(destination, destination_detail)} on the "
        f"{destination.network} network."
    )


# -- money ------------------------------------------------------------------------------


def received_at_bank(merchant_id: str, currency: str, amount: Decimal) -> list[Entry]:
    """An on-ramp's fiat arrived at the operator's funding account: the bank account's
    side pays the merchant's balance (what the merchant now owes its customer in
    stablecoin)."""
    return balanced(
        [
            Entry(system_account(AccountKind.BANK, currency), currency, -amount),
            Entry(merchant_account(merchant_id, currency), currency, amount),
        ]
    )


def received_on_chain(merchant_id: str, currency: str, amount: Decimal) -> list[Entry]:
    """An off-ramp's stablecoin arrived at a funding wallet."""
    return balanced(
        [
            Entry(system_account(AccountKind.CHAIN, currency), currency, -amount),
            Entry(merchant_account(merchant_id, currency), currency, amount),
        ]
    )


def bank_payment_posting(ramp: RampPayout) -> list[Entry]:
    """An off-ramp's bank payment confirmed: the held stablecoin leaves the merchant's
    balance and is exchanged; the fiat bought goes to the bank (what the customer got)
    and to the operator's service fee."""
    if ramp.final_amount is None or ramp.fee is None:
        raise PayoutdError("invalid_transition", "the payout was never priced")
    crypto = ramp.source_currency.upper()
    fiat = ramp.destination_currency.upper()
    gross = ramp.final_amount + ramp.fee
    entries = [
        Entry(merchant_account(ramp.merchant_id, crypto), crypto, -ramp.amount),
        Entry(system_account(AccountKind.EXCHANGE, crypto), crypto, ramp.amount),
        Entry(system_account(AccountKind.EXCHANGE, fiat), fiat, -gross),
        Entry(system_account(AccountKind.BANK, fiat), fiat, ramp.final_amount),
    ]
    if ramp.fee:
        entries.append(Entry(system_account(AccountKind.SERVICE_FEES, fiat), fiat, ramp.fee))
    return balanced(entries)
