"""Base58Check decoding (Bitcoin's alphabet), for the address checks of every payout to a
UTXO-chain or TRON address.

Written here, not taken from embit or base58: both are pure Python as well, and slower
on every address (a digit at a time through generic code, then a second full decode to
tell a wrong length from a bad checksum; bench/README.md, "Where the time goes"); this
is one pass over the digits and one double SHA-256. tests/unit/chains/test_addressing.py
checks it against both libraries.
"""

from __future__ import annotations

import hashlib
from typing import Final

ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGITS: Final = {c: i for i, c in enumerate(ALPHABET)}


class BadChecksum(ValueError):
    """The text decodes, but its last four bytes do not check its payload."""


def decode(text: str) -> bytes:
    """The bytes `text` encodes (each leading '1' a zero byte). ValueError for a
    character outside the alphabet."""
    digits = _DIGITS
    number = 0
    try:
        for c in text:
            number = number * 58 + digits[c]
    except KeyError:
        raise ValueError("contains characters outside the base58 alphabet") from None
    zeros = len(text) - len(text.lstrip("1"))
    return bytes(zeros) + number.to_bytes((number.bit_length() + 7) // 8, "big")


def decode_check(text: str, length: int) -> bytes:
    """The payload of a Base58Check text whose decoded form (payload and 4-byte
    checksum) is `length` bytes. ValueError "wrong length", or BadChecksum."""
    data = decode(text)
    if len(data) != length:
        raise ValueError("wrong length")
    payload, check = data[:-4], data[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != check:
        raise BadChecksum("bad checksum")
    return payload
