"""UtxoChain.status reads the wallet, the mempool and the inputs one call at a time; a
block can arrive between two calls. (The real node's tests cover the states themselves:
tests/chains/test_utxo_litecoind.py; this one replays a race they hit only sometimes.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from payoutd.chains.utxo import rpc
from payoutd.chains.utxo.adapter import UtxoChain
from payoutd.services.ports import PreparedTx, TxState

PARENT = "11" * 32


class Chain:
    """One node's answers as the test moves it: `mined` flips when the block arrives."""

    def __init__(self) -> None:
        self.mined = False
        self.calls: list[str] = []

    def answer(self, method: str, params: tuple[Any, ...], txid: str) -> Any:
        self.calls.append(method)
        if method == "gettransaction" and params[0] == txid:
            return {"confirmations": 2 if self.mined else 0, "details": []}
        if method == "gettransaction" and params[0] == PARENT:
            return {"confirmations": 10, "details": []}
        if method == "getmempoolentry":
            # the block arrives right after the wallet's first answer: the transaction has
            # left the mempool by the time it is asked for
            self.mined = True
            raise rpc.RpcError(method, rpc.INVALID_ADDRESS_OR_KEY, "not in mempool")
        if method == "gettxout":
            return None  # spent: by the transaction itself, now in a block
        raise AssertionError(f"unexpected call {method}{params}")


class Client:
    def __init__(self, chain: Chain, txid: str) -> None:
        self.chain, self.txid = chain, txid

    async def call(self, method: str, *params: Any) -> Any:
        return self.chain.answer(method, params, self.txid)


async def test_a_transaction_mined_between_two_looks_is_mined_not_conflicted() -> None:
    tx = Transaction(
        vin=[TransactionInput(bytes.fromhex(PARENT), 0)],
        vout=[TransactionOutput(10_000, Script(b"\x00\x14" + b"\x22" * 20))],
    )
    txid = tx.txid().hex()
    chain = Chain()
    # Client answers the few RPCs status() makes, as a node at a given moment would
    adapter = UtxoChain(
        "LTC",
        node=Client(chain, txid),  # type: ignore[arg-type]
        wallet=Client(chain, txid),  # type: ignore[arg-type]
        wallet_name="hot",
        net="regtest",
    )

    state = await adapter.status(PreparedTx(txid, tx.serialize().hex(), Decimal("0.0001"), "LTC"))

    assert chain.calls[:3] == ["gettransaction", "getmempoolentry", "gettxout"]
    assert state == TxState("mined", 2)
