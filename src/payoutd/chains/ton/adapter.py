"""TON through toncenter's v2 HTTP API: TON and jetton payouts from a wallet v4R2.

    [networks.TON]
    adapter = "ton"
    url = "https://toncenter.com/api/v2"
    api_key_env = "PAYOUTD_TONCENTER_KEY"     # toncenter's X-API-Key, if any
    mnemonic_env = "PAYOUTD_TON_MNEMONIC"     # the wallet's 24 words ...
    # secret_key_env = "PAYOUTD_TON_KEY"      # ... or its ed25519 seed, 64 hex digits
    address = "UQ..."                         # optional: refuse to start on another key
    wallet_id = 698983191                     # the v4R2 subwallet id (the default)
    ton_fee = "0.01"                          # TON each TON payout is charged
    jetton_fee = "0.1"                        # what a jetton payout is charged, in the jetton
    jetton_ton = "0.05"                       # TON sent along with each jetton transfer
    forward_ton = "0.000000001"               # of it, what carries the notification
    message_ttl_seconds = 600                 # valid_until of each signed message
    # jettons = { USDT = "EQ..." }            # jetton masters, when not payoutd's own

A batch is a run of external messages to the hot wallet, each carrying up to four
transfers (what a v4 wallet takes at once) and the next seqno: the batch's seqnos and
signed messages are recorded before anything is sent (the executor records PreparedTx.raw
first). A payout's memo travels as the text comment (for a jetton, as the
forward_payload the recipient's transfer_notification carries). A payout's txid is the
hash of the external message that carries it.

Outcomes are read from the chain, never assumed. The wallet's transaction for a message
is found by the hash of its signed body; which transfers left it, by the outgoing
messages in that transaction; whether each arrived, by the recipient's (or, for a
jetton, both jetton wallets') transaction for that message, found by the message's lt.
A bounced transfer is a failed output: the money came back. A seqno used by a message
that is not ours is `conflicted`, and a message whose valid_until passed while its seqno
was still free can never be applied: `dropped`; both go to a human. Sending a recorded
message again is always safe: the wallet accepts a seqno once.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import certifi
import httpx
import structlog
from pytoniq_core.boc import begin_cell
from pytoniq_core.boc.address import Address
from pytoniq_core.boc.cell import Cell
from pytoniq_core.tlb.transaction import Transaction

from payoutd.chains.addressing import validate_address, validate_txid
from payoutd.chains.config import ChainsFileError, NetworkConfig
from payoutd.chains.ton import wallet as ton_wallet
from payoutd.chains.ton.wallet import HotWallet, Internal
from payoutd.domain.assets import NETWORKS, Asset
from payoutd.domain.batching import Output
from payoutd.domain.money import ROUND_CREDIT, fmt, quantize
from payoutd.services.ports import ChainUnavailable, OutputRejected, PreparedTx, Rejected, TxState

log = structlog.get_logger("payoutd.chains.ton")

NANO: Final = 9  # 1 TON = 10**9 nanotons
MASTERCHAIN_SHARD: Final = "-9223372036854775808"
# An external message no block took within this long is sent again (validators keep
# them only briefly; a block comes every few seconds)
RESEND_SECONDS: Final = 30.0
HISTORY_PAGE: Final = 50
MAX_HISTORY_PAGES: Final = 40  # how far back a message is looked for (2000 transactions)
OPTIONS: Final = frozenset(
    {
        "api_key_env",
        "mnemonic_env",
        "secret_key_env",
        "address",
        "wallet_id",
        "ton_fee",
        "jetton_fee",
        "jetton_ton",
        "forward_ton",
        "message_ttl_seconds",
        "timeout_seconds",
        "jettons",
    }
)


@dataclass(frozen=True, slots=True)
class Fees:
    """What payouts are charged, all configurable. A wallet transfer costs a few
    thousandths of a TON (gas, the import of the external message, forwarding): `ton_fee`
    (0.01) is charged per TON payout. A jetton transfer sends `jetton_ton` (0.05) along to
    pay the jetton wallets' gas and the recipient's jetton wallet's deployment, the rest
    coming back as excesses; the payout is charged `jetton_fee` in the jetton itself."""

    ton: Decimal = Decimal("0.01")
    jetton: Decimal = Decimal("0.1")
    jetton_ton: Decimal = Decimal("0.05")
    forward_ton: Decimal = Decimal("0.000000001")  # with the notification and its comment


class TonChain:
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
        message_ttl: int = 600,
        timeout: float = 10.0,
        jettons: dict[str, str] | None = None,
    ) -> None:
        self.network = network
        self.url = url.rstrip("/")
        self.wallet = wallet
        self.confirmations = confirmations
        self.batch_window_seconds = batch_window_seconds
        self.fees = fees or Fees()
        self.message_ttl = message_ttl
        self.timeout = timeout
        self.jettons = dict(jettons or {})
        self._api_key = api_key
        self._tls: ssl.SSLContext | None = None
        self._jetton_wallets: dict[str, str] = {}
        # body hash -> when this process last sent it (time.monotonic())
        self._sent: dict[str, float] = {}

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> TonChain:
        unknown = set(cfg.options) - OPTIONS
        if unknown:
            raise ChainsFileError(f"{cfg.network}: unknown keys {', '.join(sorted(unknown))}")
        if not cfg.url:
            raise ChainsFileError(f"{cfg.network}: url is required (toncenter's v2 API)")
        default = Fees()
        fees = Fees(
            ton=_decimal(cfg, "ton_fee", default.ton),
            jetton=_decimal(cfg, "jetton_fee", default.jetton),
            jetton_ton=_decimal(cfg, "jetton_ton", default.jetton_ton),
            forward_ton=_decimal(cfg, "forward_ton", default.forward_ton),
        )
        jettons = cfg.options.get("jettons", {})
        if not isinstance(jettons, dict):
            raise ChainsFileError(f"{cfg.network}: jettons is a table CURRENCY = master address")
        for currency, master in jettons.items():
            try:
                validate_address(cfg.network, str(master))
            except ValueError:
                raise ChainsFileError(
                    f"{cfg.network}: jettons.{currency} is not a TON address"
                ) from None
        return cls(
            cfg.network,
            cfg.url,
            HotWallet.from_config(cfg),
            confirmations=cfg.confirmations or NETWORKS[cfg.network].confirmations,
            batch_window_seconds=cfg.batch_window_seconds,
            fees=fees,
            api_key=cfg.secret("api_key"),
            message_ttl=_integer(cfg, "message_ttl_seconds", 600, 30, 24 * 3600),
            timeout=float(_integer(cfg, "timeout_seconds", 10, 1, 300)),
            jettons={str(k).upper(): str(v) for k, v in jettons.items()},
        )

    def __repr__(self) -> str:
        return f"TonChain({self.network}, {self.url}, wallet={self.wallet.address})"

    # --- what the executor calls -------------------------------------------------------

    def validate_address(self, address: str) -> str:
        return validate_address(self.network, address)

    def validate_txid(self, txid: str) -> str:
        return validate_txid(self.network, txid)

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        """TON has no fee market: priority changes nothing."""
        return self.fees.jetton if self._master(asset) else self.fees.ton

    def _ton_per_output(self, asset: Asset) -> Decimal:
        """The most TON one transfer of `asset` takes from the hot wallet besides its value."""
        if self._master(asset):
            return self.fees.jetton_ton + self.fees.ton
        return self.fees.ton

    def _master(self, asset: Asset) -> str | None:
        return self.jettons.get(asset.currency, asset.contract)

    async def shortfall(self, asset: Asset, outputs: list[Output]) -> str | None:
        master = self._master(asset)
        async with self._client() as client:
            info = await self._get(client, "getAddressInformation", address=self.wallet.address)
            ton = _nanos(info.get("balance"))
            jettons = await self._jetton_balance(client, master, asset) if master else None
        who = f"hot wallet {self.wallet.address}"
        per_output = self._ton_per_output(asset)
        if master:
            assert jettons is not None
            amount = sum((o.amount for o in outputs), Decimal(0))
            if jettons < amount:
                return (
                    f"{who} holds {_show(jettons)} {asset.currency}, the batch pays {_show(amount)}"
                )
            need = per_output * len(outputs)
            if ton < need:
                return (
                    f"{who} holds {_show(ton)} TON, the batch's {len(outputs)} jetton "
                    f"transfers take up to {_show(need)} TON"
                )
            return None
        need = sum(
            (o.amount if o.subtract_fee else o.amount + per_output for o in outputs), Decimal(0)
        )
        if ton < need:
            return f"{who} holds {_show(ton)} TON, the batch needs up to {_show(need)} TON"
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
        master = self._master(asset)
        fee = self.fees.ton
        amounts = [quantize(o.amount, asset.decimals, ROUND_CREDIT) for o in outputs]
        subtracting = any(o.subtract_fee for o in outputs)
        if subtracting:  # only TON payouts subtract: a jetton cannot pay a TON fee
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
            elif ton_wallet.same_account(o.address, self.wallet.address):
                refused[i] = "the hot wallet cannot pay itself"
        if refused:
            raise OutputRejected(frozenset(refused), "; ".join(sorted(set(refused.values()))))
        async with self._client() as client:
            info = await self._get(client, "getWalletInformation", address=self.wallet.address)
            jetton_wallet = await self._jetton_wallet(client, master) if master else None
        deployed = info.get("account_state") == "active"
        chain_seqno = int(info.get("seqno", 0)) if deployed else 0
        first = max(chain_seqno, next_sequence or 0)
        after_lt = int((info.get("last_transaction_id") or {}).get("lt", 0))
        internals: list[Internal] = []
        for o, amount in zip(outputs, amounts, strict=True):
            units = int(amount.scaleb(asset.decimals))
            if jetton_wallet is not None:
                body = ton_wallet.jetton_transfer(
                    ton_wallet.new_query_id(),
                    units,
                    o.address,
                    self.wallet.address,
                    int(self.fees.forward_ton.scaleb(NANO)),
                    o.memo,
                )
                internals.append(
                    Internal(jetton_wallet, int(self.fees.jetton_ton.scaleb(NANO)), True, body)
                )
            else:
                internals.append(
                    Internal(o.address, units, ton_wallet.is_bounceable(o.address), _memo(o))
                )
        valid_until = int(time.time()) + self.message_ttl
        messages: list[dict[str, Any]] = []
        for n, start in enumerate(range(0, len(internals), ton_wallet.MAX_MESSAGES)):
            chunk = internals[start : start + ton_wallet.MAX_MESSAGES]
            seqno = first + n
            signed = self.wallet.sign(seqno, valid_until, chunk, deploy=seqno == 0 and not deployed)
            messages.append(
                {
                    "seqno": seqno,
                    "valid_until": valid_until,
                    "boc": signed.boc,
                    "body_hash": signed.body_hash,
                    "hash": signed.message_hash,
                    "outputs": [
                        {"dest": m.dest, "value": m.value, "body": m.body.hash.hex(), "to": o}
                        for m, o in zip(
                            chunk,
                            [x.address for x in outputs[start : start + len(chunk)]],
                            strict=True,
                        )
                    ],
                }
            )
        txids = [m["hash"] for m in messages for _ in m["outputs"]]
        raw = {
            "wallet": self.wallet.address,
            "jetton": jetton_wallet is not None,
            "after_lt": after_lt,
            "messages": messages,
        }
        log.info(
            "ton.prepared",
            batch_id=batch_id,
            currency=asset.currency,
            seqnos=[m["seqno"] for m in messages],
            valid_until=valid_until,
        )
        per_output = self._ton_per_output(asset)
        return PreparedTx(
            txid=txids[0],
            raw=json.dumps(raw, separators=(",", ":")),
            fee=per_output * len(outputs),
            fee_currency="TON",
            unbatched_fee=per_output * payout_count,
            output_txids=tuple(txids),
            output_amounts=tuple(amounts) if subtracting else (),
            sequence_end=messages[-1]["seqno"],
        )

    async def release(self, tx: PreparedTx) -> None:
        """Nothing to free: a seqno is the wallet's, and an unsent message never used it."""

    async def broadcast(self, tx: PreparedTx) -> None:
        """Send every message of the run not yet applied. Rejected only when none of them
        was applied and none ever can be (its seqno taken by another message, or its
        valid_until passed); ChainUnavailable when a send failed otherwise (the same
        messages go out again on the next pass)."""
        raw = json.loads(tx.raw)
        unclear: list[str] = []
        refused: list[str] = []
        applied = 0
        async with self._client() as client:
            snapshot = await self._snapshot(client)
            found = await self._find(client, raw)
            for m in raw["messages"]:
                if m["body_hash"] in found:
                    applied += 1
                    continue
                # A message that can never apply is not sent: its seqno went to another
                # message (whose outcome is not this batch's), or it expired.
                never = self._never(m, snapshot)
                if never is not None:
                    refused.append(never[1])
                    continue
                try:
                    await self._post(client, "sendBoc", {"boc": m["boc"]})
                except ChainUnavailable as exc:
                    unclear.append(f"seqno {m['seqno']}: {exc}")
                    continue
                self._sent[m["body_hash"]] = time.monotonic()
                log.info("ton.broadcast", seqno=m["seqno"], hash=m["hash"])
        if unclear:
            raise ChainUnavailable("; ".join(unclear))
        if refused and not applied and len(refused) == len(raw["messages"]):
            raise Rejected("; ".join(refused))
        for reason in refused:
            log.warning("ton.broadcast_refused", reason=reason)

    async def status(self, tx: PreparedTx) -> TxState:
        raw = json.loads(tx.raw)
        async with self._client() as client:
            snapshot = await self._snapshot(client)
            found = await self._find(client, raw)
            missing = [m for m in raw["messages"] if m["body_hash"] not in found]
            if missing:
                states = [self._never(m, snapshot) for m in missing]
                if any(s is not None and s[0] == "conflicted" for s in states):
                    return TxState("conflicted")
                if any(states):
                    return TxState("dropped")
                # "unknown": not in a block, still valid, and not sent by this process
                # lately (a restart, or a message no validator took): the executor sends
                # the very same messages again, which is always safe
                since = time.monotonic() - RESEND_SECONDS
                recent = all(self._sent.get(m["body_hash"], since) > since for m in missing)
                return TxState("mempool" if recent else "unknown")
            failed: set[int] = set()
            pending = False
            index = 0
            latest = 0  # the lt of the last transaction the batch's transfers took
            for m in raw["messages"]:
                wallet_tx = found[m["body_hash"]]
                latest = max(latest, _lt(wallet_tx))
                out = _out_messages(wallet_tx)
                for expected in m["outputs"]:
                    sent_msg = out.get((_account(expected["dest"]), expected["body"]))
                    if sent_msg is None:
                        failed.add(index)  # the action phase did not send it
                    else:
                        outcome = await self._delivery(client, sent_msg, raw["jetton"])
                        if outcome is None:
                            pending = True
                        else:
                            if not outcome[0]:
                                failed.add(index)
                            latest = max(latest, outcome[1])
                    index += 1
            if pending:
                return TxState("mined", 0)
            confirmations = await self._confirmations(client, latest)
        return TxState("mined", confirmations, failed_outputs=frozenset(failed))

    # --- reading the chain ---------------------------------------------------------------

    async def _find(self, client: httpx.AsyncClient, raw: dict[str, Any]) -> dict[str, Any]:
        """The hot wallet's transactions for this run's messages, by signed body hash,
        searched back to the wallet's last transaction when the run was prepared."""
        wanted = {m["body_hash"] for m in raw["messages"]}
        found: dict[str, Any] = {}
        async for item in self._history(client, raw["wallet"], int(raw["after_lt"])):
            msg = _parse(item).in_msg
            if msg is not None and msg.is_external and msg.body.hash.hex() in wanted:
                found[msg.body.hash.hex()] = item
                if len(found) == len(wanted):
                    break
        return found

    async def _history(
        self, client: httpx.AsyncClient, address: str, after_lt: int
    ) -> AsyncIterator[dict[str, Any]]:
        """An account's transactions newer than `after_lt`, newest first, page by page."""
        cursor: dict[str, str] = {}
        seen: set[str] = set()
        for _ in range(MAX_HISTORY_PAGES):
            page = await self._get(
                client,
                "getTransactions",
                address=address,
                limit=str(HISTORY_PAGE),
                to_lt=str(after_lt),
                archival="true",
                **cursor,
            )
            if not isinstance(page, list):
                raise ChainUnavailable("getTransactions: not a list")
            for item in page:
                lt = str(item["transaction_id"]["lt"])
                if lt not in seen:  # the next page starts with the last one seen
                    seen.add(lt)
                    yield item
            if len(page) < HISTORY_PAGE:
                return
            last = page[-1]["transaction_id"]
            cursor = {"lt": str(last["lt"]), "hash": str(last["hash"])}
        raise ChainUnavailable(f"getTransactions: more than {len(seen)} transactions to read")

    async def _snapshot(self, client: httpx.AsyncClient) -> tuple[int, int]:
        """The wallet's seqno and the chain's time, read BEFORE its history is searched:
        a message applied after this read is then still found in that history, so a
        message missing from it and behind this seqno was truly overtaken."""
        info = await self._get(client, "getWalletInformation", address=self.wallet.address)
        seqno = int(info.get("seqno", 0)) if info.get("account_state") == "active" else 0
        state = await self._get(client, "getAddressInformation", address=self.wallet.address)
        return seqno, int(state.get("sync_utime", 0))

    @staticmethod
    def _never(m: dict[str, Any], snapshot: tuple[int, int]) -> tuple[str, str] | None:
        """Why this message, not in the wallet's history, can never be applied
        ("conflicted": its seqno went to another message; "dropped": it expired), or None
        while it still can."""
        seqno, now = snapshot
        if seqno > int(m["seqno"]):
            return "conflicted", f"seqno {m['seqno']} was taken by another message"
        if now > int(m["valid_until"]):
            return "dropped", f"valid_until {m['valid_until']} passed unapplied"
        return None

    async def _delivery(
        self, client: httpx.AsyncClient, sent: Any, jetton: bool
    ) -> tuple[bool, int] | None:
        """Whether the transfer arrived (False: it bounced) and at which lt, or None while its
        message is still on its way. For a jetton, the hot wallet's jetton wallet and then
        the recipient's jetton wallet must both have taken it."""
        tx = await self._receiving(client, sent)
        if tx is None:
            return None
        parsed = _parse(tx)
        if _bounced(parsed):
            return False, _lt(tx)
        if not jetton:
            return True, _lt(tx)
        forwards = [m for m in parsed.out_msgs if m.is_internal]
        if not forwards:
            return False, _lt(tx)
        second = await self._receiving(client, forwards[0])
        if second is None:
            return None
        return not _bounced(_parse(second)), _lt(second)

    async def _receiving(self, client: httpx.AsyncClient, sent: Any) -> dict[str, Any] | None:
        """The destination's transaction for an internal message, found by the message's
        created_lt (its transaction comes later, at a larger lt)."""
        dest: Address = sent.info.dest
        created_lt = int(sent.info.created_lt)
        src = _account_of(sent.info.src)
        address = dest.to_str(is_user_friendly=False)
        async for item in self._history(client, address, created_lt):
            msg = _parse(item).in_msg
            if (
                msg is not None
                and msg.is_internal
                and int(msg.info.created_lt) == created_lt
                and _account_of(msg.info.src) == src
            ):
                return item
        return None

    async def _confirmations(self, client: httpx.AsyncClient, lt: int) -> int:
        """Masterchain blocks since the one whose logical time holds the last transaction
        (a shard block is committed by that masterchain block or a later one, so this
        may count one block more than a shard-aware count would)."""
        head = await self._get(client, "getMasterchainInfo")
        block = await self._get(
            client, "lookupBlock", workchain="-1", shard=MASTERCHAIN_SHARD, lt=str(lt)
        )
        try:
            return max(int(head["last"]["seqno"]) - int(block["seqno"]) + 1, 1)
        except (KeyError, TypeError, ValueError):
            raise ChainUnavailable("getMasterchainInfo/lookupBlock: no block seqno") from None

    async def _jetton_wallet(self, client: httpx.AsyncClient, master: str) -> str:
        if master not in self._jetton_wallets:
            owner = begin_cell().store_address(self.wallet.address_obj).end_cell()
            answer = await self._run(
                client, master, "get_wallet_address", [["tvm.Slice", _b64(owner)]]
            )
            try:
                cell = Cell.one_from_boc(base64.b64decode(answer[0][1]["bytes"]))
                address = cell.begin_parse().load_address()
            except (IndexError, KeyError, TypeError, ValueError):
                raise ChainUnavailable(f"get_wallet_address on {master}: no address") from None
            self._jetton_wallets[master] = str(address.to_str(is_user_friendly=False))
        return self._jetton_wallets[master]

    async def _jetton_balance(
        self, client: httpx.AsyncClient, master: str, asset: Asset
    ) -> Decimal:
        jw = await self._jetton_wallet(client, master)
        try:
            answer = await self._run(client, jw, "get_wallet_data", [])
        except _NotDeployed:
            return Decimal(0)  # a jetton wallet is deployed by the first jettons it gets
        try:
            return Decimal(int(answer[0][1], 16)).scaleb(-asset.decimals)
        except (IndexError, TypeError, ValueError):
            raise ChainUnavailable(f"get_wallet_data on {jw}: not a balance") from None

    async def _run(
        self, client: httpx.AsyncClient, address: str, method: str, stack: list[list[Any]]
    ) -> list[Any]:
        answer = await self._post(
            client, "runGetMethod", {"address": address, "method": method, "stack": stack}
        )
        if not isinstance(answer, dict):
            raise ChainUnavailable(f"runGetMethod {method}: unexpected answer")
        if answer.get("exit_code") != 0:
            raise _NotDeployed(f"{method} on {address}: exit code {answer.get('exit_code')}")
        return list(answer.get("stack") or [])

    # --- the API ---------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=certifi.where())
        headers = {"X-API-Key": self._api_key} if self._api_key else {}
        return httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=self.timeout, verify=self._tls
        )

    async def _get(self, client: httpx.AsyncClient, method: str, **params: str) -> Any:
        try:
            response = await client.get(f"/{method}", params=params)
        except httpx.HTTPError as exc:
            raise ChainUnavailable(f"{method}: {type(exc).__name__} {exc}") from exc
        return _result(method, response)

    async def _post(self, client: httpx.AsyncClient, method: str, body: dict[str, Any]) -> Any:
        try:
            response = await client.post(f"/{method}", json=body)
        except httpx.HTTPError as exc:
            raise ChainUnavailable(f"{method}: {type(exc).__name__} {exc}") from exc
        return _result(method, response)


