"""TRON through java-tron's HTTP API (a FullNode, or TronGrid): TRX and TRC-20 payouts.

    [networks.TRON]
    adapter = "tron"
    url = "https://api.trongrid.io"          # or a FullNode's http port (8090)
    api_key_env = "PAYOUTD_TRONGRID_KEY"      # TronGrid's TRON-PRO-API-KEY, if any
    keystore = "/etc/payoutd/tron.json"       # an Ethereum-format keystore (JSON v3) ...
    passphrase_env = "PAYOUTD_TRON_PASSPHRASE"
    # private_key_env = "PAYOUTD_TRON_KEY"    # ... or the hex key in the environment
    address = "T..."                          # optional: refuse to start on another key
    confirmations = 20                        # 19 blocks: solidified (2/3 of 27 SRs)
    fee_limit = "30"                          # TRX a TRC-20 transfer may burn at most
    # contracts = { USDT = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf" }   # Nile's USDT

Transactions are built and signed here, never by the node: raw_data from the latest
block (TAPOS reference, expiration), protobuf-encoded locally (transaction.py), txID =
sha256 of those bytes, signed with secp256k1. A batch is one transaction per output (an
account chain), recorded before it is broadcast like every batch.

TRON has no nonces. A transaction is unique by its reference block, expiration and
timestamp, and can be included only until its expiration (the node refuses it once the
head block's time has passed it). So after a crash the recorded signed transactions are
broadcast again, unchanged, for as long as they can still be mined; one that expired
without being mined never will be, and its batch is reported `dropped` (a human
reviews it: DESIGN §1.3). Nothing here ever rebuilds a recorded transaction.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import certifi
import httpx
import structlog

from payoutd.chains.addressing import validate_address, validate_txid
from payoutd.chains.config import ChainsFileError, NetworkConfig
from payoutd.chains.tron import transaction as tx_codec
from payoutd.chains.tron.wallet import HotWallet
from payoutd.domain.assets import NETWORKS, Asset
from payoutd.domain.batching import Output
from payoutd.domain.money import ROUND_CREDIT, fmt, quantize
from payoutd.services.ports import ChainUnavailable, OutputRejected, PreparedTx, Rejected, TxState

log = structlog.get_logger("payoutd.chains.tron")

SUN: Final = 6  # 1 TRX = 10**6 sun
# Broadcast answers that mean this node refused the transaction and did not pool it
# (java-tron GrpcAPI.Return.response_code). Any other failure code (SERVER_BUSY,
# NO_CONNECTION, NOT_ENOUGH_EFFECTIVE_CONNECTION, OTHER_ERROR, ...) leaves the outcome
# open: the same transaction is offered again later.
REFUSED: Final = frozenset(
    {
        "SIGERROR",
        "CONTRACT_VALIDATE_ERROR",
        "CONTRACT_EXE_ERROR",
        "BANDWITH_ERROR",
        "TAPOS_ERROR",
        "TOO_BIG_TRANSACTION_ERROR",
        "TRANSACTION_EXPIRATION_ERROR",
    }
)
MAX_FEE_LIMIT_TRX: Final = Decimal(15000)  # the network's cap on fee_limit
MAX_EXPIRATION_SECONDS: Final = 24 * 3600  # java-tron refuses expirations further out
# A node whose head block is older than this is syncing or stuck: transactions built on
# it would expire (by the network's time) before they could be mined.
MAX_HEAD_LAG_SECONDS: Final = 120
OPTIONS: Final = frozenset(
    {
        "keystore",
        "passphrase_env",
        "private_key_env",
        "api_key_env",
        "address",
        "trx_fee",
        "token_fee",
        "bandwidth_fee",
        "fee_limit",
        "expiration_seconds",
        "ref_block_depth",
        "timeout_seconds",
        "contracts",
    }
)


@dataclass(frozen=True, slots=True)
class Fees:
    """What payouts are charged and what the hot wallet may burn, all configurable.

    TRON burns TRX for bandwidth (bytes) and, for contract calls, energy; staked TRX pays
    in kind. A TRX transfer costs about 0.27 TRX of bandwidth, and 1.1 TRX more when the
    recipient's account does not exist yet: `trx_fee` (default 1.1) is charged per TRX
    payout and bounds what one TRX transfer burns. A TRC-20 transfer burns up to its
    `fee_limit` of energy (USDT: ~65,000 energy to a holder, ~130,000 to a new one, at
    100 sun each: 6.5 to 13 TRX unstaked) plus `bandwidth_fee` (~0.35 TRX). A token
    payout cannot be charged in TRX, so it is charged `token_fee` in the token itself
    (default 1 USDT, what exchanges ask for a TRC-20 withdrawal; an operator who stakes
    TRX for energy pays far less, one who burns pays more: set it to your cost)."""

    trx_transfer: Decimal = Decimal("1.1")
    bandwidth: Decimal = Decimal("0.35")
    fee_limit: Decimal = Decimal("30")
    token: Decimal = Decimal("1")


@dataclass(frozen=True, slots=True)
class Block:
    number: int
    block_id: str
    timestamp: int  # ms

    @property
    def ref_block_bytes(self) -> str:  # bytes 6..8 of the id: the number's low 2 bytes
        return self.block_id[12:16]

    @property
    def ref_block_hash(self) -> str:  # bytes 8..16 of the id
        return self.block_id[16:32]


class TronChain:
    mode = "live"

    def __init__(
        self,
        network: str,
        url: str,
        wallet: HotWallet,
        *,
        confirmations: int,
        batch_window_seconds: float | None,
        fees: Fees | None = None,
        api_key: str | None = None,
        expiration_seconds: int = 600,
        ref_block_depth: int = 19,
        timeout: float = 10.0,
        contracts: dict[str, str] | None = None,
    ) -> None:
        self.network = network
        self.url = url.rstrip("/")
        self.wallet = wallet
        self.confirmations = confirmations
        self.batch_window_seconds = batch_window_seconds
        self.fees = fees or Fees()
        self.expiration_seconds = expiration_seconds
        self.ref_block_depth = ref_block_depth
        self.timeout = timeout
        self.contracts = dict(contracts or {})
        self._api_key = api_key
        self._last_timestamp = 0
        self._tls: ssl.SSLContext | None = None

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> TronChain:
        unknown = set(cfg.options) - OPTIONS
        if unknown:
            raise ChainsFileError(f"{cfg.network}: unknown keys {', '.join(sorted(unknown))}")
        if not cfg.url:
            raise ChainsFileError(f"{cfg.network}: url is required (a FullNode or TronGrid)")
        opts = cfg.options
        default = Fees()
        fees = Fees(
            trx_transfer=_decimal(cfg, "trx_fee", default.trx_transfer),
            bandwidth=_decimal(cfg, "bandwidth_fee", default.bandwidth),
            fee_limit=_decimal(cfg, "fee_limit", default.fee_limit),
            token=_decimal(cfg, "token_fee", default.token),
        )
        if fees.fee_limit > MAX_FEE_LIMIT_TRX:
            raise ChainsFileError(f"{cfg.network}: fee_limit is at most {MAX_FEE_LIMIT_TRX} TRX")
        expiration = _integer(cfg, "expiration_seconds", 600, 10, MAX_EXPIRATION_SECONDS)
        depth = _integer(cfg, "ref_block_depth", 19, 0, 10_000)
        timeout = _integer(cfg, "timeout_seconds", 10, 1, 300)
        contracts = opts.get("contracts", {})
        if not isinstance(contracts, dict):
            raise ChainsFileError(f"{cfg.network}: contracts is a table CURRENCY = address")
        for currency, address in contracts.items():
            try:
                tx_codec.to_hex_address(str(address))
            except ValueError:
                raise ChainsFileError(
                    f"{cfg.network}: contracts.{currency} is not a TRON address"
                ) from None
        return cls(
            cfg.network,
            cfg.url,
            HotWallet.from_config(cfg),
            confirmations=cfg.confirmations or NETWORKS[cfg.network].confirmations,
            batch_window_seconds=cfg.batch_window_seconds,
            fees=fees,
            api_key=cfg.secret("api_key"),
            expiration_seconds=expiration,
            ref_block_depth=depth,
            timeout=float(timeout),
            contracts={str(k).upper(): str(v) for k, v in contracts.items()},
        )

    def __repr__(self) -> str:
        return f"TronChain({self.network}, {self.url}, wallet={self.wallet.address})"

    # --- what the executor calls -------------------------------------------------------

    def validate_address(self, address: str) -> str:
        return validate_address(self.network, address)

    def validate_txid(self, txid: str) -> str:
        return validate_txid(self.network, txid)

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        """TRON has no fee market: priority changes nothing."""
        return self.fees.token if self._contract(asset) else self.fees.trx_transfer

    def _tx_fee(self, asset: Asset) -> Decimal:
        """The most TRX one transfer of `asset` can burn."""
        if self._contract(asset):
            return self.fees.fee_limit + self.fees.bandwidth
        return self.fees.trx_transfer

    def _contract(self, asset: Asset) -> str | None:
        return self.contracts.get(asset.currency, asset.contract)

    async def shortfall(self, asset: Asset, outputs: list[Output]) -> str | None:
        fee = self._tx_fee(asset)
        contract = self._contract(asset)
        async with self._client() as client:
            trx = await self._trx_balance(client)
            tokens = (
                await self._token_balance(client, contract, asset.decimals) if contract else None
            )
        who = f"hot wallet {self.wallet.address}"
        if contract:
            assert tokens is not None
            amount = sum((o.amount for o in outputs), Decimal(0))
            if tokens < amount:
                return (
                    f"{who} holds {_show(tokens)} {asset.currency}, the batch pays {_show(amount)}"
                )
            fees = fee * len(outputs)
            if trx < fees:
                return (
                    f"{who} holds {_show(trx)} TRX, the batch's {len(outputs)} transfers "
                    f"may burn up to {_show(fees)} TRX"
                )
            return None
        # a fee-subtracting output already holds its own fee
        need = sum((o.amount if o.subtract_fee else o.amount + fee for o in outputs), Decimal(0))
        if trx < need:
            return f"{who} holds {_show(trx)} TRX, the batch needs up to {_show(need)} TRX"
        return None

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
        # next_sequence is unused: TRON has no nonces (see the module's docstring)
        fee = self._tx_fee(asset)
        contract = self._contract(asset)
        amounts = [quantize(o.amount, asset.decimals, ROUND_CREDIT) for o in outputs]
        subtracting = any(o.subtract_fee for o in outputs)
        if subtracting:  # only TRX payouts subtract: a token cannot pay a TRX fee
            amounts = [
                a - fee if o.subtract_fee else a for o, a in zip(outputs, amounts, strict=True)
            ]
        refused: dict[int, str] = {}
        for i, (o, amount) in enumerate(zip(outputs, amounts, strict=True)):
            if amount <= 0:
                refused[i] = (
                    f"amount {fmt(amount)} {asset.currency} is nothing once the "
                    f"network fee is taken"
                )
            elif contract is None and o.address == self.wallet.address:
                refused[i] = "the hot wallet cannot send TRX to itself"
        if refused:
            raise OutputRejected(frozenset(refused), "; ".join(sorted(set(refused.values()))))
        async with self._client() as client:
            head = await self._block(client, None)
            lag = time.time() - head.timestamp / 1000
            if lag > MAX_HEAD_LAG_SECONDS:
                raise ChainUnavailable(f"the node's head block {head.number} is {lag:.0f} s old")
            ref = (
                head
                if self.ref_block_depth == 0
                else await self._block(client, max(head.number - self.ref_block_depth, 0))
            )
        # Valid until this much chain time has passed; the node judges by its head block.
        expiration = head.timestamp + self.expiration_seconds * 1000
        signed: list[dict[str, Any]] = []
        txids: list[str] = []
        for o, amount in zip(outputs, amounts, strict=True):
            units = int(amount.scaleb(asset.decimals))
            if contract:
                raw = tx_codec.trigger_raw(
                    owner=self.wallet.address,
                    contract=contract,
                    data=tx_codec.trc20_transfer_data(o.address, units),
                    fee_limit=int(self.fees.fee_limit.scaleb(SUN)),
                    ref_block_bytes=ref.ref_block_bytes,
                    ref_block_hash=ref.ref_block_hash,
                    expiration=expiration,
                    timestamp=self._timestamp(),
                )
            else:
                raw = tx_codec.transfer_raw(
                    owner=self.wallet.address,
                    to=o.address,
                    amount_sun=units,
                    ref_block_bytes=ref.ref_block_bytes,
                    ref_block_hash=ref.ref_block_hash,
                    expiration=expiration,
                    timestamp=self._timestamp(),
                )
            raw_hex = tx_codec.encode_raw(raw).hex()
            txid = tx_codec.txid_of(raw_hex)
            txids.append(txid)
            signed.append(
                {
                    "visible": False,
                    "txID": txid,
                    "raw_data": raw,
                    "raw_data_hex": raw_hex,
                    "signature": [self.wallet.sign(bytes.fromhex(txid))],
                }
            )
        log.info(
            "tron.prepared",
            batch_id=batch_id,
            currency=asset.currency,
            txids=txids,
            ref_block=ref.number,
            expiration=expiration,
        )
        return PreparedTx(
            txid=txids[0],
            raw=json.dumps(signed, separators=(",", ":")),
            fee=fee * len(outputs),
            fee_currency="TRX",
            unbatched_fee=fee * payout_count,
            output_txids=tuple(txids),
            output_amounts=tuple(amounts) if subtracting else (),
            sequence_end=None,
        )

    async def release(self, tx: PreparedTx) -> None:
        """Nothing to free: no nonce was taken and nothing was locked."""

    async def broadcast(self, tx: PreparedTx) -> None:
        """Offer every transaction of the batch. Rejected only when the node refused all
        of them and none is on chain; ChainUnavailable when some answer was unclear (the
        batch stays recorded and is offered again). A batch some of whose transactions
        were refused still counts as broadcast: the refused ones are never mined, and
        `status` reports the batch dropped once they expire."""
        signed = json.loads(tx.raw)
        accepted: list[int] = []
        refused: dict[int, str] = {}
        unclear: dict[int, str] = {}
        async with self._client() as client:
            for i, t in enumerate(signed):
                try:
                    answer = await self._post(client, "/wallet/broadcasttransaction", t)
                    code = (
                        "SUCCESS"
                        if answer.get("result") is True
                        else str(answer.get("code", "OTHER_ERROR"))
                    )
                    reason = f"{code}: {_message(answer.get('message'))}"
                    if answer.get("txid") not in (None, t["txID"]):
                        reason += f" (the node computed txid {answer['txid']})"
                    if code in ("SUCCESS", "DUP_TRANSACTION_ERROR"):
                        # DUP: this node has seen it; whether it is pooled or mined, status
                        # tells, and an unmined one is reported once it expires.
                        accepted.append(i)
                    elif code in REFUSED:
                        # Refused now, perhaps because it was mined long ago (expired,
                        # or the balance it spent is gone): a mined one was sent.
                        if await self._info(client, t["txID"]):
                            accepted.append(i)
                        else:
                            refused[i] = reason
                    else:
                        unclear[i] = reason
                except ChainUnavailable as exc:
                    unclear[i] = str(exc)
        for i in accepted:
            log.info("tron.broadcast", txid=signed[i]["txID"])
        if unclear:
            raise ChainUnavailable(
                "; ".join(f"{signed[i]['txID']}: {r}" for i, r in unclear.items())
            )
        if refused and not accepted:
            raise Rejected("; ".join(sorted(set(refused.values()))))
        for i, reason in refused.items():
            log.warning("tron.broadcast_refused", txid=signed[i]["txID"], output=i, reason=reason)

    async def status(self, tx: PreparedTx) -> TxState:
        signed = json.loads(tx.raw)
        async with self._client() as client:
            # The head first: a transaction still unseen after the head passed its
            # expiration can never be mined.
            head = await self._block(client, None)
            infos = [await self._info(client, t["txID"]) for t in signed]
            unseen = [i for i, info in enumerate(infos) if not info]
            if any(head.timestamp >= signed[i]["raw_data"]["expiration"] for i in unseen):
                return TxState("dropped")
            pooled = [await self._pending(client, signed[i]["txID"]) for i in unseen]
        if unseen:
            # "unknown": the node lost one (a restart, another node behind a balancer), and
            # the executor offers the very same transactions again
            return TxState("mempool" if all(pooled) else "unknown")
        confirmations = min(head.number - int(info.get("blockNumber", 0)) + 1 for info in infos)
        failed = frozenset(
            i for i, (t, info) in enumerate(zip(signed, infos, strict=True)) if _failed(t, info)
        )
        return TxState("mined", max(confirmations, 0), failed_outputs=failed)

    # --- the node ----------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        # One client per operation: nothing stays open between the worker's passes. The
        # TLS context (loading the CA bundle takes a while) is made once.
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=certifi.where())
        headers = {"TRON-PRO-API-KEY": self._api_key} if self._api_key else {}
        return httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=self.timeout, verify=self._tls
        )

    async def _post(
        self, client: httpx.AsyncClient, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            response = await client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise ChainUnavailable(f"{path}: {type(exc).__name__} {exc}") from exc
        if response.status_code != 200:
            raise ChainUnavailable(f"{path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise ChainUnavailable(f"{path}: not JSON") from None
        if not isinstance(data, dict):
            raise ChainUnavailable(f"{path}: unexpected answer")
        if "Error" in data:  # java-tron's servlet-level failure
            raise ChainUnavailable(f"{path}: {data['Error']}")
        return data

    async def _block(self, client: httpx.AsyncClient, number: int | None) -> Block:
        body: dict[str, Any] = {"detail": False}
        if number is not None:
            body["id_or_num"] = str(number)
        data = await self._post(client, "/wallet/getblock", body)
        try:
            header = data["block_header"]["raw_data"]
            return Block(
                int(header.get("number", 0)), str(data["blockID"]), int(header["timestamp"])
            )
        except (KeyError, TypeError, ValueError):
            raise ChainUnavailable(f"/wallet/getblock: no block {number or 'head'}") from None

    async def _info(self, client: httpx.AsyncClient, txid: str) -> dict[str, Any]:
        """The transaction's execution record once it is in a block; {} until then."""
        return await self._post(client, "/wallet/gettransactioninfobyid", {"value": txid})

    async def _pending(self, client: httpx.AsyncClient, txid: str) -> bool:
        """Whether the node holds it in its pending pool. A node without this endpoint
        (or down) just means "not known to be pending": offering it again is harmless."""
        try:
            return bool(
                await self._post(client, "/wallet/gettransactionfrompending", {"value": txid})
            )
        except ChainUnavailable:
            return False

    async def _trx_balance(self, client: httpx.AsyncClient) -> Decimal:
        account = await self._post(
            client, "/wallet/getaccount", {"address": self.wallet.address_hex}
        )
        # {} for an account never funded; a zero balance is left out (protobuf default)
        return Decimal(int(account.get("balance", 0))).scaleb(-SUN)

    async def _token_balance(
        self, client: httpx.AsyncClient, contract: str, decimals: int
    ) -> Decimal:
        answer = await self._post(
            client,
            "/wallet/triggerconstantcontract",
            {
                "owner_address": self.wallet.address_hex,
                "contract_address": tx_codec.to_hex_address(contract),
                "function_selector": "balanceOf(address)",
                "parameter": tx_codec.trc20_balance_of_parameter(self.wallet.address),
            },
        )
        result = answer.get("result") or {}
        ret = ((answer.get("transaction") or {}).get("ret") or [{}])[0]
        words = answer.get("constant_result") or []
        if result.get("result") is not True or ret.get("ret") == "FAILED" or not words:
            raise ChainUnavailable(
                f"balanceOf on {contract}: {result.get('code', '')} "
                f"{_message(result.get('message'))}".strip()
            )
        try:
            return Decimal(int(words[0][:64], 16)).scaleb(-decimals)
        except ValueError:
            raise ChainUnavailable(f"balanceOf on {contract}: not a number") from None

    def _timestamp(self) -> int:
        """Milliseconds, strictly increasing: two equal transfers built in the same
        millisecond on the same reference block would otherwise be one transaction."""
        now = time.time_ns() // 1_000_000
        self._last_timestamp = max(now, self._last_timestamp + 1)
        return self._last_timestamp


