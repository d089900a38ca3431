"""The one place payout destinations and transaction ids are validated, for every
supported network (each family's own rules live in its package)."""

from collections.abc import Callable
from typing import Final

from payoutd.chains.evm import address as evm
from payoutd.chains.evm import txid as evm_txid
from payoutd.chains.solana import address as solana
from payoutd.chains.solana import txid as solana_txid
from payoutd.chains.ton import address as ton
from payoutd.chains.ton import txid as ton_txid
from payoutd.chains.tron import address as tron
from payoutd.chains.tron import txid as tron_txid
from payoutd.chains.utxo import address as utxo
from payoutd.chains.utxo import txid as utxo_txid


class AddressError(ValueError):
    """An address is not valid for the requested network; the message is for humans."""


class TxidError(ValueError):
    """A transaction id is not in the requested network's form; the message is for humans."""


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
    if net not in _NETS:
        raise AddressError(f"Unsupported net: {net!r}")
    return _checked(
        AddressError, "address", network, address, lambda: _dispatch(network, address, net)
    )


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


def validate_txid(network: str, txid: str) -> str:
    """Return `txid` in `network`'s own form (hex in lower case, 0x-prefixed on EVM
    networks), or raise TxidError: a payout is never marked paid by an id its chain
    could not have given."""
    return _checked(TxidError, "txid", network, txid, lambda: _TXID_RULES[network](txid))


def _family_txid_rules() -> dict[str, Callable[[str], str]]:
    rules: dict[str, Callable[[str], str]] = {n: utxo_txid.validate for n in _UTXO_NETWORKS}
    rules.update({n: evm_txid.validate for n in _EVM_NETWORKS})
    rules.update(TRON=tron_txid.validate, SOL=solana_txid.validate, TON=ton_txid.validate)
    return rules


_TXID_RULES: Final = _family_txid_rules()


def _checked(
    error: type[ValueError], kind: str, network: str, value: str, rule: Callable[[], str]
) -> str:
    """`rule()` on input that is a string of a plausible length for a supported network;
    any refusal as `error`, naming the network."""
    if network not in _NETWORKS:
        raise error(f"Unsupported network: {network!r}")
    # Callers pass decoded JSON, which the type hint cannot promise.
    if not isinstance(value, str) or not value:
        raise error(f"Invalid {network} {kind}: empty or not a string")
    if len(value) > _MAX_LENGTH:
        raise error(f"Invalid {network} {kind}: too long")
    try:
        return rule()
    except ValueError as exc:
        raise error(f"Invalid {network} {kind}: {exc}") from exc