class _NotDeployed(ChainUnavailable):
    """A get-method that did not run: the contract is not deployed (or has no such method)."""


def _result(method: str, response: httpx.Response) -> Any:
    try:
        data = response.json()
    except ValueError:
        raise ChainUnavailable(f"{method}: HTTP {response.status_code}, not JSON") from None
    if not isinstance(data, dict) or not data.get("ok"):
        error = data.get("error") if isinstance(data, dict) else None
        raise ChainUnavailable(f"{method}: HTTP {response.status_code} {error or ''}".strip())
    return data.get("result")


def _parse(item: dict[str, Any]) -> Any:
    """A toncenter transaction's own BOC, read with TON's transaction schema: the
    outcome comes from the chain's record, not from the API's JSON summary of it."""
    try:
        cell = Cell.one_from_boc(base64.b64decode(item["data"]))
        return Transaction.deserialize(cell.begin_parse())
    except Exception as exc:  # a malformed BOC from the API: the outcome is unknown
        raise ChainUnavailable(f"getTransactions: unreadable transaction: {exc}") from exc


def _lt(item: dict[str, Any]) -> int:
    try:
        return int(item["transaction_id"]["lt"])
    except (KeyError, TypeError, ValueError):
        raise ChainUnavailable("getTransactions: a transaction without its lt") from None


