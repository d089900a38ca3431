"""The TRON hot wallet's key: loaded from the environment or an encrypted keystore, used
only to sign txIDs, and never shown.

TRON keys are secp256k1 like Ethereum's, and a TRON address is 0x41 + the last 20 bytes
of keccak256(public key), so an Ethereum keystore (JSON v3, scrypt or pbkdf2) holds a
TRON key as well; eth-keyfile (what eth-account decrypts keystores with) opens it and
eth-keys signs. The key object stays inside HotWallet, whose repr names only the
address: eth-keys' own PrivateKey prints its hex in repr().
"""

from __future__ import annotations

import json
from pathlib import Path

import base58
from eth_keyfile.keyfile import decode_keyfile_json
from eth_keys.datatypes import PrivateKey

from payoutd.chains.config import ChainsFileError, NetworkConfig


class HotWallet:
    __slots__ = ("__key", "address", "address_hex")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValueError("a TRON private key is 32 bytes")
        self.__key = PrivateKey(secret)
        account = self.__key.public_key.to_canonical_address()  # keccak(pub)[-20:]
        self.address_hex = "41" + account.hex()
        self.address = base58.b58encode_check(bytes.fromhex(self.address_hex)).decode()

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> HotWallet:
        """`keystore` (a path) with `passphrase_env`, or `private_key_env` (hex)."""
        keystore = cfg.options.get("keystore")
        if keystore is not None:
            passphrase = cfg.secret("passphrase")
            if passphrase is None:
                raise ChainsFileError(f"{cfg.network}: keystore needs passphrase_env")
            try:
                data = json.loads(Path(str(keystore)).read_text())
                secret = decode_keyfile_json(data, passphrase.encode())
            except (OSError, ValueError, KeyError) as exc:
                # the reason only: "MAC mismatch", a missing file; never the inputs
                raise ChainsFileError(
                    f"{cfg.network}: cannot open keystore {keystore}: {type(exc).__name__}"
                ) from None
        else:
            text = cfg.secret("private_key")
            if text is None:
                raise ChainsFileError(
                    f"{cfg.network}: name the hot wallet key with keystore + passphrase_env "
                    f"or private_key_env"
                )
            try:
                secret = bytes.fromhex(text.strip().removeprefix("0x"))
            except ValueError:
                raise ChainsFileError(
                    f"{cfg.network}: private_key_env does not hold a hex key"
                ) from None
        try:
            wallet = cls(secret)
        except Exception:
            raise ChainsFileError(f"{cfg.network}: not a valid secp256k1 key") from None
        expected = cfg.options.get("address")
        if expected is not None and expected != wallet.address:
            raise ChainsFileError(
                f"{cfg.network}: the key is for {wallet.address}, not address {expected}"
            )
        return wallet

    def sign(self, txid: bytes) -> str:
        """The 65-byte recoverable signature r || s || v (v = 0 or 1) over a txID, in hex,
        as java-tron verifies it (it recovers the public key, then the address)."""
        if len(txid) != 32:
            raise ValueError("a txID is 32 bytes")
        return self.__key.sign_msg_hash(txid).to_bytes().hex()

    def __repr__(self) -> str:
        return f"HotWallet({self.address})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("the hot wallet key is not to be pickled or copied")
