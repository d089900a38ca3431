"""A 32-byte hash written as 64 hex digits: how most chains name a transaction."""

import string
from typing import Final

_HEX_DIGITS: Final = frozenset(string.hexdigits)
_LENGTH: Final = 64


def hash_hex(value: str) -> str:
    """`value` in lower case, or ValueError when it is not 64 hex digits."""
    if len(value) != _LENGTH:
        raise ValueError(f"must be {_LENGTH} hex digits")
    if not set(value) <= _HEX_DIGITS:
        raise ValueError("contains non-hex characters")
    return value.lower()
