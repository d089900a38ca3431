"""The Solana hot wallet's key: read from the environment, used only to sign, never shown.

solders' Keypair prints its secret (str() is the base58 keypair), so it stays inside
HotWallet, whose repr names only the address.
"""

from __future__ import annotations

import json

import base58
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from payoutd.chains.config import ChainsFileError, NetworkConfig


class HotWallet:
    __slots__ = ("__key", "address", "pubkey")

    def __init__(self, keypair: Keypair) -> None:
        self.__key = keypair
        self.pubkey: Pubkey = keypair.pubkey()
        self.address = str(self.pubkey)

    @classmethod
    def from_secret(cls, text: str) -> HotWallet:
        """The 64-byte keypair as wallets export it (base58), or solana-keygen's JSON
        array of 64 numbers (the content of its keypair file)."""
        text = text.strip()
        secret = bytes(json.loads(text)) if text.startswith("[") else base58.b58decode(text)
        if len(secret) != 64:
            raise ValueError("a Solana keypair is 64 bytes")
        # from_bytes checks that the public half belongs to the secret half
        return cls(Keypair.from_bytes(secret))

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> HotWallet:
        text = cfg.secret("private_key")
        if text is None:
            raise ChainsFileError(
                f"{cfg.network}: name the hot wallet's keypair with private_key_env"
            )
        try:
            wallet = cls.from_secret(text)
        except Exception:
            # the reason only, never the input
            raise ChainsFileError(
                f"{cfg.network}: private_key_env does not hold a Solana keypair "
                f"(base58 of 64 bytes, or solana-keygen's JSON array)"
            ) from None
        expected = cfg.options.get("address")
        if expected is not None and expected != wallet.address:
            raise ChainsFileError(
                f"{cfg.network}: the key is for {wallet.address}, not address {expected}"
            )
        return wallet

    def sign(self, message: Message, blockhash: Hash) -> Transaction:
        return Transaction([self.__key], message, blockhash)

    def __repr__(self) -> str:
        return f"HotWallet({self.address})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("the hot wallet key is not to be pickled or copied")
