"""TRON transactions built offline: raw_data as TronGrid shows it, and its protobuf bytes.

A TRON transaction is a protobuf `Transaction.raw` (java-tron, protocol/Tron.proto); its
txID is sha256 of those bytes, and the signature is over the txID. The HTTP API takes
the JSON form (`raw_data`) and re-serializes it itself, so the JSON and the bytes we sign
must agree exactly; here the bytes are always derived from the JSON.

Why hand-written and not `tronpy`: tronpy (0.6) builds offline only through Google's
`protobuf` runtime plus its generated tron_pb2 module, takes `timestamp`/`expiration`
from the wall clock, emits no raw_data_hex, and otherwise asks the node (getsignweight)
for the txID, i.e. trusts the node with what we sign. Two contract types need about
sixty lines of varint/length-delimited encoding, checked in the tests against
transactions TronGrid itself created.

    message raw {                         message Contract {
      bytes ref_block_bytes = 1;            ContractType type = 1;
      bytes ref_block_hash = 4;             google.protobuf.Any parameter = 2;
      int64 expiration = 8;               }        // Any: type_url = 1, value = 2
      repeated Contract contract = 11;
      int64 timestamp = 14;               message TransferContract {
      int64 fee_limit = 18;                 bytes owner_address = 1;
    }                                       bytes to_address = 2;
                                            int64 amount = 3;
    message TriggerSmartContract {        }
      bytes owner_address = 1;
      bytes contract_address = 2;
      int64 call_value = 3;
      bytes data = 4;
      int64 call_token_value = 5;
      int64 token_id = 6;
    }

Fields are written in field-number order and zero values are left out, as java-tron's
protobuf serializer does (the node hashes its own serialization).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import base58

TYPE_URL_PREFIX: Final = "type.googleapis.com/protocol."
CONTRACT_TYPES: Final = {"TransferContract": 1, "TriggerSmartContract": 31}
TRANSFER_SELECTOR: Final = "a9059cbb"  # keccak("transfer(address,uint256)")[:4]
BALANCE_OF_SELECTOR: Final = "70a08231"  # keccak("balanceOf(address)")[:4]
INT64_MAX: Final = 2**63 - 1


def to_hex_address(address: str) -> str:
    """T-address (base58check) -> the 21-byte hex form the HTTP API uses ("41...")."""
    raw = base58.b58decode_check(address)
    if len(raw) != 21 or raw[0] != 0x41:
        raise ValueError("not a TRON address")
    return raw.hex()


def to_base58(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) != 21 or raw[0] != 0x41:
        raise ValueError("not a TRON hex address")
    return base58.b58encode_check(raw).decode("ascii")


def trc20_transfer_data(to: str, amount: int) -> str:
    """ABI call data of transfer(address,uint256): the address as 20 bytes (no 0x41)."""
    if not 0 < amount < 2**256:
        raise ValueError("amount out of range")
    account = to_hex_address(to)[2:]
    return TRANSFER_SELECTOR + account.rjust(64, "0") + f"{amount:064x}"


def trc20_balance_of_parameter(holder: str) -> str:
    return to_hex_address(holder)[2:].rjust(64, "0")


def transfer_raw(
    *,
    owner: str,
    to: str,
    amount_sun: int,
    ref_block_bytes: str,
    ref_block_hash: str,
    expiration: int,
    timestamp: int,
) -> dict[str, Any]:
    """raw_data of a TRX transfer, in TronGrid's JSON shape (visible=false)."""
    value = {
        "amount": amount_sun,
        "owner_address": to_hex_address(owner),
        "to_address": to_hex_address(to),
    }
    return _raw(
        "TransferContract",
        value,
        ref_block_bytes=ref_block_bytes,
        ref_block_hash=ref_block_hash,
        expiration=expiration,
        timestamp=timestamp,
    )


