"""Bank statements in, statement lines out: camt.053 (XML) or MT940 (SWIFT text), told
apart by their content, not by a file name an operator may have changed."""

from __future__ import annotations

from payoutd.domain.banking import StatementLine
from payoutd.domain.errors import PayoutdError
from payoutd.rails.camt053 import parse_xml, read_camt053
from payoutd.rails.mt940_statement import looks_like_mt940, read_mt940

# a day's statement of a busy account is a few MB; past this the file is not a statement
MAX_BYTES = 50 * 1024 * 1024


def read_statement(data: bytes) -> list[StatementLine]:
    """Every booked line of the statement (or statements) in `data`, in their order. The
    same file read twice gives the same lines with the same references."""
    if len(data) > MAX_BYTES:
        raise _unreadable(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise _unreadable("the file is empty")
    if head.startswith(b"<"):
        return read_camt053(parse_xml(head))
    text = _text(head)
    if looks_like_mt940(text):
        return read_mt940(text)
    raise _unreadable("neither a camt.053 (ISO 20022 XML) nor an MT940 (SWIFT) statement")


def _text(data: bytes) -> str:
    # MT940 is SWIFT's character set, but banks' downloads come in UTF-8 or Latin-1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _unreadable(why: str) -> PayoutdError:
    return PayoutdError("statement_unreadable", f"The bank statement could not be read: {why}")
