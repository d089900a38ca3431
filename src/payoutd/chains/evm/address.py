"""EVM addresses (ETH, BSC, POLYGON, BASE): 0x + 40 hex digits with an EIP-55 checksum.

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from typing import Final

from eth_utils.address import is_checksum_address, to_checksum_address

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
    if body != body.lower() and body != body.upper():
        if not is_checksum_address(address):
            raise ValueError("bad EIP-55 checksum")
        return address
    return str(to_checksum_address(address))
