"""TON addresses, user-friendly (48 chars) and raw (<workchain>:<64 hex>).

Hand-written on purpose: no Python library for TON addresses is well kept, and the format is
small. User-friendly form, base64 or base64url of 36 bytes:
    flags (0x11 bounceable, 0x51 non-bounceable, |0x80 testnet-only)
    workchain (0x00 basechain, 0xff masterchain)
    32-byte account id
    CRC16-XMODEM of the previous 34 bytes, big-endian

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

import base64
import binascii
import string
from typing import Final

_FRIENDLY_LENGTH: Final = 48
_BASE64: Final = frozenset(string.ascii_letters + string.digits + "+/")
_BASE64URL: Final = frozenset(string.ascii_letters + string.digits + "-_")
_TO_STANDARD_BASE64: Final = str.maketrans("-_", "+/")
_BOUNCEABLE: Final = 0x11
_NON_BOUNCEABLE: Final = 0x51
_TESTNET_ONLY: Final = 0x80
_WORKCHAIN_BYTES: Final = frozenset({0x00, 0xFF})
_RAW_WORKCHAINS: Final = frozenset({"0", "-1"})
_HEX_DIGITS: Final = frozenset(string.hexdigits)
_ACCOUNT_HEX_LENGTH: Final = 64


def validate(address: str, net: str) -> str:
    """Return the address (raw form with lowercase hex), or raise ValueError."""
    if ":" in address:
        return _validate_raw(address)
    return _validate_user_friendly(address, net)


def _validate_raw(address: str) -> str:
    workchain, _, account = address.partition(":")
    if workchain not in _RAW_WORKCHAINS:
        raise ValueError("workchain must be 0 or -1")
    if len(account) != _ACCOUNT_HEX_LENGTH or not set(account) <= _HEX_DIGITS:
        raise ValueError("account id must be 64 hex digits")
    if int(account, 16) == 0:
        raise ValueError("zero address")
    return f"{workchain}:{account.lower()}"


def _validate_user_friendly(address: str, net: str) -> str:
    if len(address) != _FRIENDLY_LENGTH:
        raise ValueError("wrong length")
    # Either alphabet is fine, but no encoder mixes them, so a mix means a damaged string.
    chars = set(address)
    if not (chars <= _BASE64 or chars <= _BASE64URL):
        raise ValueError("not base64 or base64url")
    # 48 characters are exactly 36 bytes: no padding and no spare bits to check.
    raw = base64.b64decode(address.translate(_TO_STANDARD_BASE64), validate=True)
    # binascii.crc_hqx with a zero start value is CRC16-XMODEM (poly 0x1021, no reflection).
    if binascii.crc_hqx(raw[:34], 0) != int.from_bytes(raw[34:], "big"):
        raise ValueError("bad checksum")
    flags, workchain, account = raw[0], raw[1], raw[2:34]
    if flags & ~_TESTNET_ONLY not in (_BOUNCEABLE, _NON_BOUNCEABLE):
        raise ValueError(f"unknown flags byte 0x{flags:02x}")
    if flags & _TESTNET_ONLY and net == "main":
        raise ValueError("testnet-only address")
    if workchain not in _WORKCHAIN_BYTES:
        raise ValueError(f"unsupported workchain byte 0x{workchain:02x}")
    if not any(account):
        raise ValueError("zero address")
    return address