def _bounced(parsed: Any) -> bool:
    """The transaction sent the value back: its bounce phase ran."""
    bounce = getattr(parsed.description, "bounce", None)
    return bool(bounce is not None and bounce.type_ == "ok")


def _out_messages(wallet_tx: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """The internal messages a wallet transaction sent, by (destination, body hash)."""
    out = {}
    for m in _parse(wallet_tx).out_msgs:
        if m.is_internal:
            out[(_account_of(m.info.dest), m.body.hash.hex())] = m
    return out


def _account(address: str) -> str:
    return _account_of(Address(address))


def _account_of(address: Any) -> str:
    if address is None:
        return ""
    return f"{address.wc}:{address.hash_part.hex()}"


def _memo(o: Output) -> Cell:
    return ton_wallet.comment(o.memo)


def _b64(cell: Cell) -> str:
    return base64.b64encode(cell.to_boc()).decode()


def _nanos(raw: object) -> Decimal:
    try:
        return Decimal(int(str(raw))).scaleb(-NANO)
    except ValueError:
        raise ChainUnavailable("getAddressInformation: no balance") from None


def _show(amount: Decimal) -> str:
    return fmt(amount.normalize())


def _decimal(cfg: NetworkConfig, key: str, default: Decimal) -> Decimal:
    raw = cfg.options.get(key)
    if raw is None:
        return default
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value.scaleb(NANO) % 1:
        raise ChainsFileError(
            f"{cfg.network}: {key} must be a non-negative amount with at most 9 decimals"
        )
    return value


def _integer(cfg: NetworkConfig, key: str, default: int, low: int, high: int) -> int:
    raw = cfg.options.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ChainsFileError(f"{cfg.network}: {key} must be a whole number in {low}..{high}")
    return raw
