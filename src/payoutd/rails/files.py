"""The payment files and statements of real banks behind services.ports.PaymentFiles: EUR
payments leave as a SEPA credit transfer (pain.001), USD payments as a NACHA file; a
statement comes back as camt.053 or MT940."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from payoutd.domain.banking import Originator, OutgoingPayment, StatementLine
from payoutd.domain.errors import field_error

# NACHA's File ID Modifier: the files of one day for one ODFI are told apart by it
FILE_ID_MODIFIERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,34}")


class BankFiles:
    """The formats' modules are imported on first use: every process builds this, few
    write or read a bank file, and lxml, xmlschema, achkit and mt-940 take a while to load.
    """

    def export(
        self,
        originator: Originator,
        payments: Sequence[OutgoingPayment],
        *,
        reference: str,
        created_at: datetime,
        execution_date: date,
        file_number: int = 1,
    ) -> tuple[str, bytes]:
        """The file paying `payments` from the originator's account, and its file name:
        pain.001 for a EUR account, NACHA for a USD account. `reference` names the file
        (the SEPA message id); `file_number` counts the files made for this account on
        `created_at`'s day (1 for the first: NACHA's File ID Modifier A)."""
        if not REFERENCE.fullmatch(reference):
            raise field_error(
                "validation_error",
                "reference",
                "1 to 35 letters, digits or '-', starting with a letter or digit",
            )
        currency = originator.account.currency.upper()
        if currency == "EUR":
            from payoutd.rails.pain001 import write_pain001

            data = write_pain001(
                originator,
                payments,
                message_id=reference,
                created_at=created_at,
                execution_date=execution_date,
            )
            return f"pain001-{reference}.xml", data
        if currency == "USD":
            if not 1 <= file_number <= len(FILE_ID_MODIFIERS):
                raise field_error(
                    "validation_error",
                    "file_number",
                    f"NACHA allows {len(FILE_ID_MODIFIERS)} files a day per account",
                )
            from payoutd.rails.nacha import write_nacha

            data = write_nacha(
                originator,
                payments,
                file_id_modifier=FILE_ID_MODIFIERS[file_number - 1],
                created_at=created_at,
                effective_date=execution_date,
            )
            return f"nacha-{reference}.ach", data
        raise field_error(
            "validation_error",
            "originator.account.currency",
            f"Payment files are written for EUR (SEPA) and USD (NACHA) accounts, not {currency}",
        )

    def read(self, data: bytes) -> list[StatementLine]:
        from payoutd.rails.statements import read_statement

        return read_statement(data)
