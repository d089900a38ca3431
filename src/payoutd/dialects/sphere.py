"""Sphere's wire format, as translation only: the response envelope, Sphere's ids, and
its customer, bankAccount and wallet objects in its own field names
(../shared/seeds/001_…; DESIGN §9).

Every answer, success or refusal, is one envelope:
`{ok, object, statusCode, error, message, data, ts, request}`, `ts` an ISO time with
milliseconds and `Z`, `request` = `request_` and 32 hex digits. A success carries
`data: {<object name>: {...}}` and `message: "success"`; a refusal `ok: false`, the HTTP
status, payoutd's stable error code as the short word in `error`, a text in `message`
and `data: null`."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from payoutd.domain.parties import BankAccount, Customer, Wallet

PROVIDER = "payoutd"  # Sphere names the bank behind an account (`bridge`); here, payoutd

# payoutd's field names -> Sphere's, for the field a refusal names
FIELDS: Mapping[str, str] = {
    "routing_number": "routingNumber",
    "account_number": "accountNumber",
    "account_type": "accountType",
    "holder_name": "accountHolderName",
    "bank_name": "bankName",
    "bank_address": "bankAddressString",
    "lookup_key": "lookupKey",
    "customer_id": "customer",
}


def new_request_id() -> str:
    return "request_" + secrets.token_hex(16)


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and `Z`, as Sphere writes every time."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def success(
    data: Mapping[str, Any], now: datetime, request_id: str, *, status: int = 200
) -> dict[str, Any]:
    return {
        "ok": True,
        "object": "object",
        "statusCode": status,
        "error": None,
        "message": "success",
        "data": dict(data),
        "ts": timestamp(now),
        "request": request_id,
    }


def failure(
    status: int,
    error: str,
    message: str,
    now: datetime,
    request_id: str,
) -> dict[str, Any]:
    return {
        "ok": False,
        "object": "object",
        "statusCode": status,
        "error": error,
        "message": message,
        "data": None,
        "ts": timestamp(now),
        "request": request_id,
    }


def field_name(native: str) -> str:
    """A request field as Sphere's clients name it (dotted paths: each part)."""
    return ".".join(FIELDS.get(part, part) for part in native.split("."))


def refusal_message(message: str, fields: Mapping[str, list[str]]) -> str:
    """The refusal's text, naming the field at fault in Sphere's words."""
    if not fields:
        return message
    name, texts = next(iter(fields.items()))
    text = texts[0] if texts else message
    return f"{field_name(name)}: {text}"


def customer(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "type": c.type.value,
        "name": c.name,
        "email": c.email,
        "kyc": c.kyc_status.value,
        "meta": c.meta,
        "lookupKey": c.lookup_key,
        "mock": False,
        "updated": timestamp(c.updated_at),
        "created": timestamp(c.created_at),
        "deleted": None,
    }


def _beneficiary_address() -> dict[str, Any]:
    # payoutd keeps no beneficiary address: Sphere's empty form of it
    return dict.fromkeys(
        ("id", "line1", "line2", "city", "postalCode", "state", "country", "application")
    )


def bank_account(a: BankAccount) -> dict[str, Any]:
    """Sphere's bankAccount. A customer's account number and IBAN are shown by their
    last four digits only, as Sphere's instructions show a source account
    (`********9942`); a funding account in full, as its `resource` shows it."""
    number = a.account_number if a.funding or not a.account_number else a.masked_number
    iban = a.iban if a.funding or not a.iban else a.masked_number
    return {
        "id": a.id,
        "status": a.status.value,
        "bankName": a.bank_name,
        "accountHolderName": a.holder_name,
        "accountName": a.holder_name,
        "accountNumber": number,
        "customer": a.customer_id,
        "last4": a.last4,
        "routingNumber": a.routing_number,
        "bic": a.bic,
        "iban": iban,
        "bankAddressString": a.bank_address,
        "meta": a.meta,
        "lookupKey": a.lookup_key,
        "currency": a.currency.value,
        "provider": PROVIDER,
        "beneficiaryAddress": _beneficiary_address(),
        "walletBankAccounts": [],
        "mock": a.sandbox,
        "accountType": a.account_type,
        "updated": timestamp(a.updated_at),
        "created": timestamp(a.created_at),
        "deleted": None,
    }


def wallet(w: Wallet) -> dict[str, Any]:
    return {
        "id": w.id,
        "status": w.status.value,
        "address": w.address,
        "network": w.network.value,
        "currency": w.currency.value,
        "customer": w.customer_id,
        "meta": w.meta,
        "lookupKey": w.lookup_key,
        "mock": w.sandbox,
        "updated": timestamp(w.updated_at),
        "created": timestamp(w.created_at),
        "deleted": None,
    }
