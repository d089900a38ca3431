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
    # Checked here because base58.b58decode silently strips trailing whitespace.
    if not set(address) <= _ALPHABET:
        raise ValueError("contains characters outside the base58 alphabet")
    if not _MIN_CHARS <= len(address) <= _MAX_CHARS:
        raise ValueError("wrong length")
    key = base58.b58decode(address)
    if len(key) != _KEY_LENGTH:
        raise ValueError("wrong length")
    # The System Program id 11111111111111111111111111111111: not a wallet, funds are lost.
    if not any(key):
        raise ValueError("zero address")
    return address
