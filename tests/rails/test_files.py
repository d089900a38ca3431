"""PaymentFiles (payoutd.rails.files): the format follows the originator account's
currency, the file is named by the caller's reference, NACHA's File ID Modifier counts the
day's files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from ach.parser import Parser

from payoutd.bootstrap import build
from payoutd.domain.banking import BankAccountRef, Originator
from payoutd.domain.errors import PayoutdError
from payoutd.rails.files import BankFiles
from payoutd.services.ports import PaymentFiles
from tests import support
from tests.rails.support import EUR_ORIGINATOR, USD_ORIGINATOR, eur_payment, usd_payment

CREATED = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
FILES: PaymentFiles = BankFiles()


def test_eur_payments_leave_as_pain001() -> None:
    name, data = FILES.export(
        EUR_ORIGINATOR,
        [eur_payment(1, "10.00")],
        reference="EXP-7",
        created_at=CREATED,
        execution_date=date(2026, 12, 9),
    )
    assert name == "pain001-EXP-7.xml"
    assert b"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09" in data
    assert b"<MsgId>EXP-7</MsgId>" in data


@pytest.mark.parametrize(("file_number", "modifier"), [(1, "A"), (2, "B"), (26, "Z"), (27, "0")])
def test_usd_payments_leave_as_nacha(file_number: int, modifier: str) -> None:
    name, data = FILES.export(
        USD_ORIGINATOR,
        [usd_payment(1, "10.00")],
        reference="EXP-8",
        created_at=CREATED,
        execution_date=date(2026, 12, 9),
        file_number=file_number,
    )
    assert name == "nacha-EXP-8.ach"
    assert Parser(data.decode()).as_dict()["file_header"]["file_id_mod"] == modifier


def test_other_currencies_and_bad_arguments_are_refused() -> None:
    gbp = Originator(BankAccountRef("Op Ltd", "GBP", iban="GB29NWBK60161331926819"), "Op")
    cases = [
        (gbp, "EXP-9", 1, "validation_error", "originator.account.currency"),
        (USD_ORIGINATOR, "../etc/passwd", 1, "validation_error", "reference"),
        (USD_ORIGINATOR, "EXP-9", 37, "validation_error", "file_number"),
        (USD_ORIGINATOR, "EXP-9", 0, "validation_error", "file_number"),
    ]
    for originator, reference, number, code, field in cases:
        with pytest.raises(PayoutdError) as e:
            FILES.export(
                originator,
                [usd_payment(1, "1.00")],
                reference=reference,
                created_at=CREATED,
                execution_date=date(2026, 12, 9),
                file_number=number,
            )
        assert (e.value.code, list(e.value.fields)) == (code, [field])


async def test_bootstrap_gives_the_services_the_bank_files(tmp_path: Path) -> None:
    runtime = build(support.test_settings(tmp_path, None))
    try:
        files = runtime.ctx.payment_files
        assert isinstance(files, BankFiles)
        name, _ = files.export(
            EUR_ORIGINATOR,
            [eur_payment(1, "1.00")],
            reference="EXP-1",
            created_at=CREATED,
            execution_date=date(2026, 12, 9),
        )
        assert name == "pain001-EXP-1.xml"
    finally:
        await runtime.close()
