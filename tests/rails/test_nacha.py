"""NACHA files: every file payoutd writes (with achkit) is read back by an independent
parser (carta-ach's, a different library) and gives the same amounts, routing numbers,
account numbers, individual ids and control totals; the record layout (94 characters,
blocks of ten, entry hash) is checked on the raw text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from ach.parser import Parser
from hypothesis import given, settings
from hypothesis import strategies as st

from payoutd.domain.banking import BankAccountRef, Originator, OutgoingPayment
from payoutd.domain.errors import PayoutdError
from payoutd.rails.nacha import MAX_CENTS as MAX_ENTRY_CENTS
from payoutd.rails.nacha import write_nacha
from tests.rails.support import USD_ORIGINATOR, aba_check_digit, usd_payment

CREATED = datetime(2026, 12, 8, 14, 5, 0, tzinfo=UTC)
EFFECTIVE = date(2026, 12, 9)


def write(payments: list[OutgoingPayment], originator: Originator = USD_ORIGINATOR) -> str:
    data = write_nacha(
        originator,
        payments,
        file_id_modifier="B",
        created_at=CREATED,
        effective_date=EFFECTIVE,
    )
    return data.decode("ascii")


def cents(amount: Decimal) -> int:
    return int(amount * 100)


MIXED = [
    usd_payment(1, "1240.50"),
    usd_payment(2, "0.01", account_type="savings", remittance="Payout für Zoë"),
    usd_payment(3, "99999999.99", routing="021000021", holder_type="business"),
    usd_payment(4, "7.05", routing="322271627", account="12345678901234567"),
    usd_payment(5, "310.00", account_type="savings", holder_type="business"),
]


def records(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


@pytest.mark.parametrize(
    "payments",
    [MIXED[:1], MIXED, [usd_payment(n, f"{n}.{n % 100:02d}") for n in range(1, 61)]],
    ids=["one", "ppd-and-ccd", "sixty"],
)
def test_an_independent_parser_reads_back_what_was_written(
    payments: list[OutgoingPayment],
) -> None:
    text = write(payments)
    parsed = Parser(text).as_dict()

    entries = [(b, e) for b in parsed["batches"] for e in b["entries"]]
    assert len(entries) == len(payments)
    by_id = {e["entry_detail"]["ind_id"].strip(): (b, e) for b, e in entries}
    for p in payments:
        batch, entry = by_id[p.payment_id.upper()]
        detail = entry["entry_detail"]
        assert int(detail["amount"]) == cents(p.amount)
        assert detail["recv_dfi_id"] + detail["check_digit"] == p.creditor.routing_number
        assert detail["dfi_acnt_num"].strip() == p.creditor.account_number
        assert detail["transaction_code"] == (
            "32" if p.creditor.account_type == "savings" else "22"
        )
        sec = "CCD" if p.creditor.holder_type == "business" else "PPD"
        assert batch["batch_header"]["std_ent_cls_code"] == sec
        assert batch["batch_header"]["eff_ent_date"] == "261209"
        assert batch["batch_header"]["company_id"] == "1234567890"
        assert detail["add_rec_ind"] == "1"
        [addenda] = entry["addenda"]
        assert addenda["addenda_type_code"] == "05"
        assert addenda["pmt_rel_info"].strip() == (
            p.remittance.upper().replace("Ü", "U").replace("Ë", "E")
        )
        assert addenda["ent_det_seq_num"] == detail["trace_num"][-7:]

    total = sum(cents(p.amount) for p in payments)
    routing_sum = sum(int((p.creditor.routing_number or "")[:8]) for p in payments)
    control = parsed["file_control"]
    assert int(control["credit_amount"]) == total
    assert int(control["debit_amount"]) == 0
    assert int(control["entry_hash"]) == routing_sum % 10**10
    assert int(control["entadd_count"]) == 2 * len(payments)  # one addenda per entry
    assert int(control["batch_count"]) == len(parsed["batches"])
    for batch in parsed["batches"]:
        mine = batch["entries"]
        batch_control = batch["batch_control"]
        assert batch_control["serv_cls_code"] == "220"  # credits only
        assert int(batch_control["credit_amount"]) == sum(
            int(e["entry_detail"]["amount"]) for e in mine
        )
        assert (
            int(batch_control["entry_hash"])
            == sum(int(e["entry_detail"]["recv_dfi_id"]) for e in mine) % 10**10
        )
        assert int(batch_control["entadd_count"]) == 2 * len(mine)

    lines = records(text)
    assert {len(line) for line in lines} == {94}
    assert len(lines) % 10 == 0
    assert int(control["block_count"]) == len(lines) // 10
    real = [line for line in lines if line != "9" * 94]
    assert real[-1][0] == "9"  # the file control; only padding follows it
    assert lines[len(real) :] == ["9" * 94] * (len(lines) - len(real))

    header = parsed["file_header"]
    assert header["immediate_dest"] == " 021000021"
    assert header["immediate_org"] == " 091000019"
    assert header["file_crt_date"] == "261208"
    assert header["file_crt_time"] == "1405"
    assert header["file_id_mod"] == "B"
    assert header["record_size"] == "094"
    assert header["blk_factor"] == "10"


def test_the_entry_hash_keeps_its_ten_low_digits() -> None:
    """Enough routing numbers that their prefixes add up past 10^10: the hash is the sum
    modulo 10^10, in the batch control and the file control."""
    prefix = "32227162"
    routing = prefix + aba_check_digit(prefix)
    payments = [usd_payment(n, "1.00", routing=routing) for n in range(320)]
    parsed = Parser(write(payments)).as_dict()
    full = 320 * int(prefix)
    assert full > 10**10
    assert int(parsed["file_control"]["entry_hash"]) == full % 10**10
    assert int(parsed["batches"][0]["batch_control"]["entry_hash"]) == full % 10**10


def test_names_are_transliterated_to_ascii() -> None:
    text = write([usd_payment(1, "1.00", holder="Zoë Ångström-Straße")])
    [entry] = Parser(text).as_dict()["batches"][0]["entries"]
    assert entry["entry_detail"]["ind_name"].strip() == "ZOE ANGSTROM-STRASSE"


def test_the_same_export_gives_the_same_file() -> None:
    assert write(MIXED) == write(MIXED)


@pytest.mark.parametrize(
    ("payment", "code", "field"),
    [
        (
            usd_payment(9, "1.00", routing="011401534"),
            "validation_error",
            "creditor.routing_number",
        ),
        (usd_payment(9, "1.00", routing="01140153"), "validation_error", "creditor.routing_number"),
        (usd_payment(9, "1.00", account="1" * 18), "validation_error", "creditor.account_number"),
        (
            usd_payment(9, "1.00", account_type="brokerage"),
            "validation_error",
            "creditor.account_type",
        ),
        (usd_payment(9, "1.00", holder_type="trust"), "validation_error", "creditor.holder_type"),
        (usd_payment(9, "1.005"), "invalid_amount", "amount"),
        (usd_payment(9, "100000000.00"), "invalid_amount", "amount"),
        (usd_payment(9, "1.00", remittance="x" * 81), "validation_error", "remittance"),
        (usd_payment(1, "1.00"), "validation_error", "payment_id"),  # twice in the file
        (
            OutgoingPayment("P" * 16, Decimal(1), "USD", MIXED[0].creditor, "m"),
            "validation_error",
            "payment_id",
        ),
        (
            OutgoingPayment("P-1", Decimal(1), "EUR", MIXED[0].creditor, "m"),
            "validation_error",
            "currency",
        ),
    ],
    ids=[
        "check-digit",
        "eight-digits",
        "long-account",
        "account-type",
        "holder-type",
        "sub-cent",
        "too-large",
        "81-chars",
        "duplicate",
        "long-id",
        "eur",
    ],
)
def test_a_bad_payment_is_refused_naming_its_field(
    payment: OutgoingPayment, code: str, field: str
) -> None:
    with pytest.raises(PayoutdError) as e:
        write([MIXED[0], payment])
    assert e.value.code == code
    assert list(e.value.fields) == [f"payments[1].{field}"]


def test_an_originator_in_another_currency_or_without_routing_is_refused() -> None:
    eur = Originator(BankAccountRef("Op", "EUR", iban="DE89370400440532013000"), "OP", "1")
    with pytest.raises(PayoutdError) as e:
        write(MIXED, eur)
    assert (e.value.code, list(e.value.fields)) == (
        "validation_error",
        ["originator.account.currency"],
    )
    assert e.value.message == "A NACHA file carries USD only, not EUR"
    no_routing = Originator(BankAccountRef("Op", "USD"), "OP", "1234567890")
    with pytest.raises(PayoutdError) as e:
        write(MIXED, no_routing)
    assert list(e.value.fields) == ["originator.origin_routing"]
    with pytest.raises(PayoutdError) as e:
        write_nacha(
            USD_ORIGINATOR,
            MIXED,
            file_id_modifier="a",
            created_at=CREATED,
            effective_date=EFFECTIVE,
        )
    assert list(e.value.fields) == ["file_id_modifier"]


def test_a_long_name_is_cut_to_the_field() -> None:
    text = write([usd_payment(1, "1.00", holder="Maximiliane Übermann-Schwarzenegger")])
    [entry] = Parser(text).as_dict()["batches"][0]["entries"]
    assert entry["entry_detail"]["ind_name"] == "MAXIMILIANE UBERMANN-S"


routing_prefixes = st.sampled_from(["01140153", "02100002", "09100001", "32227162", "12100035"])
rows = st.tuples(
    routing_prefixes,
    st.integers(min_value=1, max_value=MAX_ENTRY_CENTS),
    st.sampled_from(["checking", "savings"]),
    st.sampled_from(["individual", "business"]),
    st.text(alphabet="0123456789", min_size=1, max_size=17),
    st.text(
        alphabet=st.characters(codec="latin-1", categories=["L", "Zs"]), min_size=1, max_size=40
    ).filter(str.strip),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=1, max_size=25))
def test_any_payments_read_back_the_same(
    drawn: list[tuple[str, int, str, str, str, str]],
) -> None:
    payments = [
        usd_payment(
            n,
            str(Decimal(value).scaleb(-2)),
            routing=prefix + aba_check_digit(prefix),
            account=account,
            account_type=account_type,
            holder_type=holder_type,
            holder=holder,
        )
        for n, (prefix, value, account_type, holder_type, account, holder) in enumerate(drawn)
    ]
    text = write(payments)
    parsed = Parser(text).as_dict()
    details = {
        e["entry_detail"]["ind_id"].strip(): e["entry_detail"]
        for b in parsed["batches"]
        for e in b["entries"]
    }
    assert len(details) == len(payments)
    for p in payments:
        detail = details[p.payment_id]
        assert int(detail["amount"]) == cents(p.amount)
        assert detail["recv_dfi_id"] + detail["check_digit"] == p.creditor.routing_number
        assert detail["dfi_acnt_num"].strip() == p.creditor.account_number
    assert int(parsed["file_control"]["credit_amount"]) == sum(cents(p.amount) for p in payments)
    assert (
        int(parsed["file_control"]["entry_hash"])
        == sum(int((p.creditor.routing_number or "")[:8]) for p in payments) % 10**10
    )
    lines = records(text)
    assert {len(line) for line in lines} == {94} and len(lines) % 10 == 0


def test_a_file_over_the_control_totals_width_is_refused() -> None:
    """The file control's credit total holds 12 digits of cents: 101 payments of the
    largest entry amount do not fit, and the file is refused rather than cut."""
    payments = [usd_payment(n, "99999999.99") for n in range(101)]
    with pytest.raises(PayoutdError) as e:
        write(payments)
    assert e.value.code == "validation_error"
    assert "cannot be written" in e.value.message
    assert list(e.value.fields) == ["payments"]


def test_a_company_id_nacha_cannot_carry_is_refused() -> None:
    account = USD_ORIGINATOR.account
    for company_id in ("", "12345678901", "12-345"):
        with pytest.raises(PayoutdError) as e:
            write(MIXED, Originator(account, "PAYOUTD OPERATOR", company_id))
        assert list(e.value.fields) == ["originator.company_id"]
