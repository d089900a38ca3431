"""The rules a bank account of a ramp payout passes before it is stored: USD accounts (ACH
and wire) by their ABA routing number and account number, EUR accounts (SEPA) by IBAN and
BIC. Every refusal names the field at fault with a code from the catalogue.

The checksums are the libraries' (python-stdnum's ABA check, schwifty's IBAN and BIC
rules and registry): they are kept up to date with the banks' registries, which a
hand-written check would not be."""

from __future__ import annotations

import re
from dataclasses import dataclass

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError
from stdnum.us import rtn

from payoutd.domain.errors import field_error

_ACCOUNT_NUMBER = re.compile(r"[0-9]{4,17}")  # NACHA's DFI account number field is 17 wide


@dataclass(frozen=True, slots=True)
class UsdAccount:
    routing_number: str
    account_number: str


@dataclass(frozen=True, slots=True)
class EurAccount:
    iban: str  # compact, upper case
    bic: str  # compact, upper case (8 or 11 characters)


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def check_usd(routing_number: str | None, account_number: str | None) -> UsdAccount:
    """An ACH / wire account: a 9-digit ABA routing number whose check digit holds, and
    an account number of 4 to 17 digits (spaces and dashes dropped)."""
    if not routing_number:
        raise field_error("validation_error", "routing_number", "routing_number is required")
    if not account_number:
        raise field_error("validation_error", "account_number", "account_number is required")
    routing = routing_number.strip()
    try:
        routing = rtn.validate(routing)
    except ValidationError as exc:
        raise field_error(
            "invalid_routing_number",
            "routing_number",
            f"The routing number is not valid: {exc}",
        ) from None
    number = re.sub(r"[\s-]", "", account_number)
    if _ACCOUNT_NUMBER.fullmatch(number) is None:
        raise field_error(
            "invalid_account_number",
            "account_number",
            "The account number must be 4 to 17 digits",
        )
    return UsdAccount(routing, number)


def check_eur(iban: str | None, bic: str | None) -> EurAccount:
    """A SEPA account: an IBAN of a SEPA country whose check digits, length and national
    structure hold, and a BIC of the same country."""
    if not iban:
        raise field_error("validation_error", "iban", "iban is required")
    if not bic:
        raise field_error("validation_error", "bic", "bic is required")
    try:
        parsed = IBAN(_compact(iban))
    except SchwiftyException as exc:
        raise field_error("invalid_iban", "iban", f"The IBAN is not valid: {exc}") from None
    if not parsed.in_sepa_zone:
        raise field_error(
            "invalid_iban", "iban", f"The IBAN's country {parsed.country_code} is not in SEPA"
        )
    try:
        code = BIC(_compact(bic))
    except SchwiftyException as exc:
        raise field_error("invalid_bic", "bic", f"The BIC is not valid: {exc}") from None
    if code.country_code != parsed.country_code:
        raise field_error(
            "invalid_bic",
            "bic",
            f"The BIC's country {code.country_code} is not the IBAN's ({parsed.country_code})",
        )
    return EurAccount(parsed.compact, code.compact)
