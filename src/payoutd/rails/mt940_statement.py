"""SWIFT MT940 customer statements, read with the `mt-940` package.

A statement is `:20:` … `:25:` (the account) … `:60F:` (opening balance), then one `:61:`
per booked line (date, C/D mark, amount, transaction type, references) with its `:86:`
(information to the account owner), then `:62F:`. `:86:` comes in three dialects, all read
here: SWIFT's structured `/CODE/value/` form (/EREF/, /REMI/, /RTRN/, /NAME/ …), the German
banks' `?20`-subfield form (which mt-940 splits into purpose, end-to-end reference …), and
free text.

A return of one of our payments is recognised by the RTI transaction type (`NRTI`), a
reversal mark (`RC`/`RD`), the German business transaction code of a returned transfer
(159), or a /RTRN/ reason in `:86:`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import mt940

from payoutd.domain.banking import Direction, StatementLine
from payoutd.domain.errors import PayoutdError
from payoutd.rails.references import digest_reference

# the codes of SWIFT's structured :86: (and the Dutch and Belgian banks' use of it)
STRUCTURED_KEYS = frozenset(
    {
        "ADDR",
        "BENM",
        "BIC",
        "CDTRREF",
        "CDTRREFTP",
        "CNTP",
        "CSID",
        "EREF",
        "IBAN",
        "ISDT",
        "MARF",
        "NAME",
        "ORDP",
        "PREF",
        "PURP",
        "REMI",
        "RTRN",
        "TRCD",
        "TRTP",
        "ULTB",
        "ULTC",
        "ULTD",
    }
)
# mt-940's corrections of its 5.0 behaviour: a reversal of a credit (RC) is negative like
# the debit it is, ?31 is the payer's IBAN (not part of the name), :86: is never cut short
OPTIONS = mt940.Options(
    reversal_sign=True,
    applicant_iban=True,
    case_insensitive_marks=True,
    unbounded_details=True,
    merge_keeps_values=True,
    strip_bom=True,
)
RETURN_TYPES = frozenset({"RTI"})  # SWIFT transaction type "returned item"
RETURN_GVC = frozenset({"159"})  # Deutsche Kreditwirtschaft: SEPA credit transfer returned
NOT_GIVEN = frozenset({"NONREF", "NOTPROVIDED", ""})
# ISO 20022 return reasons (AC04 closed account, AM05 duplicate …) and NACHA's R01-R85
REASON = re.compile(r"\b([A-Z]{2}\d{2}|R\d{2}|FOCR|DUPL|TECH|FRAD|CUST|CURR|UPAY)\b")


def unreadable(why: str) -> PayoutdError:
    return PayoutdError("statement_unreadable", f"The bank statement could not be read: {why}")


def looks_like_mt940(text: str) -> bool:
    return bool(re.search(r"(?m)^:20:", text)) and bool(re.search(r"(?m)^:25:", text))


def read_mt940(text: str) -> list[StatementLine]:
    body = _without_envelope(text)
    blocks = [b for b in re.split(r"(?m)^(?=:20:)", body) if b.strip().startswith(":20:")]
    if not blocks:
        raise unreadable("MT940 without a statement (:20:)")
    for number, block in enumerate(blocks, start=1):
        for tag, name in ((":25:", "account (:25:)"), (":60", "opening balance (:60F:)")):
            if not re.search(rf"(?m)^{tag}", block):
                raise unreadable(f"MT940 statement {number} has no {name}")
    try:
        statements = mt940.parse_statements(body, options=OPTIONS)
    except (RuntimeError, ValueError, KeyError, TypeError, ArithmeticError) as e:
        raise unreadable(f"MT940 that mt-940 cannot parse ({e})") from e
    lines: list[StatementLine] = []
    for number, (block, statement) in enumerate(zip(blocks, statements, strict=True), start=1):
        wanted = len(re.findall(r"(?m)^:61:", block))
        if len(statement) != wanted:
            raise unreadable(
                f"MT940 statement {number}: {wanted} :61: lines, {len(statement)} read"
            )
        account = str(statement.data.get("account_identification") or "").strip()
        if not account:
            raise unreadable(f"MT940 statement {number} has an empty account (:25:)")
        for n, transaction in enumerate(statement, start=1):
            lines.append(_line(account, transaction.data, position=n))
    return lines


def _without_envelope(text: str) -> str:
    """The statement of a SWIFT message ({1:…}{2:…}{4: … -}), or the text itself."""
    text = text.lstrip("\ufeff")
    found = re.findall(r"\{4:[ \t]*\r?\n(.*?)\r?\n-\}", text, re.DOTALL)
    return "\n".join(found) if found else text


def _line(account: str, data: dict[str, Any], *, position: int) -> StatementLine:
    amount = data["amount"]
    value = Decimal(amount.amount)
    status = str(data.get("status") or "")
    # the sign is the direction: debits (D, and reversals of credits RC) are negative
    direction = Direction.CREDIT if value >= 0 else Direction.DEBIT
    booked: date = data.get("entry_date") or data["date"]
    details = _details(data)
    structured = _structured(details)
    memo = _memo(data, structured, details)
    type_code = str(data.get("id") or "")
    reason_text = structured.get("RTRN")
    returned = (
        type_code[1:] in RETURN_TYPES
        or status.startswith("R")
        or str(data.get("transaction_code") or "") in RETURN_GVC
        or reason_text is not None
    )
    reason = None
    if returned:
        found = REASON.search(reason_text or details or str(data.get("purpose") or ""))
        reason = found.group(1) if found else (reason_text or None)
    bank_reference = _given(data.get("bank_reference"))
    customer_reference = _given(data.get("customer_reference"))
    end_to_end = _given(structured.get("EREF")) or _given(data.get("end_to_end_reference"))
    if end_to_end is None and direction is Direction.DEBIT:
        end_to_end = customer_reference  # the reference we gave the payment, echoed back
    if end_to_end is None and returned:
        end_to_end = customer_reference
    magnitude = abs(value)
    return StatementLine(
        reference=bank_reference
        or digest_reference(account, booked, magnitude, direction, memo, position),
        account=account,
        booked_on=date(booked.year, booked.month, booked.day),
        amount=magnitude,
        currency=str(amount.currency or data.get("currency") or "").upper(),
        direction=direction,
        memo=memo,
        end_to_end_id=end_to_end,
        returned=returned,
        return_reason=reason,
        counterparty=structured.get("NAME") or _given(data.get("applicant_name")),
    )


def _details(data: dict[str, Any]) -> str:
    # :86: is wrapped at 65 characters, often inside a word: the lines are one text
    raw = str(data.get("transaction_details") or "")
    return "".join(line.strip("\r") for line in raw.split("\n")).strip()


def _structured(details: str) -> dict[str, str]:
    """/CODE/value/CODE/value/ …; a value runs to the next known code (it may hold '/')."""
    if not details.startswith("/"):
        return {}
    found: dict[str, str] = {}
    key: str | None = None
    value: list[str] = []
    for token in details[1:].split("/"):
        if token in STRUCTURED_KEYS:
            if key is not None:
                found.setdefault(key, "/".join(value).strip("/ "))
            key, value = token, []
        elif key is not None:
            value.append(token)
    if key is not None:
        found.setdefault(key, "/".join(value).strip("/ "))
    if "REMI" in found:
        # /REMI/USTD//text/ (unstructured) or /REMI/STRD/CUR/ref/ (a creditor reference)
        found["REMI"] = re.sub(r"^(USTD//?|STRD/(CUR|ISO)/)", "", found["REMI"])
    for party in ("ORDP", "BENM"):
        if party in found and "NAME" not in found:
            found["NAME"] = found[party].lstrip("/")
    return {k: " ".join(v.split()) for k, v in found.items() if v.strip()}


def _memo(data: dict[str, Any], structured: dict[str, str], details: str) -> str:
    if "REMI" in structured:
        return structured["REMI"]
    purpose = data.get("purpose")
    if purpose:  # German ?20-?29 subfields: SVWZ+ text (mt-940 strips the tags)
        return " ".join(str(purpose).split())
    if structured:
        return ""
    return " ".join(details.split())


def _given(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return None if text.upper() in NOT_GIVEN else text
