"""The one place payout destinations are validated, for every supported network."""

from typing import Final

from payoutd.chains.evm import address as evm
from payoutd.chains.solana import address as solana
from payoutd.chains.ton import address as ton
from payoutd.chains.tron import address as tron
from payoutd.chains.utxo import address as utxo


class AddressError(ValueError):
    """An address is not valid for the requested network; the message is for humans."""


_UTXO_NETWORKS: Final = frozenset({"BTC", "LTC", "DOGE"})
_EVM_NETWORKS: Final = frozenset({"ETH", "BSC", "POLYGON", "BASE"})
_NETWORKS: Final = _UTXO_NETWORKS | _EVM_NETWORKS | {"TRON", "SOL", "TON"}
_NETS: Final = frozenset({"main", "test", "regtest"})
# Far above the longest valid form (a 90-char bech32 string); refusing longer input up front
# keeps arbitrary user input away from the big-integer base58 decoders.
_MAX_LENGTH: Final = 128


def validate_address(network: str, address: str, *, net: str = "main") -> str:
    """Return `address` normalized for `network`, or raise AddressError.

    Normalized means EIP-55 checksummed for EVM networks, lowercase for bech32, and the
    input unchanged otherwise. `net` only changes the rules for BTC, LTC, DOGE and TON.
    """
    if network not in _NETWORKS:
        raise AddressError(f"Unsupported network: {network!r}")
    if net not in _NETS:
        raise AddressError(f"Unsupported net: {net!r}")
    # Callers pass decoded JSON, which the type hint cannot promise.
    if not isinstance(address, str) or not address:
        raise AddressError(f"Invalid {network} address: empty or not a string")
    if len(address) > _MAX_LENGTH:
        raise AddressError(f"Invalid {network} address: too long")
    try:
        return _dispatch(network, address, net)
    except ValueError as exc:
        raise AddressError(f"Invalid {network} address: {exc}") from exc


def _dispatch(network: str, address: str, net: str) -> str:
    if network in _UTXO_NETWORKS:
        return utxo.validate(network, address, net)
    if network in _EVM_NETWORKS:
        return evm.validate(address)
    if network == "TRON":
        return tron.validate(address)
    if network == "SOL":
        return solana.validate(address)
    return ton.validate(address, net)
