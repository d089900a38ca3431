"""BTC, LTC and DOGE addresses: base58check P2PKH/P2SH and segwit bech32/bech32m.

Raises ValueError with a short reason; payoutd.chains.addressing adds the network name.
"""

from dataclasses import dataclass
from typing import Final

from embit import bech32

from payoutd.chains import base58check


@dataclass(frozen=True)
class _Params:
    versions: frozenset[int]  # base58check version bytes accepted (P2PKH and P2SH)
    hrp: str | None  # segwit human-readable part; None where segwit is not in use


_PARAMS: Final[dict[tuple[str, str], _Params]] = {
    ("BTC", "main"): _Params(frozenset({0x00, 0x05}), "bc"),
    ("BTC", "test"): _Params(frozenset({0x6F, 0xC4}), "tb"),
    ("BTC", "regtest"): _Params(frozenset({0x6F, 0xC4}), "bcrt"),
    # Litecoin moved P2SH from 0x05 (3...) to 0x32 (M...), and 0xc4 to 0x3a on test chains,
    # but Litecoin Core still accepts the old prefixes and older wallets still show them.
    ("LTC", "main"): _Params(frozenset({0x30, 0x32, 0x05}), "ltc"),
    ("LTC", "test"): _Params(frozenset({0x6F, 0x3A, 0xC4}), "tltc"),
    ("LTC", "regtest"): _Params(frozenset({0x6F, 0x3A, 0xC4}), "rltc"),
    # Dogecoin never activated segwit, so a bech32 string is never a DOGE address.
    ("DOGE", "main"): _Params(frozenset({0x1E, 0x16}), None),
    ("DOGE", "test"): _Params(frozenset({0x71, 0xC4}), None),
    # Dogecoin Core 1.14 regtest keeps Bitcoin's test prefixes rather than DOGE testnet's.
    ("DOGE", "regtest"): _Params(frozenset({0x6F, 0xC4}), None),
}

# Every HRP above, so a mistyped segwit address of any of these chains is reported as a
# segwit problem instead of as "not base58".
_KNOWN_HRPS: Final = frozenset({"bc", "tb", "bcrt", "ltc", "tltc", "rltc"})

_BECH32_ALPHABET: Final = frozenset(bech32.CHARSET)
_BASE58CHECK_LENGTH: Final = 25  # version byte + 20-byte hash + 4-byte checksum
_BECH32_MAX_LENGTH: Final = 90  # BIP-173


def validate(coin: str, address: str, net: str) -> str:
    """Return the normalized address (bech32 lowercased), or raise ValueError."""
    params = _PARAMS[(coin, net)]
    if _looks_like_segwit(address):
        return _validate_segwit(address, params.hrp)
    return _validate_base58(address, params.versions)


def _looks_like_segwit(address: str) -> bool:
    hrp, separator, _ = address.lower().rpartition("1")
    if not separator:
        return False
    if hrp in _KNOWN_HRPS:
        return True
    # Any other well-formed bech32 string (another chain's HRP) is still not base58.
    encoding, _, _ = bech32.bech32_decode(address)
    return encoding is not None


def _validate_base58(address: str, versions: frozenset[int]) -> str:
    payload = base58check.decode_check(address, _BASE58CHECK_LENGTH)
    if payload[0] not in versions:
        raise ValueError(f"version byte 0x{payload[0]:02x} belongs to another coin or network")
    return address


def _validate_segwit(address: str, expected_hrp: str | None) -> str:
    if address != address.lower() and address != address.upper():
        raise ValueError("mixed case")
    if len(address) > _BECH32_MAX_LENGTH:
        raise ValueError("too long for bech32")
    if not set(address.lower().rpartition("1")[2]) <= _BECH32_ALPHABET:
        raise ValueError("contains characters outside the bech32 alphabet")
    encoding, hrp, data = bech32.bech32_decode(address)
    if encoding is None:
        raise ValueError("bad checksum")
    if expected_hrp is None:
        raise ValueError("segwit addresses are not used on this chain")
    if hrp != expected_hrp:
        raise ValueError(f"prefix {hrp!r} belongs to another coin or network")
    if not data:
        raise ValueError("no witness version")
    version: int = data[0]
    if version > 16:
        raise ValueError(f"invalid witness version {version}")
    # Rejects a leftover partial byte or non-zero padding bits, per BIP-173.
    program: list[int] | None = bech32.convertbits(data[1:], 5, 8, False)
    if program is None:
        raise ValueError("invalid padding in witness program")
    if not 2 <= len(program) <= 40:
        raise ValueError(f"invalid witness program length {len(program)}")
    if version == 0 and len(program) not in (20, 32):
        raise ValueError(f"invalid witness v0 program length {len(program)}")
    # BIP-350: v0 keeps the original bech32 checksum, v1+ must use bech32m. Accepting the
    # wrong one would let a v0 checksum vouch for a v1 string and vice versa.
    expected = bech32.Encoding.BECH32 if version == 0 else bech32.Encoding.BECH32M
    if encoding != expected:
        variant = "bech32m" if expected == bech32.Encoding.BECH32M else "bech32"
        raise ValueError(f"witness v{version} must use the {variant} checksum")
    # Witness v2..v16 are valid encodings (BIP-350) but no soft fork defines them yet:
    # anyone could spend coins paid to them, so a payout engine must refuse them.
    if version > 1:
        raise ValueError(f"witness v{version} outputs are not spendable safely yet")
    return address.lower()
