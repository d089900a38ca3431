"""EVM chains (ETH, BSC, POLYGON, BASE): the native coin and ERC-20 tokens over JSON-RPC.

    [networks.ETH]
    adapter = "evm"
    url = "http://127.0.0.1:8545"          # or url_env: a URL that embeds an API key
    chain_id = 1
    keystore = "/etc/payoutd/hot-wallet.json"   # an encrypted (geth / eth-account) keyfile
    passphrase_env = "PAYOUTD_ETH_KEYSTORE_PASSPHRASE"
    confirmations = 12
    token_fee = "1"                        # or a table: token_fee = { USDT = "1", DAI = "1" }
    native_gas_limit = 21000
    token_gas_limit = 100000
    min_tip_gwei = "1"
    tip_multipliers = { economy = "1", recommended = "1", high = "1.5", highest = "2" }
    deposit_block_range = 1000             # blocks per eth_getLogs of the funding watch

    [networks.ETH.tokens]                  # contract per currency; on `net = "main"` the
    USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"   # well-known ones are the default

A batch is an ordered run of EIP-1559 transactions from one hot wallet, one per output,
with consecutive nonces. Each is signed here with eth-account; the private key lives in
an encrypted keystore file, is decrypted once when first needed, and is never logged,
stored in the database or shown by repr. The signed run (nonce, hash, raw bytes of each)
is what the executor records before anything is broadcast, so after a crash the very
same transactions, same nonces and same hashes, go out again: a nonce can be used once,
so a payout can be paid at most once even if a transaction is sent many times.

Fees. A native payout is charged gas (21000) x (2 x next base fee + tip), the tip being
the median over recent blocks of an `eth_feeHistory` reward percentile chosen by
`priority`, floored at `min_tip_gwei` and scaled by `tip_multipliers`; that is also the
transaction's maxFeePerGas, so the charge is an upper bound of what the chain takes. A
token payout is charged a flat, configured `token_fee` in the token itself: pricing the
gas in the token would need an ETH/token rate at creation time, and a flat fee is what
hosted providers charge for token withdrawals anyway. The batch fee recorded is the upper
bound (gas limit x maxFeePerGas, summed); what the chain actually takes is lower.

Deposits (off-ramp funding): `deposits()` reads the token contracts' ERC-20 `Transfer`
logs whose recipient (topic 2) is a funding wallet, block ranges bounded by
`deposit_block_range`, only blocks with the network's confirmations.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import structlog
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractLogicError,
    ProviderConnectionError,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import BlockIdentifier, TxParams

from payoutd.chains.addressing import validate_address, validate_txid
from payoutd.chains.config import ChainsFileError, NetworkConfig
from payoutd.domain.assets import ASSETS, NETWORKS, Asset
from payoutd.domain.banking import ChainDeposit
from payoutd.domain.batching import Output
from payoutd.domain.money import ROUND_CREDIT, ROUND_DEBIT, fmt, quantize
from payoutd.services.ports import ChainUnavailable, OutputRejected, PreparedTx, Rejected, TxState

log = structlog.get_logger("payoutd.chains.evm")

FEE_CACHE_SECONDS = 15.0
STALE_FEE_SECONDS = 600.0
GWEI = Decimal(10) ** 9
# eth_feeHistory reward percentile read for each priority
TIP_PERCENTILES: dict[str, int] = {"economy": 10, "recommended": 50, "high": 75, "highest": 90}
DEFAULT_TIP_MULTIPLIERS: dict[str, Decimal] = {
    "economy": Decimal(1),
    "recommended": Decimal(1),
    "high": Decimal("1.5"),
    "highest": Decimal(2),
}
OPTIONS = (
    "chain_id",
    "keystore",
    "passphrase_env",
    "url_env",
    "tokens",
    "token_fee",
    "native_gas_limit",
    "token_gas_limit",
    "min_tip_gwei",
    "tip_multipliers",
    "fee_history_blocks",
    "timeout_seconds",
    "deposit_block_range",
)
# ERC-20 function selectors: the first 4 bytes of keccak("transfer(address,uint256)"), ...
TRANSFER = "a9059cbb"
BALANCE_OF = "70a08231"
DECIMALS = "313ce567"
# keccak("Transfer(address,address,uint256)"): the ERC-20 transfer event's topic 0
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# Answers to eth_sendRawTransaction that mean the node refused the transaction for good
# and kept nothing (geth, erigon, reth, Hardhat/EDR, BSC and Polygon's bor wording). Any
# other error leaves the outcome unknown: the same transaction is sent again later.
# "nonce too high" is not here: it only means an earlier transaction is not out yet.
DEFINITIVE = (
    "insufficient funds",
    "intrinsic gas too low",
    "gas limit",
    "exceeds block gas",
    "nonce too low",
    "replacement transaction underpriced",
    "invalid sender",
    "invalid chain id",
    "chain id",
    "max fee per gas less than block base fee",
    "is too low for the next block",
    "fee cap less than block base fee",
    "transaction underpriced",
    "exceeds the configured cap",
    "oversized data",
    "tip higher than fee cap",
    "max priority fee per gas higher than max fee per gas",
    "invalid transaction",
    "rlp",
    "doesn't have enough funds",
    "signed for another chain",
)


@dataclass(frozen=True, slots=True)
class _Fees:
    max_fee: int  # maxFeePerGas, wei
    tip: int  # maxPriorityFeePerGas, wei


@dataclass(frozen=True, slots=True)
class _Seen:
    mined: bool
    pending: bool
    block: int | None = None
    ok: bool = True


def _word(value: int) -> str:
    return format(value, "064x")


def _address_word(address: str) -> str:
    return _word(int(address, 16))


def _units(amount: Decimal, decimals: int) -> int:
    """An amount in the chain's integer units (wei, or the token's smallest unit)."""
    scaled = quantize(amount, decimals, ROUND_CREDIT).scaleb(decimals)
    return int(scaled)


def _coin(units: int, decimals: int = 18) -> Decimal:
    return Decimal(units).scaleb(-decimals)


class EvmChain:
    mode = "live"

    def __init__(
        self,
        network: str,
        *,
        url: str,
        chain_id: int,
        keystore: Path,
        passphrase: Callable[[], str | None],
        tokens: dict[str, str],
        confirmations: int,
        batch_window_seconds: float | None,
        token_fee: Decimal | dict[str, Decimal] = Decimal(1),
        native_gas_limit: int = 21_000,
        token_gas_limit: int = 100_000,
        min_tip: int = int(GWEI),
        tip_multipliers: dict[str, Decimal] | None = None,
        fee_history_blocks: int = 20,
        timeout_seconds: float = 15.0,
        net: str = "main",
        deposit_block_range: int = 1000,
    ) -> None:
        if NETWORKS[network].family != "evm":
            raise ChainsFileError(f"{network} is not an EVM network")
        self.network = network
        self.native = NETWORKS[network].native
        self.confirmations = confirmations
        self.batch_window_seconds = batch_window_seconds
        self.chain_id = chain_id
        self.keystore = keystore
        self.tokens = {code.upper(): to_checksum_address(addr) for code, addr in tokens.items()}
        self.token_fee = token_fee
        self.native_gas_limit = native_gas_limit
        self.token_gas_limit = token_gas_limit
        self.min_tip = min_tip
        self.tip_multipliers = {**DEFAULT_TIP_MULTIPLIERS, **(tip_multipliers or {})}
        self.fee_history_blocks = fee_history_blocks
        self.timeout_seconds = timeout_seconds
        self.net = net
        # blocks one eth_getLogs covers: hosted nodes refuse wide ranges (often above
        # 1,000 to 10,000 blocks), and a bounded answer keeps each call short
        self.deposit_block_range = deposit_block_range
        self._url = url
        parts = urlsplit(url)
        # what logs and errors may show of the node: never its path or query (API keys)
        self._host = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._passphrase = passphrase
        self._account: LocalAccount | None = None
        self._address: ChecksumAddress | None = None
        self._checked: set[str] = set()  # "chain" and token currencies found as configured
        self._fee_cache: dict[str, tuple[float, _Fees]] = {}  # priority: (monotonic, fees)
        self._unwatched: set[str] = set()  # currencies deposits() warned it cannot watch

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> EvmChain:
        o = cfg.options
        unknown = sorted(set(o) - set(OPTIONS))
        if unknown:
            raise ChainsFileError(f"{cfg.network}: unknown evm options {', '.join(unknown)}")
        multipliers = dict(o.get("tip_multipliers", {}))
        if set(multipliers) - set(TIP_PERCENTILES):
            raise ChainsFileError(
                f"{cfg.network}: tip_multipliers are by priority: {', '.join(TIP_PERCENTILES)}"
            )
        url = cfg.secret("url") or cfg.url
        if not url:
            raise ChainsFileError(f"{cfg.network}: url (or url_env) is required")
        for key in ("chain_id", "keystore", "passphrase_env"):
            if key not in o:
                raise ChainsFileError(f"{cfg.network}: {key} is required")
        raw_fee = o.get("token_fee", "1")
        token_fee: Decimal | dict[str, Decimal] = (
            {k.upper(): Decimal(str(v)) for k, v in raw_fee.items()}
            if isinstance(raw_fee, dict)
            else Decimal(str(raw_fee))
        )
        tokens = o.get("tokens", {})
        if not isinstance(tokens, dict):
            raise ChainsFileError(f"{cfg.network}: tokens must be a table of contracts")
        return cls(
            cfg.network,
            url=url,
            chain_id=int(o["chain_id"]),
            keystore=Path(o["keystore"]),
            # read when the key is first needed, so the variable can be set after start
            passphrase=lambda: cfg.secret("passphrase"),
            tokens={str(k): str(v) for k, v in tokens.items()},
            confirmations=(
                cfg.confirmations
                if cfg.confirmations is not None
                else NETWORKS[cfg.network].confirmations
            ),
            batch_window_seconds=cfg.batch_window_seconds,
            token_fee=token_fee,
            native_gas_limit=int(o.get("native_gas_limit", 21_000)),
            token_gas_limit=int(o.get("token_gas_limit", 100_000)),
            min_tip=int(Decimal(str(o.get("min_tip_gwei", "1"))) * GWEI),
            tip_multipliers={k: Decimal(str(v)) for k, v in multipliers.items()},
            fee_history_blocks=int(o.get("fee_history_blocks", 20)),
            timeout_seconds=float(o.get("timeout_seconds", 15)),
            net=cfg.net,
            deposit_block_range=int(o.get("deposit_block_range", 1000)),
        )

    def __repr__(self) -> str:
        return (
            f"EvmChain(network={self.network!r}, node={self._host!r}, "
            f"chain_id={self.chain_id}, wallet={self._address!r})"
        )

    # -- the node -------------------------------------------------------------------

    @asynccontextmanager
    async def _node(self) -> AsyncIterator[AsyncWeb3[Any]]:
        """A client for one operation. A session per operation: the runtime has no hook
        that would close a pooled one, and web3's HTTP sessions are bound to an event
        loop. Every failure to get an answer becomes ChainUnavailable, with the node
        named by scheme and host only."""
        provider = AsyncHTTPProvider(
            self._url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=self.timeout_seconds)},
            exception_retry_configuration=None,
        )
        try:
            yield AsyncWeb3(provider)
        except aiohttp.ClientResponseError as exc:
            raise ChainUnavailable(f"{self.network} node {self._host}: HTTP {exc.status}") from None
        except (aiohttp.ClientError, TimeoutError, OSError, ProviderConnectionError) as exc:
            raise ChainUnavailable(
                f"{self.network} node {self._host} unreachable: {type(exc).__name__}"
            ) from None
        except Web3RPCError as exc:
            raise ChainUnavailable(
                f"{self.network} node {self._host}: {_rpc_message(exc)}"
            ) from None
        except Web3Exception as exc:  # an answer web3 could not make sense of
            raise ChainUnavailable(
                f"{self.network} node {self._host}: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            await provider.disconnect()

    async def _check_chain(self, w3: AsyncWeb3[Any]) -> None:
        if "chain" in self._checked:
            return
        found = await w3.eth.chain_id
        if found != self.chain_id:
            raise ChainUnavailable(
                f"{self.network} node {self._host} serves chain "
                f"{found}, not the configured chain_id {self.chain_id}"
            )
        self._checked.add("chain")

    # -- the hot wallet -------------------------------------------------------------

    def _keyfile(self) -> dict[str, Any]:
        try:
            data = json.loads(self.keystore.read_text())
        except (OSError, ValueError) as exc:
            raise ChainsFileError(
                f"{self.network}: cannot read keystore {self.keystore}: {type(exc).__name__}"
            ) from None
        if not isinstance(data, dict):
            raise ChainsFileError(f"{self.network}: keystore {self.keystore} is not a keyfile")
        return data

    async def sender(self) -> ChecksumAddress:
        """The hot wallet's address: from the keyfile when it says (no passphrase
        needed to watch), otherwise from the decrypted key."""
        if self._address is None:
            named = self._keyfile().get("address")
            if named:
                self._address = to_checksum_address("0x" + str(named).removeprefix("0x"))
            else:
                self._address = (await self._signer()).address
        return self._address

    async def _signer(self) -> LocalAccount:
        if self._account is None:
            keyfile = self._keyfile()
            passphrase = self._passphrase()
            if passphrase is None:
                raise ChainsFileError(f"{self.network}: passphrase_env is required")

            def unlock() -> LocalAccount:
                # scrypt is slow on purpose: off the event loop. The key goes straight
                # into the account object and never into a variable a traceback shows.
                account: LocalAccount = Account.from_key(Account.decrypt(keyfile, passphrase))
                return account

            try:
                account = await asyncio.to_thread(unlock)
            except Exception:
                # no chained traceback: the decrypting frames hold the passphrase
                raise ChainsFileError(
                    f"{self.network}: cannot decrypt keystore {self.keystore}: wrong "
                    f"passphrase or damaged file"
                ) from None
            named = keyfile.get("address")
            if named and account.address.lower() != "0x" + str(named).lower().removeprefix("0x"):
                raise ChainsFileError(
                    f"{self.network}: keystore {self.keystore} holds the "
                    f"key of another address than it names"
                )
            self._account = account
            self._address = account.address
        return self._account

    # -- assets ---------------------------------------------------------------------

    def validate_address(self, address: str) -> str:
        return validate_address(self.network, address)

    def validate_txid(self, txid: str) -> str:
        return validate_txid(self.network, txid)

    def _contract(self, asset: Asset) -> ChecksumAddress | None:
        """The asset's token contract on this node; None for the native coin. On
        mainnet the well-known contracts are the default; elsewhere the chains file must
        name them (a transfer call to an address with no code succeeds and moves
        nothing)."""
        if asset.contract is None and asset.currency == self.native:
            return None
        if asset.currency in self.tokens:
            return self.tokens[asset.currency]
        if self.net == "main" and asset.contract is not None:
            return to_checksum_address(asset.contract)
        raise ChainsFileError(
            f"{self.network}: no contract configured for "
            f"{asset.currency} ([networks.{self.network}.tokens])"
        )

    async def _check_token(
        self, w3: AsyncWeb3[Any], asset: Asset, contract: ChecksumAddress
    ) -> None:
        if asset.currency in self._checked:
            return
        if not await w3.eth.get_code(contract):
            raise ChainsFileError(f"{self.network}: no contract at {contract} ({asset.currency})")
        try:
            answer = await _call(w3, contract, DECIMALS)
        except (ContractLogicError, BadFunctionCallOutput):
            answer = b""
        decimals = int.from_bytes(answer, "big") if answer else -1
        if decimals != asset.decimals:
            raise ChainsFileError(
                f"{self.network}: {asset.currency} contract {contract} has "
                f"{decimals} decimals, payoutd expects {asset.decimals}"
            )
        self._checked.add(asset.currency)

    def _token_fee(self, currency: str) -> Decimal:
        if isinstance(self.token_fee, dict):
            return self.token_fee.get(currency, Decimal(1))
        return self.token_fee

    def _gas(self, contract: str | None) -> int:
        return self.native_gas_limit if contract is None else self.token_gas_limit

    # -- fees -----------------------------------------------------------------------

    async def _fees(self, w3: AsyncWeb3[Any], priority: str | None) -> _Fees:
        priority = priority if priority in TIP_PERCENTILES else "recommended"
        assert priority is not None
        history = await w3.eth.fee_history(
            self.fee_history_blocks, "latest", [float(TIP_PERCENTILES[priority])]
        )
        base = int(history["baseFeePerGas"][-1])  # the next block's base fee
        rewards = [
            int(r[0])
            for r, used in zip(
                history.get("reward") or [], history.get("gasUsedRatio") or [], strict=False
            )
            if r and used > 0
        ]
        seen = int(statistics.median(rewards)) if rewards else 0
        tip = int(Decimal(max(seen, self.min_tip)) * self.tip_multipliers[priority])
        # 2 x base fee survives six full blocks of base fee increases (+12.5% each)
        return _Fees(max_fee=2 * base + tip, tip=tip)

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        contract = self._contract(asset)
        if contract is not None:
            return self._token_fee(asset.currency)
        fees = await self._quoted_fees(priority)
        return quantize(_coin(self.native_gas_limit * fees.max_fee), asset.decimals, ROUND_DEBIT)

    async def _quoted_fees(self, priority: str | None) -> _Fees:
        """Fees for quoting payouts: asked at most every FEE_CACHE_SECONDS (a mass payout
        import quotes thousands), and, while the node does not answer, the last answer
        up to STALE_FEE_SECONDS old (the charge is an estimate; the transaction itself is
        always priced fresh in `prepare`)."""
        key = priority or "recommended"
        now = time.monotonic()
        cached = self._fee_cache.get(key)
        if cached is not None and now - cached[0] < FEE_CACHE_SECONDS:
            return cached[1]
        try:
            async with self._node() as w3:
                fees = await self._fees(w3, priority)
        except ChainUnavailable:
            if cached is not None and now - cached[0] < STALE_FEE_SECONDS:
                return cached[1]
            raise
        self._fee_cache[key] = (now, fees)
        return fees

    # -- the wallet balance guard ------------------------------------------------------

    async def shortfall(self, asset: Asset, outputs: list[Output]) -> str | None:
        """Checked at the highest priority's price, so a batch that passes can be paid
        whatever priority it goes at. Configuration problems (wrong chain, missing token
        contract, keystore that does not open) and an unreachable node also make the
        batch wait, with the reason in the log, rather than fail anything."""
        try:
            contract = self._contract(asset)
            await self._signer()  # a keystore that does not open: nothing can be sent
            sender = await self.sender()
            async with self._node() as w3:
                await self._check_chain(w3)
                fees = await self._fees(w3, "highest")
                gas_cost = self._gas(contract) * fees.max_fee * len(outputs)
                native = int(await w3.eth.get_balance(sender, "pending"))
                if contract is None:
                    need = sum(_units(o.amount, asset.decimals) for o in outputs) + gas_cost
                    if native < need:
                        return (
                            f"hot wallet {sender} holds {fmt(_coin(native))} {self.native}"
                            f", the batch needs up to {fmt(_coin(need))} {self.native}"
                        )
                    return None
                await self._check_token(w3, asset, contract)
                held = await self._token_balance(w3, contract, sender)
                need = sum(_units(o.amount, asset.decimals) for o in outputs)
                if held < need:
                    return (
                        f"hot wallet {sender} holds "
                        f"{fmt(_coin(held, asset.decimals))} {asset.currency}, the batch "
                        f"needs {fmt(_coin(need, asset.decimals))} {asset.currency}"
                    )
                if native < gas_cost:
                    return (
                        f"hot wallet {sender} holds {fmt(_coin(native))} {self.native} for"
                        f" gas, the batch needs up to {fmt(_coin(gas_cost))} {self.native}"
                    )
                return None
        except (ChainUnavailable, ChainsFileError) as exc:
            return str(exc)

    async def _token_balance(self, w3: AsyncWeb3[Any], contract: str, owner: str) -> int:
        answer = await _call(w3, contract, BALANCE_OF + _address_word(owner), "pending")
        return int.from_bytes(answer, "big")

    # -- building the run -------------------------------------------------------------

    async def prepare(
        self,
        batch_id: str,
        asset: Asset,
        outputs: list[Output],
        priority: str | None,
        *,
        payout_count: int,
        next_sequence: int | None,
    ) -> PreparedTx:
        contract = self._contract(asset)
        account = await self._signer()
        gas = self._gas(contract)
        async with self._node() as w3:
            await self._check_chain(w3)
            if contract is not None:
                await self._check_token(w3, asset, contract)
            fees = await self._fees(w3, priority)
            pending = int(await w3.eth.get_transaction_count(account.address, "pending"))
        # The larger of the two: batches payoutd recorded but has not got out yet keep
        # their nonces, and anything the node already has from this wallet is passed.
        first = max(next_sequence or 0, pending)
        max_fee_each = gas * fees.max_fee
        amounts: list[Decimal] = []
        refused: dict[int, str] = {}
        for i, o in enumerate(outputs):
            amount = quantize(o.amount, asset.decimals, ROUND_CREDIT)
            if o.subtract_fee and contract is None:
                # the recipient pays this transaction's fee: at most gas x maxFeePerGas
                amount -= _coin(max_fee_each)
            if amount <= 0:
                refused[i] = (
                    f"amount {fmt(amount)} {asset.currency} is not above zero "
                    f"once the network fee is taken"
                )
            amounts.append(amount)
        if refused:
            raise OutputRejected(frozenset(refused), "; ".join(sorted(set(refused.values()))))
        run: list[dict[str, Any]] = []
        for i, (o, amount) in enumerate(zip(outputs, amounts, strict=True)):
            units = _units(amount, asset.decimals)
            to = to_checksum_address(o.address)
            body: dict[str, Any] = {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": first + i,
                "gas": gas,
                "maxFeePerGas": fees.max_fee,
                "maxPriorityFeePerGas": fees.tip,
            }
            if contract is None:
                body.update(to=to, value=units, data=b"")
            else:
                body.update(
                    to=contract,
                    value=0,
                    data=bytes.fromhex(TRANSFER + _address_word(to) + _word(units)),
                )
            signed = account.sign_transaction(body)
            run.append(
                {
                    "nonce": first + i,
                    "hash": "0x" + bytes(signed.hash).hex(),
                    "raw": "0x" + bytes(signed.raw_transaction).hex(),
                }
            )
        fee = _coin(max_fee_each * len(outputs))
        subtracted = any(o.subtract_fee for o in outputs) and contract is None
        return PreparedTx(
            txid=run[0]["hash"],
            raw=json.dumps(run, separators=(",", ":")),
            fee=fee,
            fee_currency=self.native,
            unbatched_fee=_coin(max_fee_each) * payout_count,
            output_txids=tuple(str(t["hash"]) for t in run),
            output_amounts=tuple(amounts) if subtracted else (),
            sequence_end=first + len(outputs) - 1,
        )

    async def release(self, tx: PreparedTx) -> None:
        """Nothing is locked on an account chain. The nonces of a run that is never
        broadcast leave no gap: the executor records a batch before it broadcasts it and
        a released run was never recorded, so the next prepare gets the same
        `next_sequence` and the node's pending nonce, and reuses them."""

    # -- broadcasting and following -----------------------------------------------------

    def _run(self, tx: PreparedTx) -> list[dict[str, Any]]:
        run = json.loads(tx.raw)
        if not isinstance(run, list) or not run:
            raise Rejected("the recorded transaction is not an EVM run")
        for item in run:
            if "0x" + keccak(hexstr=item["raw"]).hex() != item["hash"]:
                raise Rejected(f"recorded transaction {item['hash']} does not match its hash")
        if run[0]["hash"] != tx.txid:
            raise Rejected("the recorded run does not start with the batch's txid")
        return run

    async def broadcast(self, tx: PreparedTx) -> None:
        """Send the run in nonce order. A transaction the node already has (in its pool
        or mined) counts as sent. Rejected only when the node refuses the run's first
        transaction for good, i.e. nothing of the batch is out; a later one refused
        leaves the batch partly out: it counts as broadcast and `status` keeps
        asking for the identical missing transactions to be sent again."""
        run = self._run(tx)
        async with self._node() as w3:
            for i, item in enumerate(run):
                try:
                    await w3.eth.send_raw_transaction(item["raw"])
                    continue
                except Web3RPCError as exc:
                    message = _rpc_message(exc)
                if await self._seen(w3, item["hash"]) is not None:
                    continue  # "already known", "nonce too low": it is our very transaction
                definitive = any(p in message.lower() for p in DEFINITIVE)
                if not definitive:
                    raise ChainUnavailable(
                        f"{self.network}: transaction {item['hash']} "
                        f"(nonce {item['nonce']}): {message}"
                    )
                if i == 0:
                    raise Rejected(f"{message} (nonce {item['nonce']})")
                log.warning(
                    "evm.run_partly_sent",
                    network=self.network,
                    txid=tx.txid,
                    refused=item["hash"],
                    nonce=item["nonce"],
                    reason=message,
                )
                return

    async def _seen(self, w3: AsyncWeb3[Any], txhash: str) -> _Seen | None:
        try:
            receipt = await w3.eth.get_transaction_receipt(HexStr(txhash))
        except TransactionNotFound:
            receipt = None
        if receipt is not None and receipt.get("blockNumber") is not None:
            return _Seen(
                mined=True,
                pending=False,
                block=int(receipt["blockNumber"]),
                ok=int(receipt["status"]) == 1,
            )
        try:
            found = await w3.eth.get_transaction(HexStr(txhash))
        except TransactionNotFound:
            return None
        return _Seen(mined=False, pending=found is not None) if found is not None else None

    async def status(self, tx: PreparedTx) -> TxState:
        """mined: every transaction of the run is in a block (confirmations of the least
        confirmed; outputs whose own transaction reverted in `failed_outputs`).
        conflicted: a nonce of the run was used by another transaction, so ours can
        never be mined. unknown: some transaction of the run is nowhere while its nonce
        is still free: sending the identical signed transaction again is safe (the
        executor does). mempool: the rest."""
        run = self._run(tx)
        async with self._node() as w3:
            sender = await self.sender()
            used = int(await w3.eth.get_transaction_count(sender, "latest"))
            seen = await asyncio.gather(*(self._seen(w3, item["hash"]) for item in run))
            tip = int(await w3.eth.block_number)
        if any(
            not (s and s.mined) and int(item["nonce"]) < used
            for s, item in zip(seen, run, strict=True)
        ):
            return TxState("conflicted")
        if any(s is None for s in seen):
            return TxState("unknown")
        mined = [s for s in seen if s is not None and s.mined]
        if len(mined) < len(seen):
            return TxState("mempool")
        return TxState(
            "mined",
            min(tip - int(s.block or 0) + 1 for s in mined),
            failed_outputs=frozenset(i for i, s in enumerate(seen) if s is not None and not s.ok),
        )

    # -- incoming transfers (off-ramp funding) -------------------------------------------

    async def deposits(
        self, addresses: Sequence[str], currencies: Sequence[str], from_block: int | None
    ) -> tuple[list[ChainDeposit], int]:
        """ERC-20 `Transfer` logs of the configured token contracts of `currencies` whose
        recipient (topic 2) is one of `addresses`, in blocks from `from_block` up to the
        last one with the network's confirmations, at most `deposit_block_range` blocks
        per call. Amounts are the log's integer value scaled by the token's decimals
        (checked against the contract). A currency with no contract on this node (a test
        net whose chains file does not name it) is not watched."""
        tokens: list[tuple[Asset, ChecksumAddress]] = []
        for currency in currencies:
            asset = ASSETS.get((currency, self.network))
            if asset is None:
                continue
            try:
                contract = self._contract(asset)
            except ChainsFileError as exc:
                if currency not in self._unwatched:
                    self._unwatched.add(currency)
                    log.warning("evm.deposits_not_watched", network=self.network, reason=str(exc))
                continue
            if contract is not None:
                tokens.append((asset, contract))
        # topics are 32-byte words; the recipient's word names the address it was paid to
        recipients = {"0x" + _address_word(a): a for a in addresses}
        async with self._node() as w3:
            await self._check_chain(w3)
            tip = int(await w3.eth.block_number)
            last_confirmed = tip - self.confirmations + 1
            start = last_confirmed + 1 if from_block is None else from_block
            end = min(last_confirmed, start + self.deposit_block_range - 1)
            if end < start or not tokens or not recipients:
                return [], start
            for asset, contract in tokens:
                await self._check_token(w3, asset, contract)
            logs = await w3.eth.get_logs(
                {
                    "fromBlock": start,
                    "toBlock": end,
                    "address": [contract for _, contract in tokens],
                    "topics": [
                        HexStr(TRANSFER_TOPIC),
                        None,
                        [HexStr(word) for word in recipients],
                    ],
                }
            )
        by_contract = {contract.lower(): asset for asset, contract in tokens}
        found: list[ChainDeposit] = []
        for entry in logs:
            topics = ["0x" + bytes(t).hex() for t in entry["topics"]]
            data = bytes(entry["data"])
            asset_of = by_contract.get(str(entry["address"]).lower())
            # ERC-721 shares the event's signature with a fourth, indexed topic
            if entry.get("removed") or asset_of is None or len(topics) != 3 or len(data) != 32:
                continue
            paid_to = recipients.get(topics[2])
            if topics[0] != TRANSFER_TOPIC or paid_to is None:
                continue
            block = int(entry["blockNumber"])
            found.append(
                ChainDeposit(
                    network=self.network,
                    currency=asset_of.currency,
                    address=paid_to,
                    amount=_coin(int.from_bytes(data, "big"), asset_of.decimals),
                    txid="0x" + bytes(entry["transactionHash"]).hex(),
                    index=int(entry["logIndex"]),
                    block=block,
                    confirmations=tip - block + 1,
                    sender=to_checksum_address("0x" + topics[1][-40:]),
                )
            )
        found.sort(key=lambda d: (d.block, d.index))
        return found, end + 1


async def _call(w3: AsyncWeb3[Any], contract: str, data: str, block: str = "latest") -> bytes:
    """eth_call of a contract function, `data` being its selector and arguments in hex."""
    params: TxParams = {"to": to_checksum_address(contract), "data": HexStr("0x" + data)}
    return bytes(await w3.eth.call(params, cast(BlockIdentifier, block)))


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message)
