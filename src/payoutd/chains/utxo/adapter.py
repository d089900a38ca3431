"""UTXO chains (BTC, LTC, DOGE) through Bitcoin Core's JSON-RPC.

The node's wallet is the hot wallet: it picks the coins, adds the change and signs. A
batch is one transaction with one output per destination, in the batch's order, change
last. Its signed hex is what payoutd records before anything is broadcast, so every
broadcast of the batch (the first one, and any after a crash) sends the very same
transaction, and its txid is known before the node ever sees it.

    [networks.LTC]
    adapter = "utxo"
    url = "http://127.0.0.1:9332"
    username = "payoutd"
    password_env = "PAYOUTD_LTC_RPC_PASSWORD"
    wallet = "payoutd"
    net = "main"
    confirmations = 2
    fee_rates = { economy = 1, recommended = 2, high = 5, highest = 10 }  # sat/vB
    conf_target = { economy = 24, recommended = 6, high = 2, highest = 1 }
    estimate_fees = true          # false: always the fee_rates above
    replaceable = false           # BIP125; a replaced batch goes to needs_review
    funding = "psbt"              # "raw" for nodes without PSBT (Dogecoin Core 1.14)
    dust_relay_fee = 30           # sat/vB the node uses to define dust (LTC: 30, BTC: 3)
    timeout_seconds = 30

Fee rates: `estimatesmartfee` at the priority's confirmation target when the node has
an estimate; otherwise the configured rate (a fresh regtest node has none; one that has
mined transactions learns their rates). Never below the node's mempool minimum, which
the node would refuse to relay.

Coins chosen for a batch are locked in the wallet (`lockUnspents`) until the batch is
broadcast or released, so a batch recorded but not yet broadcast keeps its coins.
Nodes before Bitcoin Core 23 keep those locks in memory only: see `unlock_unrecorded`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Coroutine, Iterable
from decimal import ROUND_UP, Decimal
from typing import Any, ParamSpec, TypeVar

from embit.transaction import Transaction

from payoutd.chains.addressing import validate_address, validate_txid
from payoutd.chains.config import ChainsFileError, NetworkConfig
from payoutd.chains.utxo import rpc
from payoutd.chains.utxo.rpc import RpcClient, RpcError
from payoutd.domain.assets import NETWORKS, Asset
from payoutd.domain.batching import Output
from payoutd.domain.money import ROUND_CREDIT, ROUND_DEBIT, fmt, quantize
from payoutd.services.ports import ChainUnavailable, OutputRejected, PreparedTx, Rejected, TxState

PRIORITIES = ("economy", "recommended", "high", "highest")
# sat/vB when the node has no estimate. Dogecoin prices by the kB, a hundred times
# higher: Dogecoin Core 1.14.4+ recommends 0.01 DOGE/kB (1,000 koinu/vB).
DEFAULT_FEE_RATES = {
    "economy": Decimal(1),
    "recommended": Decimal(2),
    "high": Decimal(5),
    "highest": Decimal(10),
}
DOGE_FEE_RATES = {p: Decimal(1000) for p in ("economy", "recommended", "high", "highest")}
DEFAULT_CONF_TARGET = {"economy": 24, "recommended": 6, "high": 2, "highest": 1}
# Bitcoin Core's -dustrelayfee, in sat/vB (Litecoin Core raised it tenfold). Dogecoin
# Core uses a flat dust limit instead (`dust_limit`, in DOGE).
DUST_RELAY_FEE = {"BTC": Decimal(3), "LTC": Decimal(30)}
DUST_LIMIT = {"DOGE": Decimal("0.01")}
SATS = Decimal(100_000_000)
# The virtual size of a payout sent on its own: a P2WPKH transaction with one input, one
# output and change (bench/batching.py `vsize(1)`). One payout's network fee is this many
# vbytes at the fee rate; the same count prices `unbatched_fee`.
SINGLE_PAYOUT_VBYTES = 141
# For the wallet balance guard's fee margin: version, counts and locktime; an input and
# an output of the largest common kinds (P2PKH), so the margin errs on the safe side.
TX_OVERHEAD_VBYTES = 11
INPUT_VBYTES = {"witness_v0_keyhash": 68}
LEGACY_INPUT_VBYTES = 148
OUTPUT_VBYTES = 34
OPTIONS = (
    "username",
    "password_env",
    "wallet",
    "fee_rates",
    "conf_target",
    "estimate_fees",
    "replaceable",
    "funding",
    "dust_relay_fee",
    "dust_limit",
    "timeout_seconds",
)

# sendrawtransaction answers meaning the node already has the transaction
_KNOWN = (
    "already in block chain",
    "txn-already-in-mempool",
    "txn-already-known",
    "already have transaction",
)
# inputs gone: spent by this very transaction (mined, outputs spent since), by another
# one, or parents the node does not have
_SPENT = ("missingorspent", "missing inputs", "txn-mempool-conflict", "insufficient fee")
# refusals that may pass later: the mempool is full or its minimum fee rose for a while
_TRANSIENT = (
    "mempool min fee not met",
    "mempool full",
    "too-long-mempool-chain",
    "too long mempool chain",
    "min relay fee not met",
    "non-final",
)
_INVALID_ADDRESS = re.compile(r"invalid .*address[^:]*:\s*(\S+)", re.IGNORECASE)

P = ParamSpec("P")
R = TypeVar("R")


def _unknown_on_node_error(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """A node error no branch expected (the wallet not loaded, a method the node lacks)
    leaves the outcome unknown to the caller: ChainUnavailable, as for a node down."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except RpcError as exc:
            raise ChainUnavailable(str(exc)) from exc

    return wrapper