def _failed(signed: dict[str, Any], info: dict[str, Any]) -> bool:
    """A mined transaction that moved no money: a contract call whose receipt is not
    SUCCESS (REVERT, OUT_OF_ENERGY, ...) or whose transfer() returned false."""
    if info.get("result") == "FAILED":
        return True
    if signed["raw_data"]["contract"][0]["type"] != "TriggerSmartContract":
        return False  # a TRX transfer's receipt has no result: mined means done
    if (info.get("receipt") or {}).get("result") != "SUCCESS":
        return True
    words = info.get("contractResult") or [""]
    try:
        return bool(words[0]) and int(words[0], 16) == 0
    except (TypeError, ValueError):
        return False


def _show(amount: Decimal) -> str:
    """An amount for a human: 1000, not 1000.000000."""
    return fmt(amount.normalize())


def _message(raw: object) -> str:
    """Broadcast messages come hex-encoded (visible=false)."""
    if not isinstance(raw, str):
        return ""
    try:
        return bytes.fromhex(raw).decode("utf-8")
    except ValueError:
        return raw


def _decimal(cfg: NetworkConfig, key: str, default: Decimal) -> Decimal:
    raw = cfg.options.get(key)
    if raw is None:
        return default
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal(-1)
    # TRX and the TRC-20 tokens payoutd knows (USDT) have 6 decimals
    if not value.is_finite() or value < 0 or value.scaleb(SUN) % 1:
        raise ChainsFileError(
            f"{cfg.network}: {key} must be a non-negative amount with at most 6 decimals"
        )
    return value


def _integer(cfg: NetworkConfig, key: str, default: int, low: int, high: int) -> int:
    raw = cfg.options.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ChainsFileError(f"{cfg.network}: {key} must be a whole number in {low}..{high}")
    return raw