def trigger_raw(
    *,
    owner: str,
    contract: str,
    data: str,
    fee_limit: int,
    ref_block_bytes: str,
    ref_block_hash: str,
    expiration: int,
    timestamp: int,
) -> dict[str, Any]:
    """raw_data of a TriggerSmartContract call (a TRC-20 transfer), as TronGrid shows it."""
    value = {
        "data": data,
        "owner_address": to_hex_address(owner),
        "contract_address": to_hex_address(contract),
    }
    raw = _raw(
        "TriggerSmartContract",
        value,
        ref_block_bytes=ref_block_bytes,
        ref_block_hash=ref_block_hash,
        expiration=expiration,
        timestamp=timestamp,
    )
    raw["fee_limit"] = fee_limit
    return raw


def _raw(
    kind: str,
    value: dict[str, Any],
    *,
    ref_block_bytes: str,
    ref_block_hash: str,
    expiration: int,
    timestamp: int,
) -> dict[str, Any]:
    return {
        "contract": [
            {"parameter": {"value": value, "type_url": TYPE_URL_PREFIX + kind}, "type": kind}
        ],
        "ref_block_bytes": ref_block_bytes,
        "ref_block_hash": ref_block_hash,
        "expiration": expiration,
        "timestamp": timestamp,
    }


def encode_raw(raw: dict[str, Any]) -> bytes:
    """The protobuf bytes of `raw_data` (Transaction.raw). Refuses what it cannot encode
    exactly rather than sign something the node would serialize differently."""
    known = {
        "contract",
        "ref_block_bytes",
        "ref_block_hash",
        "expiration",
        "timestamp",
        "fee_limit",
    }
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"raw_data fields not supported: {', '.join(sorted(unknown))}")
    out = bytearray()
    out += _bytes_field(1, bytes.fromhex(raw["ref_block_bytes"]))
    out += _bytes_field(4, bytes.fromhex(raw["ref_block_hash"]))
    out += _int_field(8, raw["expiration"])
    for contract in raw["contract"]:
        out += _bytes_field(11, _encode_contract(contract))
    out += _int_field(14, raw["timestamp"])
    out += _int_field(18, raw.get("fee_limit", 0))
    return bytes(out)


def txid_of(raw_data_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(raw_data_hex)).hexdigest()


def _encode_contract(contract: dict[str, Any]) -> bytes:
    kind = contract["type"]
    if kind not in CONTRACT_TYPES or set(contract) - {"type", "parameter"}:
        raise ValueError(f"contract not supported: {kind}")
    parameter = contract["parameter"]
    if parameter["type_url"] != TYPE_URL_PREFIX + kind:
        raise ValueError(f"type_url {parameter['type_url']!r} does not match {kind}")
    value = parameter["value"]
    if kind == "TransferContract":
        fields = {"owner_address", "to_address", "amount"}
        body = (
            _bytes_field(1, bytes.fromhex(value["owner_address"]))
            + _bytes_field(2, bytes.fromhex(value["to_address"]))
            + _int_field(3, value.get("amount", 0))
        )
    else:
        fields = {
            "owner_address",
            "contract_address",
            "call_value",
            "data",
            "call_token_value",
            "token_id",
        }
        body = (
            _bytes_field(1, bytes.fromhex(value["owner_address"]))
            + _bytes_field(2, bytes.fromhex(value["contract_address"]))
            + _int_field(3, value.get("call_value", 0))
            + _bytes_field(4, bytes.fromhex(value.get("data", "")))
            + _int_field(5, value.get("call_token_value", 0))
            + _int_field(6, value.get("token_id", 0))
        )
    if set(value) - fields:
        raise ValueError(f"{kind} fields not supported: {', '.join(sorted(set(value) - fields))}")
    any_message = _bytes_field(1, parameter["type_url"].encode()) + _bytes_field(2, body)
    return _int_field(1, CONTRACT_TYPES[kind]) + _bytes_field(2, any_message)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _int_field(number: int, value: int) -> bytes:
    """A varint field (wire type 0); proto3 leaves zero out."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise ValueError(f"field {number}: not a non-negative int64: {value!r}")
    return _varint(number << 3) + _varint(value) if value else b""


def _bytes_field(number: int, value: bytes) -> bytes:
    """A length-delimited field (wire type 2); proto3 leaves empty bytes out."""
    return _varint(number << 3 | 2) + _varint(len(value)) + value if value else b""