class UtxoChain:
    mode = "live"

    def __init__(
        self,
        network: str,
        *,
        node: RpcClient,
        wallet: RpcClient,
        wallet_name: str,
        net: str = "main",
        confirmations: int | None = None,
        batch_window_seconds: float | None = None,
        fee_rates: dict[str, Decimal] | None = None,
        conf_target: dict[str, int] | None = None,
        estimate_fees: bool = True,
        replaceable: bool = False,
        funding: str = "psbt",
        dust_relay_fee: Decimal | None = None,
        dust_limit: Decimal | None = None,
    ) -> None:
        if NETWORKS[network].family != "utxo":
            raise ValueError(f"{network} is not a UTXO network")
        self.network = network
        self.coin = NETWORKS[network].native
        self.node = node
        self.wallet = wallet
        self.wallet_name = wallet_name
        self.net = net
        self.confirmations = confirmations or NETWORKS[network].confirmations
        self.batch_window_seconds = batch_window_seconds
        defaults = DOGE_FEE_RATES if network == "DOGE" else DEFAULT_FEE_RATES
        self.fee_rates = {**defaults, **(fee_rates or {})}
        self.conf_target = {**DEFAULT_CONF_TARGET, **(conf_target or {})}
        self.estimate_fees = estimate_fees
        self.replaceable = replaceable
        if funding not in ("psbt", "raw"):
            raise ValueError("funding must be psbt or raw")
        self.funding = funding
        self.dust_relay_fee = (
            dust_relay_fee
            if dust_relay_fee is not None
            else DUST_RELAY_FEE.get(network, Decimal(3))
        )
        self.dust_limit = dust_limit if dust_limit is not None else DUST_LIMIT.get(network)

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> UtxoChain:
        o = cfg.options
        unknown = sorted(set(o) - set(OPTIONS))
        if unknown:
            raise ChainsFileError(f"{cfg.network}: unknown keys {', '.join(unknown)}")
        if not cfg.url:
            raise ChainsFileError(f"{cfg.network}: the utxo adapter needs the node's url")
        wallet_name = str(o.get("wallet", ""))
        username = o.get("username")
        for key, value in o.items():
            if key in ("estimate_fees", "replaceable") and not isinstance(value, bool):
                raise ChainsFileError(f"{cfg.network}: {key} must be true or false")
        password = cfg.secret("password")
        timeout = float(o.get("timeout_seconds", 30))

        def client(wallet: str | None) -> RpcClient:
            return RpcClient(
                cfg.url or "", username=username, password=password, wallet=wallet, timeout=timeout
            )

        def rates(key: str) -> dict[str, Any]:
            value = o.get(key, {})
            if not isinstance(value, dict) or set(value) - set(PRIORITIES):
                raise ChainsFileError(
                    f"{cfg.network}: {key} maps priorities ({', '.join(PRIORITIES)})"
                )
            return value

        try:
            return cls(
                # no wallet named: the node's only (default) wallet
                cfg.network,
                node=client(None),
                wallet=client(wallet_name or None),
                wallet_name=wallet_name,
                net=cfg.net,
                confirmations=cfg.confirmations,
                batch_window_seconds=cfg.batch_window_seconds,
                fee_rates={k: Decimal(str(v)) for k, v in rates("fee_rates").items()},
                conf_target={k: int(v) for k, v in rates("conf_target").items()},
                estimate_fees=o.get("estimate_fees", True),
                replaceable=o.get("replaceable", False),
                funding=str(o.get("funding", "raw" if cfg.network == "DOGE" else "psbt")),
                dust_relay_fee=(
                    Decimal(str(o["dust_relay_fee"])) if "dust_relay_fee" in o else None
                ),
                dust_limit=Decimal(str(o["dust_limit"])) if "dust_limit" in o else None,
            )
        except ValueError as exc:
            raise ChainsFileError(f"{cfg.network}: {exc}") from exc

    def validate_address(self, address: str) -> str:
        return validate_address(self.network, address, net=self.net)

    def validate_txid(self, txid: str) -> str:
        return validate_txid(self.network, txid)

    # --- fees --------------------------------------------------------------------------

    @_unknown_on_node_error
    async def fee_rate(self, priority: str | None) -> Decimal:
        """sat/vB for `priority`: the node's estimate, else the configured rate; never
        under the node's mempool minimum."""
        name = priority if priority in PRIORITIES else "recommended"
        rate = self.fee_rates[name]
        if self.estimate_fees:
            try:
                estimate = await self.node.call("estimatesmartfee", self.conf_target[name])
            except RpcError:
                estimate = {}  # a node without fee estimation: the configured rate
            per_kvb = estimate.get("feerate") if isinstance(estimate, dict) else None
            if per_kvb is not None and Decimal(per_kvb) > 0:  # Dogecoin says -1 for none
                rate = Decimal(per_kvb) * SATS / 1000
        info = await self.node.call("getmempoolinfo")
        floor = Decimal(info.get("mempoolminfee", 0)) * SATS / 1000
        return max(rate, floor).quantize(Decimal("0.001"), rounding=ROUND_UP)

    def _coins(self, rate: Decimal, vbytes: int | Decimal, decimals: int = 8) -> Decimal:
        return quantize(rate * Decimal(vbytes) / SATS, decimals, ROUND_DEBIT)

    @_unknown_on_node_error
    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        return self._coins(await self.fee_rate(priority), SINGLE_PAYOUT_VBYTES, asset.decimals)

    # --- the wallet balance guard ------------------------------------------------------

    @_unknown_on_node_error
    async def shortfall(self, asset: Asset, outputs: list[Output]) -> str | None:
        """Compare what the wallet can spend now (confirmed coins and its own change, not
        those locked for a prepared batch) with the outputs plus a fee for as many
        inputs as paying them takes, at the highest priority's rate."""
        unspent = await self.wallet.call("listunspent", 0)
        coins = sorted(
            (
                (Decimal(u["amount"]), INPUT_VBYTES.get(_script_type(u), LEGACY_INPUT_VBYTES))
                for u in unspent
                if u.get("spendable", True) and u.get("safe", int(u["confirmations"]) > 0)
            ),
            key=lambda c: c[0],
            reverse=True,
        )
        total = sum((o.amount for o in outputs), Decimal(0))
        pays_fee = not all(o.subtract_fee for o in outputs)
        rate = await self.fee_rate("highest") if pays_fee else Decimal(0)
        vbytes = TX_OVERHEAD_VBYTES + OUTPUT_VBYTES * (len(outputs) + 1)
        gathered = Decimal(0)
        need = total + self._coins(rate, vbytes)
        for amount, input_vbytes in coins:
            if gathered >= need:
                break
            gathered += amount
            vbytes += input_vbytes
            need = total + self._coins(rate, vbytes)
        if gathered >= need:
            return None
        available = sum((c[0] for c in coins), Decimal(0))
        locked = await self.wallet.call("listlockunspent")
        held = f"; {len(locked)} more coins are locked for prepared batches" if locked else ""

        def show(value: Decimal) -> str:
            return f"{fmt(quantize(value, asset.decimals, ROUND_DEBIT))} {self.coin}"

        return (
            f"hot wallet {self.wallet_name!r} can spend {show(available)}; the batch "
            f"needs {show(need)} ({show(total)} to {len(outputs)} outputs and the "
            f"network fee){held}"
        )

    # --- building a batch --------------------------------------------------------------

    @_unknown_on_node_error
    async def prepare(
        self,
        batch_id: str,
        asset: Asset,
        outputs: list[Output],
        priority: str | None,
        *,
        payout_count: int,
        next_sequence: int | None = None,
    ) -> PreparedTx:
        rate = await self.fee_rate(priority)
        amounts = [quantize(o.amount, asset.decimals, ROUND_CREDIT) for o in outputs]
        subtract = [i for i, o in enumerate(outputs) if o.subtract_fee]
        try:
            if self.funding == "psbt":
                signed, fee = await self._fund_psbt(outputs, amounts, subtract, rate)
            else:
                signed, fee = await self._fund_raw(outputs, amounts, subtract, rate)
        except RpcError as exc:
            raise await self._refusal(exc, outputs, amounts, subtract, rate) from exc
        try:
            paid = await self._check_outputs(signed, outputs, amounts)
        except BaseException:
            await self._unlock(_inputs(signed))
            raise
        return PreparedTx(
            txid=Transaction.from_string(signed).txid().hex(),
            raw=signed,
            fee=fee,
            fee_currency=self.coin,
            unbatched_fee=self._coins(rate, SINGLE_PAYOUT_VBYTES * payout_count),
            output_amounts=tuple(paid) if subtract else (),
        )

    def _recipients(self, outputs: list[Output], amounts: list[Decimal]) -> list[dict[str, str]]:
        # An array of one-key objects, which keeps the batch's order on every node version.
        return [{o.address: fmt(a)} for o, a in zip(outputs, amounts, strict=True)]

    async def _fund_psbt(
        self, outputs: list[Output], amounts: list[Decimal], subtract: list[int], rate: Decimal
    ) -> tuple[str, Decimal]:
        options: dict[str, Any] = {
            "fee_rate": fmt(rate),
            "replaceable": self.replaceable,
            "lockUnspents": True,
            "changePosition": len(outputs),
        }
        if subtract:
            options["subtractFeeFromOutputs"] = subtract
        funded = await self.wallet.call(
            "walletcreatefundedpsbt", [], self._recipients(outputs, amounts), 0, options
        )
        decoded = await self.wallet.call("decodepsbt", funded["psbt"])
        inputs = [(i["txid"], int(i["vout"])) for i in decoded["tx"]["vin"]]
        try:
            processed = await self.wallet.call("walletprocesspsbt", funded["psbt"], True, "ALL")
            final = await self.wallet.call("finalizepsbt", processed["psbt"], True)
            if not final.get("complete") or not final.get("hex"):
                raise ChainUnavailable(
                    f"wallet {self.wallet_name!r} could not sign the batch (locked wallet?)"
                )
            signed_psbt = await self.wallet.call("decodepsbt", processed["psbt"])
            # the fee as the signed PSBT accounts for it: inputs minus outputs
            fee = Decimal(signed_psbt.get("fee", funded["fee"]))
            if signed_psbt["tx"]["txid"] != Transaction.from_string(final["hex"]).txid().hex():
                raise RuntimeError("finalized transaction differs from the signed PSBT")
        except BaseException:
            await self._unlock(inputs)
            raise
        return str(final["hex"]), fee

    async def _fund_raw(
        self, outputs: list[Output], amounts: list[Decimal], subtract: list[int], rate: Decimal
    ) -> tuple[str, Decimal]:
        """For nodes without PSBT (Dogecoin Core 1.14): createrawtransaction,
        fundrawtransaction, then the wallet signs."""
        recipients = {o.address: fmt(a) for o, a in zip(outputs, amounts, strict=True)}
        unfunded = await self.node.call("createrawtransaction", [], recipients)
        options: dict[str, Any] = {
            "feeRate": fmt(rate * 1000 / SATS),
            "lockUnspents": True,
            "changePosition": len(outputs),
        }
        if subtract:
            options["subtractFeeFromOutputs"] = subtract
        if self.replaceable:
            options["replaceable"] = True
        funded = await self.wallet.call("fundrawtransaction", unfunded, options)
        try:
            try:
                signed = await self.wallet.call("signrawtransactionwithwallet", funded["hex"])
            except RpcError as exc:
                if exc.code != rpc.METHOD_NOT_FOUND:
                    raise
                signed = await self.wallet.call("signrawtransaction", funded["hex"])
            if not signed.get("complete"):
                raise ChainUnavailable(
                    f"wallet {self.wallet_name!r} could not sign the batch (locked wallet?)"
                )
        except BaseException:
            await self._unlock(_inputs(funded["hex"]))
            raise
        return str(signed["hex"]), Decimal(funded["fee"])

    async def _check_outputs(
        self, signed: str, outputs: list[Output], amounts: list[Decimal]
    ) -> list[Decimal]:
        """What each output pays, after making sure the node built what was asked: the
        batch's outputs first, in order, to the right addresses, then at most the change."""
        vout = (await self.node.call("decoderawtransaction", signed))["vout"]
        if len(vout) not in (len(outputs), len(outputs) + 1):
            raise RuntimeError(f"the node built {len(vout)} outputs for {len(outputs)}")
        paid = []
        for o, asked, out in zip(outputs, amounts, vout, strict=False):
            value = Decimal(out["value"])
            address = _address(out["scriptPubKey"])
            if address is None or self.validate_address(address) != self.validate_address(
                o.address
            ):
                raise RuntimeError(f"output {out['n']} pays {address}, not {o.address}")
            if value > asked or (not o.subtract_fee and value != asked) or value <= 0:
                raise RuntimeError(f"output {out['n']} pays {value}, asked {asked}")
            paid.append(value)
        return paid

    async def _refusal(
        self,
        exc: RpcError,
        outputs: list[Output],
        amounts: list[Decimal],
        subtract: list[int],
        rate: Decimal,
    ) -> Exception:
        """The node would not build the batch: name the outputs to blame when it can."""
        text = exc.message.lower()
        found = _INVALID_ADDRESS.search(exc.message)
        if found:
            refused = frozenset(i for i, o in enumerate(outputs) if o.address == found.group(1))
            if refused:
                return OutputRejected(refused, f"the node refuses address {found.group(1)}")
        if "too small" in text or "dust" in text:
            small = await self._dust(outputs, amounts, subtract, rate)
            if not small and subtract:
                # The fee took more than estimated: blame the smallest of those paying it.
                i = min(subtract, key=lambda i: amounts[i])
                small = {
                    i: f"amount {fmt(amounts[i])} {self.coin} is too small to pay its network fee"
                }
            if small:
                return OutputRejected(frozenset(small), "; ".join(sorted(set(small.values()))))
        if "insufficient funds" in text or exc.code == rpc.WALLET_INSUFFICIENT_FUNDS:
            return ChainUnavailable(f"hot wallet {self.wallet_name!r}: insufficient funds")
        return ChainUnavailable(str(exc))

    async def _dust(
        self, outputs: list[Output], amounts: list[Decimal], subtract: list[int], rate: Decimal
    ) -> dict[int, str]:
        """Outputs under the node's dust threshold, after their estimated fee share."""
        vbytes = TX_OVERHEAD_VBYTES + LEGACY_INPUT_VBYTES + OUTPUT_VBYTES * (len(outputs) + 1)
        share = (self._coins(rate, vbytes) / len(subtract)) if subtract else Decimal(0)
        found: dict[int, str] = {}
        for i, (o, amount) in enumerate(zip(outputs, amounts, strict=True)):
            net = amount - share if o.subtract_fee else amount
            if net < await self._dust_threshold(o.address):
                found[i] = f"amount {fmt(amount)} {self.coin} is under the dust limit" + (
                    " after its network fee" if o.subtract_fee else ""
                )
        return found

    async def _dust_threshold(self, address: str) -> Decimal:
        if self.dust_limit is not None:
            return self.dust_limit
        info = await self.node.call("validateaddress", address)
        script = bytes.fromhex(info.get("scriptPubKey", ""))
        witness = (
            len(script) in (22, 34)
            and script[0] in (0, *range(0x51, 0x61))
            and script[1] == len(script) - 2
        )
        # Bitcoin Core's GetDustThreshold: the output and the input that would spend it
        size = 8 + 1 + len(script) + (32 + 4 + 1 + 107 // 4 + 4 if witness else 148)
        return self._coins(self.dust_relay_fee, size)

    # --- coins locked for a batch ------------------------------------------------------

    @_unknown_on_node_error
    async def release(self, tx: PreparedTx) -> None:
        await self._unlock(_inputs(tx.raw))

    async def _unlock(self, inputs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """Unlock those of `inputs` the wallet holds locked (an unlock of a coin that is
        not locked is an error on the node)."""
        locked = {(c["txid"], int(c["vout"])) for c in await self.wallet.call("listlockunspent")}
        mine = [c for c in inputs if c in locked]
        if mine:
            try:
                await self.wallet.call(
                    "lockunspent", True, [{"txid": t, "vout": v} for t, v in mine]
                )
            except RpcError as exc:
                if exc.code != rpc.INVALID_PARAMETER:
                    raise ChainUnavailable(str(exc)) from exc
                for t, v in mine:  # one was unlocked meanwhile: the others one by one
                    try:
                        await self.wallet.call("lockunspent", True, [{"txid": t, "vout": v}])
                    except RpcError as one:
                        if one.code != rpc.INVALID_PARAMETER:
                            raise ChainUnavailable(str(one)) from one
        return mine

    @_unknown_on_node_error
    async def unlock_unrecorded(self, recorded: Iterable[PreparedTx]) -> list[tuple[str, int]]:
        """Unlock every coin the wallet holds locked except the inputs of `recorded`.

        For a worker that died after `prepare` locked coins but before its batch was
        recorded: those coins stay locked until the node restarts. The caller passes
        every batch of this wallet that is recorded and not final (prepared or
        broadcast), and must hold the wallet's lock (`Database.wallet_lock`), under
        which every `prepare` of this wallet runs: so no batch is between `prepare`
        and its record, and every locked coin that is not an input of `recorded` belongs
        to a batch that will never be recorded."""
        keep = {c for tx in recorded for c in _inputs(tx.raw)}
        locked = [(c["txid"], int(c["vout"])) for c in await self.wallet.call("listlockunspent")]
        return await self._unlock([c for c in locked if c not in keep])

    # --- sending and following ---------------------------------------------------------

    @_unknown_on_node_error
    async def broadcast(self, tx: PreparedTx) -> None:
        try:
            await self.node.call("sendrawtransaction", tx.raw)
            return
        except RpcError as exc:
            text = exc.message.lower()
            if exc.code == rpc.VERIFY_ALREADY_IN_CHAIN or any(k in text for k in _KNOWN):
                return
            if any(k in text for k in _TRANSIENT):
                raise ChainUnavailable(f"broadcast refused for now: {exc.message}") from exc
            if any(k in text for k in _SPENT):
                await self._spent_inputs(tx, exc)
                return
            if exc.code in (rpc.VERIFY_ERROR, rpc.VERIFY_REJECTED, rpc.DESERIALIZATION_ERROR):
                raise Rejected(exc.message) from exc
            raise ChainUnavailable(str(exc)) from exc

    async def _spent_inputs(self, tx: PreparedTx, exc: RpcError) -> None:
        """The node says the inputs are gone. If the wallet has this very transaction (in
        the mempool or mined: its own spending), it was broadcast. If another transaction
        spent them, this is not a definitive rejection: it may be this batch replaced
        (a fee bump) or already relayed before; the batch is handed to `status`, which
        reports it conflicted, and it goes to needs_review. Parents the node does not
        have yet: try again later."""
        wtx = await self._wallet_tx(tx.txid)
        if wtx is not None and int(wtx["confirmations"]) > 0:
            return
        if await self._in_mempool(tx.txid):
            return
        if await self._inputs_state(tx) == "spent":
            return
        raise ChainUnavailable(f"broadcast: inputs not available yet: {exc.message}")

    @_unknown_on_node_error
    async def status(self, tx: PreparedTx) -> TxState:
        own = await self._own_state(tx)
        if own is not None:
            return own
        state = await self._inputs_state(tx)
        if state == "spent":
            # The look at the transaction itself came first: if it was mined in between
            # (it left the mempool for a block), it is what spent its inputs. Only if it
            # is still nowhere was it another transaction.
            return await self._own_state(tx) or TxState("conflicted")
        # Its coins are still there (or its parents are missing): the chain does not have
        # it, and the identical signed transaction may be sent again.
        return TxState("unknown")

    async def _own_state(self, tx: PreparedTx) -> TxState | None:
        """What the wallet and the mempool say of the transaction itself; None when
        neither has it."""
        wtx = await self._wallet_tx(tx.txid)
        if wtx is not None:
            confirmations = int(wtx["confirmations"])
            if confirmations > 0:
                return TxState("mined", confirmations)
            if confirmations < 0:
                return TxState("conflicted")  # a conflicting transaction was mined
            if any(d.get("abandoned") for d in wtx.get("details", [])):
                return TxState("dropped")  # the operator abandoned it: a human decides
        if await self._in_mempool(tx.txid):
            return TxState("mempool")
        return None

    async def _wallet_tx(self, txid: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self.wallet.call("gettransaction", txid)
            return found
        except RpcError as exc:
            if exc.code == rpc.INVALID_ADDRESS_OR_KEY:
                return None
            raise ChainUnavailable(str(exc)) from exc

    async def _in_mempool(self, txid: str) -> bool:
        try:
            await self.node.call("getmempoolentry", txid)
            return True
        except RpcError as exc:
            if exc.code == rpc.INVALID_ADDRESS_OR_KEY:
                return False
            raise ChainUnavailable(str(exc)) from exc

    async def _inputs_state(self, tx: PreparedTx) -> str:
        """ "unspent": every input is still there; "spent": one was spent (by a
        transaction that is not `tx`, as the callers checked); "missing": one's parent
        is unknown to the node (e.g. an unconfirmed parent lost from the mempool)."""
        try:
            inputs = _inputs(tx.raw)
        except ValueError:
            return "missing"
        missing = False
        for txid, vout in inputs:
            if await self.node.call("gettxout", txid, vout, True) is not None:
                continue
            parent = await self._wallet_tx(txid)
            if (parent is not None and int(parent["confirmations"]) > 0) or await self._in_mempool(
                txid
            ):
                return "spent"
            missing = True
        return "missing" if missing else "unspent"


def _inputs(raw: str) -> list[tuple[str, int]]:
    try:
        tx = Transaction.from_string(raw)
    except Exception as exc:
        raise ValueError(f"not a transaction: {exc}") from exc
    return [(i.txid.hex(), int(i.vout)) for i in tx.vin]


def _address(script_pubkey: dict[str, Any]) -> str | None:
    if "address" in script_pubkey:
        return str(script_pubkey["address"])
    addresses = script_pubkey.get("addresses") or []
    return str(addresses[0]) if len(addresses) == 1 else None


def _script_type(unspent: dict[str, Any]) -> str:
    script = str(unspent.get("scriptPubKey", ""))
    return "witness_v0_keyhash" if script.startswith("0014") and len(script) == 44 else ""
