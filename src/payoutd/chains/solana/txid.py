"""Solana transaction ids: the transaction's first signature, base58 of 64 bytes (64 to
88 characters), as explorers show it.

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from typing import Final

from payoutd.chains.solana.address import decode

_SIGNATURE_LENGTH: Final = 64
_MIN_CHARS: Final = 64
_MAX_CHARS: Final = 88


def validate(txid: str) -> str:
    """Return the signature unchanged, or raise ValueError."""
    decode(txid, _MIN_CHARS, _MAX_CHARS, _SIGNATURE_LENGTH)
    return txid
