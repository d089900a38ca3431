"""Opaque cursors: the position after the last item of a page."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TypeVar

from payoutd.domain.errors import field_error

MAX_LIMIT = 200
T = TypeVar("T")


def encode(position: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{position}".encode()).decode().rstrip("=")


def decode(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise field_error("invalid_cursor", "cursor") from None
    if not text.startswith("v1:") or len(text) > 64:
        raise field_error("invalid_cursor", "cursor")
    return text[3:]


def cut(rows: list[T], limit: int, position: Callable[[T], str]) -> tuple[list[T], str | None]:
    """A page from `limit + 1` fetched rows: the first `limit`, and the cursor after the
    last of them when the extra row shows there is more."""
    page = rows[:limit]
    return page, encode(position(page[-1])) if len(rows) > limit else None
