"""payoutd's TON hot wallet: a standard wallet v4R2, its key held here, messages signed here.

Cells come from pytoniq-core (TL-B cells, BOCs, addresses, and the transaction schema the
adapter reads outcomes from); the ed25519 signature from PyNaCl. What is written by hand
is the wallet's own message layout, a few fields (wallet-v4 source, `recv_external`):

    signature:bits512 subwallet_id:uint32 valid_until:uint32 seqno:uint32 op:uint8(0)
    (send_mode:uint8 ^MessageRelaxed){0..4}

The wallet checks the signature, the seqno and valid_until in TVM; a message whose seqno
was used is refused without a trace, which is what makes re-sending the very same
signed message after a crash safe.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Final

import nacl.signing
from pytoniq_core.boc import begin_cell
from pytoniq_core.boc.address import Address
from pytoniq_core.boc.builder import Builder
from pytoniq_core.boc.cell import Cell
from pytoniq_core.crypto.keys import mnemonic_is_valid, mnemonic_to_private_key

from payoutd.chains.config import ChainsFileError, NetworkConfig

# Wallet v4R2's code (ton-blockchain/wallet-contract, wallet-v4-code.fc compiled; the BOC
# @ton/ton's WalletContractV4 deploys), the cell every v4R2 wallet runs. Its hash:
# feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0.
V4R2_CODE: Final = (
    "te6ccgECFAEAAtQAART/APSkE/S88sgLAQIBIAIDAgFIBAUE+PKDCNcYINMf0x/THwL4I7vyZO1E0NMf0x/T"
    "//QE0VFDuvKhUVG68qIF+QFUEGT5EPKj+AAkpMjLH1JAyx9SMMv/UhD0AMntVPgPAdMHIcAAn2xRkyDXSpbT"
    "B9QC+wDoMOAhwAHjACHAAuMAAcADkTDjDQOkyMsfEssfy/8QERITAubQAdDTAyFxsJJfBOAi10nBIJJfBOAC"
    "0x8hghBwbHVnvSKCEGRzdHK9sJJfBeAD+kAwIPpEAcjKB8v/ydDtRNCBAUDXIfQEMFyBAQj0Cm+hMbOSXwfg"
    "BdM/yCWCEHBsdWe6kjgw4w0DghBkc3RyupJfBuMNBgcCASAICQB4AfoA9AQw+CdvIjBQCqEhvvLgUIIQcGx1"
    "Z4MesXCAGFAEywUmzxZY+gIZ9ADLaRfLH1Jgyz8gyYBA+wAGAIpQBIEBCPRZMO1E0IEBQNcgyAHPFvQAye1U"
    "AXKwjiOCEGRzdHKDHrFwgBhQBcsFUAPPFiP6AhPLassfyz/JgED7AJJfA+ICASAKCwBZvSQrb2omhAgKBrkP"
    "oCGEcNQICEekk30pkQzmkD6f+YN4EoAbeBAUiYcVnzGEAgFYDA0AEbjJftRNDXCx+AA9sp37UTQgQFA1yH0B"
    "DACyMoHy//J0AGBAQj0Cm+hMYAIBIA4PABmtznaiaEAga5Drhf/AABmvHfaiaEAQa5DrhY/AAG7SB/oA1NQi"
    "+QAFyMoHFcv/ydB3dIAYyMsFywIizxZQBfoCFMtrEszMyXP7AMhAFIEBCPRR8qcCAHCBAQjXGPoA0z/IVCBH"
    "gQEI9FHyp4IQbm90ZXB0gBjIywXLAlAGzxZQBPoCFMtqEssfyz/Jc/sAAgBsgQEI1xj6ANM/MFIkgQEI9Fny"
    "p4IQZHN0cnB0gBjIywXLAlAFzxZQA/oCE8tqyx8Syz/Jc/sAAAr0AMntVA=="
)
DEFAULT_WALLET_ID: Final = 698983191  # the subwallet id of workchain 0's default wallet
MAX_MESSAGES: Final = 4  # what one external message of a v4 wallet can carry
# pay the forwarding fees from the wallet's balance, not from the value; ignore errors so
# one message the action phase cannot send does not stop the others (the adapter finds
# which went out in the transaction)
SEND_MODE: Final = 3
COMMENT_OP: Final = 0
JETTON_TRANSFER_OP: Final = 0x0F8A7EA5


def code_cell() -> Cell:
    return Cell.one_from_boc(base64.b64decode(V4R2_CODE))


@dataclass(frozen=True, slots=True)
class Signed:
    """One signed external message: what is recorded, and what is sent, unchanged."""

    boc: str  # base64 BOC of the whole external message
    body_hash: str  # hex hash of the signed body: how the wallet's transaction is found
    message_hash: str  # hex hash of the external message: the payouts' txid


@dataclass(frozen=True, slots=True)
class Internal:
    """One internal message the wallet sends: to `dest`, carrying `value` nanotons."""

    dest: str
    value: int
    bounce: bool
    body: Cell


class HotWallet:
    def __init__(self, seed: bytes, wallet_id: int = DEFAULT_WALLET_ID) -> None:
        self._key = nacl.signing.SigningKey(seed)
        self.public_key: bytes = bytes(self._key.verify_key)
        self.wallet_id = wallet_id
        self.address_obj = Address((0, _state_init(self.public_key, wallet_id).hash))
        self.address: str = self.address_obj.to_str(is_user_friendly=False)

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> HotWallet:
        secret = cfg.secret("secret_key")
        mnemonic = cfg.secret("mnemonic")
        if (secret is None) == (mnemonic is None):
            raise ChainsFileError(
                f"{cfg.network}: name exactly one of secret_key_env, mnemonic_env"
            )
        if secret is not None:
            try:
                seed = bytes.fromhex(secret.strip())
            except ValueError:
                seed = b""
            if len(seed) != 32:
                raise ChainsFileError(f"{cfg.network}: secret_key_env must hold 64 hex digits")
        else:
            assert mnemonic is not None
            words = mnemonic.split()
            if not mnemonic_is_valid(words):
                raise ChainsFileError(f"{cfg.network}: mnemonic_env is not a TON mnemonic")
            seed = mnemonic_to_private_key(words)[1][:32]
        wallet_id = cfg.options.get("wallet_id", DEFAULT_WALLET_ID)
        if isinstance(wallet_id, bool) or not isinstance(wallet_id, int):
            raise ChainsFileError(f"{cfg.network}: wallet_id must be a whole number")
        if not 0 <= wallet_id < 2**32:
            raise ChainsFileError(f"{cfg.network}: wallet_id must be a uint32")
        wallet = cls(seed, wallet_id)
        expected = cfg.options.get("address")
        if expected is not None and not same_account(str(expected), wallet.address):
            raise ChainsFileError(
                f"{cfg.network}: the key is wallet {wallet.address}, not address {expected}"
            )
        return wallet

    def __repr__(self) -> str:  # never the key
        return f"HotWallet({self.address})"

    def sign(
        self, seqno: int, valid_until: int, messages: list[Internal], *, deploy: bool
    ) -> Signed:
        """The external message carrying `messages`; with the wallet's StateInit when
        `deploy` (its first message, seqno 0, deploys it)."""
        assert 0 < len(messages) <= MAX_MESSAGES
        unsigned = (
            begin_cell()
            .store_uint(self.wallet_id, 32)
            .store_uint(valid_until, 32)
            .store_uint(seqno, 32)
            .store_uint(0, 8)  # op 0: a simple send
        )
        for m in messages:
            unsigned.store_uint(SEND_MODE, 8).store_ref(_internal(m))
        to_sign = unsigned.end_cell()
        signature = self._key.sign(to_sign.hash).signature
        body = begin_cell().store_bytes(signature).store_cell(to_sign).end_cell()
        ext = (
            begin_cell()
            .store_uint(0b10, 2)  # ext_in_msg_info$10
            .store_uint(0, 2)  # src: addr_none
            .store_address(self.address_obj)
            .store_coins(0)  # import_fee
        )
        if deploy:
            ext.store_bit(1).store_bit(1).store_ref(_state_init(self.public_key, self.wallet_id))
        else:
            ext.store_bit(0)
        cell = ext.store_bit(1).store_ref(body).end_cell()
        return Signed(
            boc=base64.b64encode(cell.to_boc()).decode(),
            body_hash=body.hash.hex(),
            message_hash=cell.hash.hex(),
        )


def _state_init(public_key: bytes, wallet_id: int) -> Cell:
    data = (
        begin_cell()
        .store_uint(0, 32)  # seqno
        .store_uint(wallet_id, 32)
        .store_bytes(public_key)
        .store_bit(0)  # no plugins
        .end_cell()
    )
    # split_depth, special: none; code, data: present; library: none
    return begin_cell().store_uint(0b00110, 5).store_ref(code_cell()).store_ref(data).end_cell()


def _internal(m: Internal) -> Cell:
    """int_msg_info$0 with the fields the validator fills left at zero."""
    b: Builder = (
        begin_cell()
        .store_uint(0, 1)
        .store_bit(1)  # ihr_disabled
        .store_bit(1 if m.bounce else 0)
        .store_bit(0)  # bounced
        .store_uint(0, 2)  # src: addr_none, the wallet's address is put in by the chain
        .store_address(Address(m.dest))
        .store_coins(m.value)
        .store_bit(0)  # no extra currencies
        .store_coins(0)  # ihr_fee
        .store_coins(0)  # fwd_fee
        .store_uint(0, 64)  # created_lt
        .store_uint(0, 32)  # created_at
        .store_bit(0)  # no StateInit
    )
    return b.store_bit(1).store_ref(m.body).end_cell()


def comment(text: str | None) -> Cell:
    """A text comment (op 0 and the UTF-8 text); an empty body without one. Memos are at
    most 30 characters, so the text always fits in the one cell."""
    if text is None:
        return begin_cell().end_cell()
    raw = text.encode("utf-8")
    assert len(raw) <= 123
    return begin_cell().store_uint(COMMENT_OP, 32).store_bytes(raw).end_cell()


def jetton_transfer(
    query_id: int,
    amount: int,
    destination: str,
    response: str,
    forward_ton: int,
    memo: str | None,
) -> Cell:
    """TEP-74 transfer, sent to the hot wallet's own jetton wallet: the recipient's jetton
    wallet gets the jettons, the recipient a transfer_notification with the comment, the
    hot wallet what the forwarding did not use (excesses)."""
    b = (
        begin_cell()
        .store_uint(JETTON_TRANSFER_OP, 32)
        .store_uint(query_id, 64)
        .store_coins(amount)
        .store_address(Address(destination))
        .store_address(Address(response))
        .store_bit(0)  # no custom_payload
        .store_coins(forward_ton)
    )
    if memo is None:
        return b.store_bit(0).end_cell()
    return b.store_bit(1).store_ref(comment(memo)).end_cell()


def new_query_id() -> int:
    return int.from_bytes(os.urandom(8), "big")


def same_account(a: str, b: str) -> bool:
    """Whether two addresses (any form) name one account."""
    x, y = Address(a), Address(b)
    return bool(x.wc == y.wc and x.hash_part == y.hash_part)


def is_bounceable(address: str) -> bool:
    """User-friendly addresses say whether their owner wants bounces (EQ.. yes, UQ.. no);
    the raw form says nothing, and payouts go to wallets that may not be deployed yet, so
    it is sent non-bounceable, as wallets do."""
    if ":" in address:
        return False
    return bool(Address(address).is_bounceable)
