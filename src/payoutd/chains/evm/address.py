"""EVM addresses (ETH, BSC, POLYGON, BASE): 0x + 40 hex digits with an EIP-55 checksum.

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from typing import Final

import sha3  # safe-pysha3, eth-hash's pysha3 backend

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_BODY_LENGTH: Final = 40


def validate(address: str) -> str:
    """Return the EIP-55 checksummed address, or raise ValueError."""
    prefix, body = address[:2], address[2:]
    if prefix != "0x":
        raise ValueError("must start with 0x")
    if len(body) != _BODY_LENGTH:
        raise ValueError("wrong length")
    if not set(body) <= _HEX_DIGITS:
        raise ValueError("contains non-hex characters")
    # Funds sent there are burnt; it is never a real recipient.
    if int(body, 16) == 0:
        raise ValueError("zero address")
    # Single-case hex carries no checksum (wallets and explorers still emit it), so it can
    # only be accepted as is; mixed case is a claim of EIP-55 and must hold (and is then
    # the checksummed form already: one keccak, not two).
    checksummed = checksum(body)
    if body != body.lower() and body != body.upper() and address != checksummed:
        raise ValueError("bad EIP-55 checksum")
    return checksummed


def checksum(body: str) -> str:
    """EIP-55: each letter of the 40 hex digits upper case where the keccak-256 of the
    lower-case digits has a nibble of 8 or more. Written here over safe-pysha3's C
    keccak: eth_utils' to_checksum_address (over pycryptodome) was a large share of an
    intake request's CPU when the payout was to an EVM address (bench/README.md, "Where
    the time goes")."""
    lower = body.lower()
    digest = sha3.keccak_256(lower.encode("ascii")).hexdigest()
    return "0x" + "".join(
        c.upper() if d in _HIGH_NIBBLES else c for c, d in zip(lower, digest, strict=False)
    )


_HIGH_NIBBLES: Final = frozenset("89abcdef")
