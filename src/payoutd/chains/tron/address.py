"""TRON addresses: base58check of 0x41 + the 20-byte account (always 34 chars, starting T).

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from typing import Final

from payoutd.chains import base58check

_PREFIX: Final = 0x41
_PAYLOAD_LENGTH: Final = 21  # prefix byte + 20-byte account
_CHECKSUM_LENGTH: Final = 4


def validate(address: str) -> str:
    """Return the address unchanged, or raise ValueError."""
    payload = base58check.decode_check(address, _PAYLOAD_LENGTH + _CHECKSUM_LENGTH)
    # A Bitcoin P2PKH address is also 25-byte base58check; only the prefix tells them apart.
    if payload[0] != _PREFIX:
        raise ValueError(f"prefix byte 0x{payload[0]:02x} is not TRON's 0x41")
    # The black-hole address T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb: funds sent there are burnt.
    if not any(payload[1:]):
        raise ValueError("zero address")
    return address
