"""NACHA ACH files: the file an operator uploads to the ODFI to pay customers' USD accounts
from the funding account.

Written with achkit (94-character records, batch and file control totals, entry hash, block
padding). One batch per Standard Entry Class: PPD for individuals' accounts, CCD for
businesses'; credits only (transaction code 22 to checking, 32 to savings), each with one
05 addenda record carrying the remittance. The individual identification number is the
payment_id, so a return (which echoes it) finds its payout.

NACHA records are upper-case ASCII: names and remittance are transliterated here
("Müller" -> "MULLER") because achkit would turn every other character into a space, and
the payment_id travels upper-cased.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from achkit import AchError, AchFile, is_valid_routing
from text_unidecode import unidecode

from payoutd.domain.banking import BankAccountRef, Originator, OutgoingPayment
from payoutd.rails.checks import (
    cents,
    payment_field,
    refused,
    require_currency,
    require_payments,
    require_text,
)

MAX_CENTS = 99_999_999_99  # the entry detail's amount field: 10 digits of cents
INDIVIDUAL_ID = re.compile(r"[A-Za-z0-9-]{1,15}")
ACCOUNT_NUMBER = re.compile(r"[A-Za-z0-9-]{1,17}")
FILE_ID_MODIFIER = re.compile(r"[A-Z0-9]")
COMPANY_ID = re.compile(r"[A-Za-z0-9 ]{1,10}")
ENTRY_DESCRIPTION = "PAYOUT"  # Company Entry Description: what the receiver's statement shows
SEC_BY_HOLDER = {"individual": "PPD", "business": "CCD"}


def write_nacha(
    originator: Originator,
    payments: Sequence[OutgoingPayment],
    *,
    file_id_modifier: str,
    created_at: datetime,
    effective_date: date,
) -> bytes:
    """One ACH file crediting `payments` on `effective_date`; `file_id_modifier` (A-Z, 0-9)
    tells apart files created the same day for the same ODFI."""
    account = originator.account
    require_currency(account.currency, "USD", "originator.account.currency")
    if not FILE_ID_MODIFIER.fullmatch(file_id_modifier):
        raise refused("file_id_modifier", "One upper-case letter or digit")
    require_payments(payments)
    origin = _routing(
        originator.origin_routing or account.routing_number, "originator.origin_routing"
    )
    destination = _routing(
        originator.destination_routing or origin, "originator.destination_routing"
    )
    company_id = originator.company_id
    if not COMPANY_ID.fullmatch(company_id):
        raise refused("originator.company_id", "1 to 10 letters or digits (often 1 + the EIN)")
    company_name = _ascii(
        require_text(originator.company_name, "originator.company_name", max_length=16)
    )
    entries = [_entry(i, payment) for i, payment in enumerate(payments)]

    ach = AchFile.create(
        origin_dfi=origin,
        company_id=company_id,
        destination_routing=destination,
        destination_name=_ascii(originator.destination_name)[:23],
        origin_name=company_name[:23],
        file_id_modifier=file_id_modifier,
        creation_date=created_at,
    )
    for sec in ("PPD", "CCD"):
        mine = [entry for entry in entries if entry.sec == sec]
        if not mine:
            continue
        batch = ach.batch(
            sec=sec,
            description=ENTRY_DESCRIPTION,
            effective_date=effective_date.isoformat(),
            company_name=company_name,
            # achkit would keep only the digits of a company id given to the file
            company_id=company_id,
        )
        for entry in mine:
            batch.credit(
                name=entry.name,
                routing=entry.routing,
                account=entry.account,
                amount_cents=entry.amount_cents,
                account_type=entry.account_type,
                id_number=entry.individual_id,
                addenda=entry.remittance,
            )
    try:
        text: str = ach.render()
    except AchError as e:  # a field the checks above let through and the format does not
        raise refused("payments", f"The NACHA file cannot be written: {e.message}") from e
    return text.encode("ascii")


@dataclass(frozen=True, slots=True)
class _Entry:
    sec: str
    name: str
    routing: str
    account: str
    account_type: str
    amount_cents: int
    individual_id: str
    remittance: str


def _entry(index: int, payment: OutgoingPayment) -> _Entry:
    require_currency(payment.currency, "USD", payment_field(index, "currency"))
    creditor: BankAccountRef = payment.creditor
    if not INDIVIDUAL_ID.fullmatch(payment.payment_id):
        raise refused(
            payment_field(index, "payment_id"),
            "NACHA's individual identification number: 1 to 15 letters, digits or '-'",
        )
    account = creditor.account_number or ""
    if not ACCOUNT_NUMBER.fullmatch(account):
        raise refused(
            payment_field(index, "creditor.account_number"), "1 to 17 letters, digits or '-'"
        )
    if creditor.account_type not in ("checking", "savings"):
        raise refused(payment_field(index, "creditor.account_type"), "checking or savings")
    sec = SEC_BY_HOLDER.get(creditor.holder_type)
    if sec is None:
        raise refused(payment_field(index, "creditor.holder_type"), "individual or business")
    remittance = _ascii(
        require_text(payment.remittance, payment_field(index, "remittance"), max_length=80)
    )
    if len(remittance) > 80:  # a transliteration may grow ("ß" -> "ss")
        raise refused(payment_field(index, "remittance"), "At most 80 characters in ASCII")
    return _Entry(
        sec=sec,
        # the Individual Name field holds 22 characters: longer names are cut, as banks
        # do (the account number, not the name, decides where the money goes)
        name=_ascii(
            require_text(creditor.holder, payment_field(index, "creditor.holder"), max_length=140)
        )[:22],
        routing=_routing(creditor.routing_number, payment_field(index, "creditor.routing_number")),
        account=account,
        account_type=creditor.account_type,
        amount_cents=cents(payment.amount, payment_field(index, "amount"), max_cents=MAX_CENTS),
        individual_id=payment.payment_id,
        remittance=remittance,
    )


def _routing(value: str | None, field: str) -> str:
    if not value or not re.fullmatch(r"\d{9}", value) or not is_valid_routing(value):
        raise refused(field, "A 9-digit ABA routing number with a valid check digit")
    return value


def _ascii(text: str) -> str:
    return " ".join(unidecode(text).split())
