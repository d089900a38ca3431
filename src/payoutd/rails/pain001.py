"""SEPA credit transfers: the pain.001 file an operator uploads to the bank to pay customers'
EUR accounts from the funding account.

The XML is sepaxml's (`SepaTransfer`), in ISO 20022 pain.001.001.09, the version of the
EPC's current SCT rulebook. sepaxml draws the message id, the payment information id and
the creation time itself; those three are set here to what the caller names, so the same
export gives the same file. Every file is checked against the ISO 20022 XSD that sepaxml
ships before it is returned: a file the bank would refuse is never handed out.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree
from sepaxml import SepaTransfer
from text_unidecode import unidecode

from payoutd.domain.banking import Originator, OutgoingPayment
from payoutd.domain.errors import field_error
from payoutd.rails.checks import (
    cents,
    payment_field,
    refused,
    require_currency,
    require_payments,
    require_text,
)

SCHEMA = "pain.001.001.09"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
# the characters the EPC's SEPA rulebook allows in identifiers (MsgId, EndToEndId)
SEPA_ID = re.compile(r"[A-Za-z0-9/?:().,'+ -]{1,35}")
MAX_CENTS = 99_999_999_999  # 999,999,999.99 EUR: the SCT rulebook's largest amount
MAX_NAME = 70  # Max70Text in the SEPA implementation guidelines
MAX_REMITTANCE = 140  # one Ustrd


@cache
def xsd_path() -> str:
    """The official ISO 20022 schema of the version written, as sepaxml ships it."""
    return str(resources.files("sepaxml") / "schemas" / f"{SCHEMA}.xsd")


@cache
def _schema() -> Any:
    import xmlschema  # built on first use, not at import time: parsing the XSD takes a while

    return xmlschema.XMLSchema(xsd_path())


def write_pain001(
    originator: Originator,
    payments: Sequence[OutgoingPayment],
    *,
    message_id: str,
    created_at: datetime,
    execution_date: date,
) -> bytes:
    """One SEPA credit transfer message paying `payments` from the originator's account on
    `execution_date`; each payment's end-to-end id is its payment_id."""
    debtor = originator.account
    require_currency(debtor.currency, "EUR", "originator.account.currency")
    if not SEPA_ID.fullmatch(message_id) or message_id.startswith("/"):
        raise refused("message_id", "1 to 35 SEPA characters, not starting with '/'")
    require_payments(payments)
    iban = require_text(debtor.iban, "originator.account.iban", max_length=34)
    config: dict[str, Any] = {
        "name": require_text(
            originator.company_name or debtor.holder, "originator.company_name", max_length=140
        ),
        "IBAN": iban.replace(" ", "").upper(),
        "currency": "EUR",
        "batch": True,  # one PmtInf for the file: every payment shares the execution date
    }
    if debtor.bic:
        config["BIC"] = debtor.bic.upper()
    transfer = SepaTransfer(config, schema=SCHEMA, clean=True)
    for i, payment in enumerate(payments):
        transfer.add_payment(_payment(i, payment, execution_date))
    # sepaxml's own check would raise its bare ValidationError; the XSD check below says
    # which element is wrong
    raw: bytes = transfer.export(validate=False)
    return _validated(_pinned(raw, message_id, created_at))


def _payment(index: int, payment: OutgoingPayment, execution_date: date) -> dict[str, Any]:
    require_currency(payment.currency, "EUR", payment_field(index, "currency"))
    creditor = payment.creditor
    end_to_end = payment.payment_id
    if not SEPA_ID.fullmatch(end_to_end) or end_to_end.startswith("/"):
        raise refused(
            payment_field(index, "payment_id"), "1 to 35 SEPA characters, not starting with '/'"
        )
    iban = require_text(creditor.iban, payment_field(index, "creditor.iban"), max_length=34)
    found: dict[str, Any] = {
        "name": require_text(
            creditor.holder, payment_field(index, "creditor.holder"), max_length=MAX_NAME
        ),
        "IBAN": iban.replace(" ", "").upper(),
        "amount": cents(payment.amount, payment_field(index, "amount"), max_cents=MAX_CENTS),
        "execution_date": execution_date,
        "description": require_text(
            payment.remittance, payment_field(index, "remittance"), max_length=MAX_REMITTANCE
        ),
        "endtoend_id": end_to_end,
    }
    if len(unidecode(found["description"])) > MAX_REMITTANCE:
        # sepaxml transliterates ("ß" -> "ss") and would then cut the text short
        raise refused(
            payment_field(index, "remittance"),
            f"At most {MAX_REMITTANCE} characters once written in SEPA's Latin characters",
        )
    if creditor.bic:
        found["BIC"] = creditor.bic.upper()
    return found


def _pinned(raw: bytes, message_id: str, created_at: datetime) -> bytes:
    root = etree.fromstring(raw, parser=_parser())
    ns = {"p": NAMESPACE}
    stamp = created_at.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat()
    for path, value in (
        ("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", message_id),
        ("p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm", stamp),
        ("p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", message_id),
    ):
        for element in root.findall(path, namespaces=ns):
            element.text = value
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _validated(document: bytes) -> bytes:
    import xmlschema

    try:
        _schema().validate(io.BytesIO(document))
    except xmlschema.XMLSchemaValidationError as e:
        raise field_error(
            "validation_error",
            "payments",
            f"The SEPA file breaks the {SCHEMA} schema at {e.path}: {e.reason}",
        ) from e
    return document


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True)
