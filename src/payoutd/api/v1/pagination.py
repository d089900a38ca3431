"""Opaque cursors: the position after the last item of a page.

A cursor is `base64url("v1:" + position)`, unpadded, and this module is the one place
one is read: a cursor decodes to exactly what `encode` made of a valid position (an id
in the canonical UUID spelling, or a sequence number within a BIGINT), or it is refused
with 400 `invalid_cursor`. Nothing else reaches a query: a forged position could be
text no database stores, or a number no column holds."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import TypeVar

from payoutd.domain.errors import field_error

MAX_LIMIT = 200
MAX_CURSOR = 100  # characters; what `encode` makes is at most 56
T = TypeVar("T")

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SEQ = re.compile(r"0|[1-9][0-9]{0,18}")
_MAX_SEQ = 2**63 - 1  # BIGINT


def encode(position: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{position}".encode()).decode().rstrip("=")


def _position(cursor: str) -> str:
    """The position a cursor names, when `encode` could have made it; else 400."""
    if len(cursor) > MAX_CURSOR or not cursor.isascii():
        raise _invalid()
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    # the decoder skips characters outside the alphabet: only the canonical spelling counts
    if not text.startswith("v1:") or encode(text[3:]) != cursor:
        raise _invalid()
    return text[3:]


def decode(cursor: str | None) -> str | None:
    """The id a cursor of an id-ordered list names (payouts, batches, endpoints,
    deliveries), or None for the first page."""
    if not cursor:
        return None
    position = _position(cursor)
    if _ID.fullmatch(position) is None:
        raise _invalid()
    return position


_PARTY = re.compile(r"[A-Za-z]{1,20}_[0-9a-f]{32}")


def decode_party(cursor: str | None, prefix: str) -> str | None:
    """The id a cursor of a list of customers, bank accounts or wallets names (Sphere's
    ids: `prefix` and 32 hex digits), or None for the first page."""
    if not cursor:
        return None
    position = _position(cursor)
    if _PARTY.fullmatch(position) is None or not position.startswith(prefix):
        raise _invalid()
    return position


def encode_after(position: str) -> str:
    """A cursor to the page before (newer than) a position, for lists that page both ways
    (a provider dialect's `previousCursor`)."""
    return encode(f"after:{position}")


def decode_either(cursor: str | None) -> tuple[str | None, str | None]:
    """(before_id, after_id) a cursor of a list that pages both ways names: `encode`'s
    cursors go on to older items, `encode_after`'s back to newer ones."""
    if not cursor:
        return None, None
    position = _position(cursor)
    newer = position.startswith("after:")
    position = position.removeprefix("after:")
    if _ID.fullmatch(position) is None:
        raise _invalid()
    return (None, position) if newer else (position, None)


def decode_seq(cursor: str | None) -> int | None:
    """The sequence number a cursor of a seq-ordered list names (the sandbox's
    transactions), or None for the first page."""
    if not cursor:
        return None
    position = _position(cursor)
    if _SEQ.fullmatch(position) is None or int(position) > _MAX_SEQ:
        raise _invalid()
    return int(position)


def _invalid() -> Exception:
    return field_error("invalid_cursor", "cursor")


def cut(rows: list[T], limit: int, position: Callable[[T], str]) -> tuple[list[T], str | None]:
    """A page from `limit + 1` fetched rows: the first `limit`, and the cursor after the
    last of them when the extra row shows there is more."""
    page = rows[:limit]
    return page, encode(position(page[-1])) if len(rows) > limit else None
