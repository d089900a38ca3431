"""SEPA credit transfers: every pain.001 payoutd writes is valid under the official ISO 20022
schema that sepaxml ships (checked here with xmlschema, apart from the writer's own check),
and says what the payments say."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from payoutd.domain.banking import BankAccountRef, Originator, OutgoingPayment
from payoutd.domain.errors import PayoutdError
from payoutd.rails.pain001 import SCHEMA, write_pain001
from tests.rails.support import EUR_ORIGINATOR, IBANS, eur_payment

NS = {"p": f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"}
CREATED = datetime(2026, 12, 8, 9, 30, 15, tzinfo=UTC)
EXECUTION = date(2026, 12, 9)


@cache
def official_schema() -> Any:
    xsd = Path(str(resources.files("sepaxml") / "schemas" / f"{SCHEMA}.xsd"))
    assert xsd.is_file(), xsd
    return xmlschema.XMLSchema(xsd)


def write(payments: list[OutgoingPayment], originator: Originator = EUR_ORIGINATOR) -> bytes:
    return write_pain001(
        originator,
        payments,
        message_id="EXP-20261208-1",
        created_at=CREATED,
        execution_date=EXECUTION,
    )


def texts(doc: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in doc.findall(path, namespaces=NS)]


SEVERAL = [
    eur_payment(0, "12.34", remittance="R" * 140),
    eur_payment(1, "0.01", holder="Anna Schröder", bic=None),
    eur_payment(2, "1999.99", holder="Ærøskøbing Straße ÄÖÜ äöü ß"),
    eur_payment(3, "250000.5"),
]


@pytest.mark.parametrize(
    "payments",
    [SEVERAL[:1], SEVERAL, [eur_payment(n, f"{n}.{n % 100:02d}") for n in range(1, 41)]],
    ids=["one", "several", "forty"],
)
def test_every_file_validates_against_the_iso_20022_schema(
    payments: list[OutgoingPayment],
) -> None:
    data = write(payments)

    official_schema().validate(io.BytesIO(data))
    doc = etree.fromstring(data)
    assert texts(doc, "p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs") == [str(len(payments))]
    total = sum((p.amount for p in payments), Decimal(0))
    assert [Decimal(t) for t in texts(doc, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum")] == [total]
    tx = "p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf"
    assert texts(doc, f"{tx}/p:PmtId/p:EndToEndId") == [p.payment_id for p in payments]
    assert [Decimal(t) for t in texts(doc, f"{tx}/p:Amt/p:InstdAmt")] == [
        p.amount for p in payments
    ]
    assert {e.get("Ccy") for e in doc.findall(f"{tx}/p:Amt/p:InstdAmt", NS)} == {"EUR"}
    assert texts(doc, f"{tx}/p:CdtrAcct/p:Id/p:IBAN") == [p.creditor.iban for p in payments]
    assert texts(doc, f"{tx}/p:RmtInf/p:Ustrd") == [p.remittance for p in payments]
    assert texts(doc, "p:CstmrCdtTrfInitn/p:PmtInf/p:DbtrAcct/p:Id/p:IBAN") == [
        EUR_ORIGINATOR.account.iban
    ]
    assert texts(doc, "p:CstmrCdtTrfInitn/p:PmtInf/p:ReqdExctnDt/p:Dt") == ["2026-12-09"]
    assert texts(doc, "p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId") == ["EXP-20261208-1"]
    assert texts(doc, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CreDtTm") == ["2026-12-08T09:30:15"]


def test_names_with_umlauts_and_the_full_remittance_are_kept() -> None:
    doc = etree.fromstring(write(SEVERAL))
    names = texts(doc, "p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:Cdtr/p:Nm")
    # the EPC's SEPA character set is Latin without diacritics: sepaxml transliterates
    assert names[1] == "Anna Schroder"
    assert names[2] == "AEroskobing Strasse AOU aou ss"
    ustrd = texts(doc, "p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:RmtInf/p:Ustrd")
    assert len(ustrd[0]) == 140


def test_a_broken_field_fails_the_schema_check() -> None:
    """The check above can fail: the same file with one IBAN made malformed, or with the
    debtor left out, is refused by the official schema."""
    doc = etree.fromstring(write(SEVERAL))
    iban = doc.findall("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN", NS)
    iban[1].text = "NL91 ABNA 0417"
    with pytest.raises(xmlschema.XMLSchemaValidationError, match="IBAN"):
        official_schema().validate(io.BytesIO(etree.tostring(doc)))

    doc = etree.fromstring(write(SEVERAL))
    pmt_inf = doc.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert pmt_inf is not None
    debtor = pmt_inf.find("p:Dbtr", NS)
    assert debtor is not None
    pmt_inf.remove(debtor)
    assert not official_schema().is_valid(io.BytesIO(etree.tostring(doc)))


def test_the_same_export_gives_the_same_file() -> None:
    assert write(SEVERAL) == write(SEVERAL)


def test_an_iban_the_schema_refuses_is_refused_before_the_file_leaves() -> None:
    bad = OutgoingPayment(
        "pay-9",
        Decimal("5"),
        "EUR",
        BankAccountRef("X", "EUR", iban="not an iban"),
        "memo",
    )
    with pytest.raises(PayoutdError) as e:
        write([SEVERAL[0], bad])
    assert e.value.code == "validation_error"
    assert "IBAN" in e.value.message


@pytest.mark.parametrize(
    ("originator_currency", "payment_currency", "field"),
    [("USD", "EUR", "originator.account.currency"), ("EUR", "GBP", "payments[1].currency")],
)
def test_other_currencies_are_refused(
    originator_currency: str, payment_currency: str, field: str
) -> None:
    account = BankAccountRef(
        "Payoutd Operator GmbH", originator_currency, iban="DE89370400440532013000"
    )
    originator = Originator(account, "Payoutd Operator GmbH")
    other = OutgoingPayment("pay-7", Decimal("1.00"), payment_currency, SEVERAL[1].creditor, "memo")
    with pytest.raises(PayoutdError) as e:
        write([SEVERAL[0], other], originator)
    assert e.value.code == "validation_error"
    assert e.value.status == 422
    assert list(e.value.fields) == [field]
    assert "carries EUR only" in e.value.message


@pytest.mark.parametrize(
    ("payment", "code", "field"),
    [
        (eur_payment(1, "1.001"), "invalid_amount", "payments[1].amount"),
        (eur_payment(1, "0"), "invalid_amount", "payments[1].amount"),
        (eur_payment(1, "-3.00"), "invalid_amount", "payments[1].amount"),
        (eur_payment(1, "1", remittance="R" * 141), "validation_error", "payments[1].remittance"),
        (eur_payment(1, "1", remittance=" "), "validation_error", "payments[1].remittance"),
        (eur_payment(1, "1", remittance="ß" * 71), "validation_error", "payments[1].remittance"),
        (eur_payment(0, "1"), "validation_error", "payments[1].payment_id"),  # twice
        (
            OutgoingPayment("x" * 36, Decimal(1), "EUR", SEVERAL[1].creditor, "m"),
            "validation_error",
            "payments[1].payment_id",
        ),
    ],
    ids=[
        "sub-cent",
        "zero",
        "negative",
        "141-chars",
        "blank-memo",
        "141-once-transliterated",
        "duplicate",
        "long-id",
    ],
)
def test_a_bad_payment_is_refused_naming_its_field(
    payment: OutgoingPayment, code: str, field: str
) -> None:
    with pytest.raises(PayoutdError) as e:
        write([SEVERAL[0], payment])
    assert e.value.code == code
    assert list(e.value.fields) == [field]


def test_an_empty_file_and_a_bad_message_id_are_refused() -> None:
    with pytest.raises(PayoutdError) as e:
        write([])
    assert list(e.value.fields) == ["payments"]
    with pytest.raises(PayoutdError) as e:
        write_pain001(
            EUR_ORIGINATOR,
            SEVERAL,
            message_id="M" * 36,
            created_at=CREATED,
            execution_date=EXECUTION,
        )
    assert list(e.value.fields) == ["message_id"]


names = st.text(
    alphabet=st.characters(codec="latin-1", categories=["L", "Zs", "Nd"]), min_size=1, max_size=70
).filter(str.strip)
cents = st.integers(min_value=1, max_value=99_999_999_999)
# at most 70: transliterated, a Latin-1 letter or sign takes at most two characters
remittances = st.text(
    alphabet=st.characters(codec="latin-1", categories=["L", "Nd", "P", "Zs"]),
    min_size=1,
    max_size=70,
).filter(str.strip)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(names, cents, remittances), min_size=1, max_size=8))
def test_any_payments_give_a_valid_file(rows: list[tuple[str, int, str]]) -> None:
    payments = [
        OutgoingPayment(
            f"p{i}",
            Decimal(value).scaleb(-2),
            "EUR",
            BankAccountRef(name, "EUR", iban=IBANS[i % len(IBANS)]),
            memo,
        )
        for i, (name, value, memo) in enumerate(rows)
    ]
    data = write(payments)
    official_schema().validate(io.BytesIO(data))
    doc = etree.fromstring(data)
    assert [Decimal(t) for t in texts(doc, "p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum")] == [
        sum((p.amount for p in payments), Decimal(0))
    ]
