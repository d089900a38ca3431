"""Solana addresses: base58 of a 32-byte public key.

Solana addresses have no checksum, so a mistyped character that stays inside the alphabet
yields a different, equally valid address; only the alphabet and length can be checked.

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from typing import Final

import base58

_ALPHABET: Final = frozenset(base58.BITCOIN_ALPHABET.decode("ascii"))
_KEY_LENGTH: Final = 32
# base58 of 32 bytes takes 32 to 44 characters.
_MIN_CHARS: Final = 32
_MAX_CHARS: Final = 44


def validate(address: str) -> str:
    """Return the address unchanged, or raise ValueError."""
    key = decode(address, _MIN_CHARS, _MAX_CHARS, _KEY_LENGTH)
    # The System Program id 11111111111111111111111111111111: not a wallet, funds are lost.
    if not any(key):
        raise ValueError("zero address")
    return address


def decode(value: str, min_chars: int, max_chars: int, length: int) -> bytes:
    """The `length` bytes `value` encodes in base58, or ValueError."""
    # Checked here because base58.b58decode silently strips trailing whitespace.
    if not set(value) <= _ALPHABET:
        raise ValueError("contains characters outside the base58 alphabet")
    if not min_chars <= len(value) <= max_chars:
        raise ValueError("wrong length")
    decoded = base58.b58decode(value)
    if len(decoded) != length:
        raise ValueError("wrong length")
    return decoded
