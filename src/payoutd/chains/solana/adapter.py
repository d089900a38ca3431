"""Solana through its JSON-RPC API: SOL and SPL token (USDC, USDT) payouts.

    [networks.SOL]
    adapter = "solana"
    url = "https://api.mainnet-beta.solana.com"   # any RPC node
    private_key_env = "PAYOUTD_SOL_KEY"   # the keypair: base58 (as wallets export it)
                                          # or solana-keygen's JSON array
    address = "..."                       # optional: refuse to start on another key
    confirmations = 2
    token_fee = "0.5"                     # what a USDC/USDT payout is charged, in the token
    # micro-lamports per compute unit, by payout priority (the defaults):
    # priority_fees = { economy = 0, recommended = 10000, high = 100000, highest = 1000000 }
    # mints = { USDC = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU" }   # devnet's

Transactions are built and signed here (solders), never by the node. A batch is as few
transactions as the size limit allows (1232 bytes: about 20 SOL transfers, or 10 token
transfers to recipients without a token account), all on one recent blockhash, each
with a compute-unit limit and price (the priority fee). The batch's signed transactions,
their blockhash and its lastValidBlockHeight are recorded before anything is sent; after
a crash the very same bytes are sent again, never rebuilt.

Solana has no nonces: a transaction can be included only while its blockhash is among
the last 150 blocks' (until the block height passes lastValidBlockHeight). So one that
is not on chain once the *finalized* block height has passed it never will be. That is
the only proof that a transaction was not sent: `broadcast` reports a refused
transaction Rejected only then (until then it is offered again), and `status` reports
`expired` (nothing left, payouts fail and their funds return) only then, and only when
the node's ledger still reaches back to the blockhash (a pruned node cannot tell "never
included" from "included long ago": that is `dropped`, for a human).

Fees. Each transaction costs 5000 lamports per signature plus its priority fee
(compute-unit limit x price). A SOL payout is charged one transaction of its own. A
token payout is charged `token_fee` in the token: the hot wallet pays the SOL, including
the rent (about 0.002 SOL, reclaimable only by the recipient) of the associated token
account created, idempotently, for a recipient who has none. The batch's fee posted to
the ledger is that SOL, rent included: the operator's cost, as charged.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import structlog
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized, Processed
from solana.rpc.core import RPCException
from solana.rpc.models import TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus
from spl.token.constants import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
)
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    transfer_checked,
)
from spl.token.models import TransferCheckedParams

from payoutd.chains.addressing import validate_address, validate_txid
from payoutd.chains.config import ChainsFileError, NetworkConfig
from payoutd.chains.solana.wallet import HotWallet
from payoutd.domain.assets import NETWORKS, Asset
from payoutd.domain.batching import Output
from payoutd.domain.money import ROUND_CREDIT, fmt, quantize
from payoutd.services.ports import ChainUnavailable, OutputRejected, PreparedTx, Rejected, TxState

log = structlog.get_logger("payoutd.chains.solana")

T = TypeVar("T")

TOKEN_PROGRAM: Final = TOKEN_PROGRAM_ID
ASSOCIATED_TOKEN_PROGRAM: Final = ASSOCIATED_TOKEN_PROGRAM_ID
TOKEN_PROGRAMS: Final = frozenset({TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID})
LAMPORTS: Final = 9  # 1 SOL = 10**9 lamports
SIGNATURE_FEE: Final = 5000  # lamports per signature: one, the hot wallet's
PACKET_DATA_SIZE: Final = 1232  # the most bytes one transaction may take on the wire
MAX_COMPUTE_UNITS: Final = 1_400_000  # per transaction
TOKEN_ACCOUNT_SIZE: Final = 165  # bytes of an SPL token account: its rent
# Compute units each instruction may use: what the runtime charges them, with room.
# A transaction that runs out fails (and still pays its fee), so these err high; the
# priority fee is paid on the limit, not on what was used.
CU_COMPUTE_BUDGET: Final = 150  # each of the two compute-budget instructions
CU_SOL_TRANSFER: Final = 300  # the System program's transfer: 150
CU_TOKEN_TRANSFER: Final = 10_000  # TransferChecked: about 6,200 on the Token program
CU_CREATE_ACCOUNT: Final = 40_000  # an idempotent associated token account creation
PRIORITIES: Final = ("economy", "recommended", "high", "highest")
DEFAULT_PRIORITY_FEES: Final = {
    "economy": 0,
    "recommended": 10_000,
    "high": 100_000,
    "highest": 1_000_000,
}
OPTIONS: Final = frozenset(
    {"private_key_env", "address", "token_fee", "priority_fees", "mints", "timeout_seconds"}
)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What PreparedTx.raw holds: the signed transactions and their blockhash's life."""

    blockhash: str
    last_valid_block_height: int
    first_slot: int  # the slot the blockhash was fetched at: the node's ledger must reach it
    transactions: tuple[bytes, ...]  # wire format, signed
    outputs: tuple[tuple[int, ...], ...]  # per transaction, the outputs it pays

    def dumps(self) -> str:
        return json.dumps(
            {
                "blockhash": self.blockhash,
                "last_valid_block_height": self.last_valid_block_height,
                "first_slot": self.first_slot,
                "transactions": [base64.b64encode(t).decode() for t in self.transactions],
                "outputs": [list(o) for o in self.outputs],
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: str) -> Recorded:
        data = json.loads(raw)
        return cls(
            blockhash=str(data["blockhash"]),
            last_valid_block_height=int(data["last_valid_block_height"]),
            first_slot=int(data["first_slot"]),
            transactions=tuple(base64.b64decode(t) for t in data["transactions"]),
            outputs=tuple(tuple(int(i) for i in o) for o in data["outputs"]),
        )

    def signed(self) -> list[Transaction]:
        return [Transaction.from_bytes(t) for t in self.transactions]


def associated_token_account(owner: Pubkey, mint: Pubkey) -> Pubkey:
    return get_associated_token_address(owner, mint, TOKEN_PROGRAM)


def is_panic(exc: BaseException) -> bool:
    """solders' response decoding panics (pyo3_runtime.PanicException, a BaseException)
    on answers it cannot parse, such as a preflight failure (-32002) without `data`,
    which is how some nodes refuse a transaction whose signature does not verify or
    that was already processed. It is an answer, not a crash of ours."""
    return type(exc).__name__ == "PanicException"


class SolanaChain:
    mode = "live"

    def __init__(
        self,
        network: str,
        url: str,
        wallet: HotWallet,
        *,
        confirmations: int,
        batch_window_seconds: float | None,
        token_fee: Decimal = Decimal("0.5"),
        priority_fees: dict[str, int] | None = None,
        mints: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.network = network
        self.url = url
        self.wallet = wallet
        self.confirmations = confirmations
        self.batch_window_seconds = batch_window_seconds
        self.token_fee = token_fee
        self.priority_fees = dict(priority_fees or DEFAULT_PRIORITY_FEES)
        self.mints = dict(mints or {})
        self.timeout = timeout

    @classmethod
    def from_config(cls, cfg: NetworkConfig) -> SolanaChain:
        unknown = set(cfg.options) - OPTIONS
        if unknown:
            raise ChainsFileError(f"{cfg.network}: unknown keys {', '.join(sorted(unknown))}")
        if not cfg.url:
            raise ChainsFileError(f"{cfg.network}: url is required (a Solana JSON-RPC node)")
        opts = cfg.options
        token_fee = _token_fee(cfg)
        fees = dict(DEFAULT_PRIORITY_FEES)
        raw_fees = opts.get("priority_fees", {})
        if not isinstance(raw_fees, dict) or set(raw_fees) - set(PRIORITIES):
            raise ChainsFileError(
                f"{cfg.network}: priority_fees is a table of {', '.join(PRIORITIES)} = "
                f"micro-lamports per compute unit"
            )
        for name, value in raw_fees.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
                raise ChainsFileError(
                    f"{cfg.network}: priority_fees.{name} must be a whole number of "
                    f"micro-lamports in 0..1000000000"
                )
            fees[name] = value
        if [fees[p] for p in PRIORITIES] != sorted(fees[p] for p in PRIORITIES):
            raise ChainsFileError(f"{cfg.network}: priority_fees must grow with priority")
        mints = opts.get("mints", {})
        if not isinstance(mints, dict):
            raise ChainsFileError(f"{cfg.network}: mints is a table CURRENCY = mint address")
        for currency, mint in mints.items():
            try:
                validate_address(cfg.network, str(mint))
            except ValueError:
                raise ChainsFileError(
                    f"{cfg.network}: mints.{currency} is not a Solana address"
                ) from None
        timeout = opts.get("timeout_seconds", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 300:
            raise ChainsFileError(
                f"{cfg.network}: timeout_seconds must be a whole number in 1..300"
            )
        return cls(
            cfg.network,
            cfg.url,
            HotWallet.from_config(cfg),
            confirmations=cfg.confirmations or NETWORKS[cfg.network].confirmations,
            batch_window_seconds=cfg.batch_window_seconds,
            token_fee=token_fee,
            priority_fees=fees,
            mints={str(k).upper(): str(v) for k, v in mints.items()},
            timeout=float(timeout),
        )

    def __repr__(self) -> str:
        return f"SolanaChain({self.network}, {self.url}, wallet={self.wallet.address})"

    # --- what the executor calls -------------------------------------------------------

    def validate_address(self, address: str) -> str:
        return validate_address(self.network, address)

    def validate_txid(self, txid: str) -> str:
        return validate_txid(self.network, txid)

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        if self._mint(asset) is not None:
            return self.token_fee
        return _sol(self._tx_fee(1, 0, priority, token=False))

    async def shortfall(self, asset: Asset, outputs: list[Output]) -> str | None:
        mint = self._mint(asset)
        who = f"hot wallet {self.wallet.address}"
        # at most one transaction per output, each at the highest price
        token = mint is not None
        fees = self._tx_fee(1, 1 if token else 0, "highest", token=token) * len(outputs)
        tokens = Decimal(0)
        rent = 0
        async with self._client() as client:
            lamports = (await _rpc(client.get_balance(self.wallet.pubkey, Confirmed))).value
            keep = (await _rpc(client.get_minimum_balance_for_rent_exemption(0))).value
            if mint is not None:
                tokens = await self._token_balance(client, mint, asset.decimals)
                rent = (
                    await _rpc(client.get_minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_SIZE))
                ).value
        if mint is not None:
            amount = sum((o.amount for o in outputs), Decimal(0))
            if tokens < amount:
                return (
                    f"{who} holds {_show(tokens)} {asset.currency}, the batch pays {_show(amount)}"
                )
            # every recipient may need a token account: its rent is the hot wallet's
            need = fees + rent * len(outputs) + keep
            if lamports < need:
                return (
                    f"{who} holds {_show(_sol(lamports))} SOL, the batch's fees and token "
                    f"accounts may take {_show(_sol(need))} SOL"
                )
            return None
        units = sum(
            (int(quantize(o.amount, LAMPORTS, ROUND_CREDIT).scaleb(LAMPORTS)) for o in outputs),
            0,
        )
        # a SOL account may not be left between 0 and its rent-exempt minimum: keep it
        need = units + fees + keep
        if lamports < need:
            return (
                f"{who} holds {_show(_sol(lamports))} SOL, the batch needs up to "
                f"{_show(_sol(need))} SOL (its rent-exempt minimum kept)"
            )
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
        # next_sequence is unused: Solana has no nonces (see the module's docstring)
        mint = self._mint(asset)
        units = [
            int(quantize(o.amount, asset.decimals, ROUND_CREDIT).scaleb(asset.decimals))
            for o in outputs
        ]
        refused: dict[int, str] = {}
        owners: list[Pubkey] = []
        for i, o in enumerate(outputs):
            try:
                owners.append(Pubkey.from_string(self.validate_address(o.address)))
            except ValueError as exc:
                owners.append(Pubkey.default())
                refused[i] = str(exc)
        if refused:
            raise OutputRejected(frozenset(refused), "; ".join(sorted(set(refused.values()))))
        async with self._client() as client:
            latest = await _rpc(client.get_latest_blockhash(Confirmed))
            blockhash = latest.value.blockhash
            last_valid = latest.value.last_valid_block_height
            first_slot = latest.context.slot
            if mint is not None:
                targets = [associated_token_account(owner, mint) for owner in owners]
                size = TOKEN_ACCOUNT_SIZE
            else:
                targets = owners
                size = 0
            found = await self._accounts(client, targets)
            rent = (await _rpc(client.get_minimum_balance_for_rent_exemption(size))).value
            if mint is not None:
                # A token account's address given as the recipient (a common mistake):
                # an associated account "owned" by it would hold tokens no one can move.
                held = await self._owners(client, owners)
                for i, program in enumerate(held):
                    if program in TOKEN_PROGRAMS:
                        refused[i] = "the address is a token account, not a wallet"
        if refused:
            raise OutputRejected(frozenset(refused), "; ".join(sorted(set(refused.values()))))
        missing = [not present for present in found]
        groups = self._group(owners, units, mint, missing, asset.decimals, priority, blockhash)
        fees = [
            self._tx_fee(
                len(g), sum(missing[i] for i in g) if mint else 0, priority, token=mint is not None
            )
            + (rent * sum(missing[i] for i in g) if mint else 0)
            for g in groups
        ]
        subtracting = mint is None and any(o.subtract_fee for o in outputs)
        if subtracting:
            for g, fee in zip(groups, fees, strict=True):
                # each output of a transaction pays an equal share of its fee; the
                # first takes the remainder, so the shares add up to the fee exactly
                share, rest = divmod(fee, len(g))
                for k, i in enumerate(g):
                    if outputs[i].subtract_fee:
                        units[i] -= share + (rest if k == 0 else 0)
        for i, amount in enumerate(units):
            if amount <= 0:
                refused[i] = (
                    f"amount {fmt(Decimal(amount).scaleb(-asset.decimals))} {asset.currency} "
                    f"is nothing once the network fee is taken"
                )
            elif mint is None and missing[i] and amount < rent:
                # the runtime refuses to create an account below its rent-exempt minimum,
                # and the whole transaction with it
                refused[i] = f"a new Solana account must receive at least {_show(_sol(rent))} SOL"
        if refused:
            raise OutputRejected(frozenset(refused), "; ".join(sorted(set(refused.values()))))
        signed = [
            self.wallet.sign(
                self._message(
                    [owners[i] for i in g],
                    [units[i] for i in g],
                    [missing[i] for i in g],
                    mint,
                    asset.decimals,
                    priority,
                    blockhash,
                ),
                blockhash,
            )
            for g in groups
        ]
        signatures = [str(t.signatures[0]) for t in signed]
        output_txids = [""] * len(outputs)
        for g, sig in zip(groups, signatures, strict=True):
            for i in g:
                output_txids[i] = sig
        recorded = Recorded(
            blockhash=str(blockhash),
            last_valid_block_height=last_valid,
            first_slot=first_slot,
            transactions=tuple(bytes(t) for t in signed),
            outputs=tuple(tuple(g) for g in groups),
        )
        single = self._tx_fee(1, 1 if mint else 0, priority, token=mint is not None)
        created = sum(missing) if mint else 0
        log.info(
            "solana.prepared",
            batch_id=batch_id,
            currency=asset.currency,
            signatures=signatures,
            last_valid_block_height=last_valid,
            token_accounts_created=created,
        )
        return PreparedTx(
            txid=signatures[0],
            raw=recorded.dumps(),
            fee=_sol(sum(fees)),
            fee_currency="SOL",
            unbatched_fee=_sol(single * payout_count + rent * created),
            output_txids=tuple(output_txids),
            output_amounts=(
                tuple(Decimal(u).scaleb(-asset.decimals) for u in units) if subtracting else ()
            ),
            sequence_end=None,
        )

    async def release(self, tx: PreparedTx) -> None:
        """Nothing to free: a blockhash reserves nothing, and an unsent transaction
        simply expires."""

    async def broadcast(self, tx: PreparedTx) -> None:
        """Send every transaction of the batch not already on chain. Rejected only when
        the node refused all of them and the chain proves none can be included any more
        (or their signatures do not verify: no node would ever take them); any other
        refusal leaves the batch recorded and it is offered again on the next pass."""
        recorded = Recorded.loads(tx.raw)
        signed = recorded.signed()
        forged = [i for i, t in enumerate(signed) if not all(t.verify_with_results())]
        if forged:
            raise Rejected(
                "the recorded transaction's signature does not verify: no node will take it"
            )
        signatures = [t.signatures[0] for t in signed]
        accepted: list[int] = []
        refused: dict[int, str] = {}
        unclear: dict[int, str] = {}
        async with self._client() as client:
            statuses = await self._statuses(client, signatures)
            for i, t in enumerate(signed):
                if statuses[i] is not None:
                    accepted.append(i)  # on chain already: sent before a crash
                    continue
                try:
                    await client.send_raw_transaction(
                        bytes(t),
                        TxOpts(skip_confirmation=True, preflight_commitment=Confirmed),
                    )
                    accepted.append(i)
                except RPCException as exc:
                    # preflight refused it: it would fail now, or the node does not know
                    # its blockhash (expired, or not yet seen by a lagging node)
                    refused[i] = _rpc_message(exc)
                except Exception as exc:
                    # unreachable, timed out, or an answer that could not be read: the
                    # node may have taken it
                    unclear[i] = f"{type(exc).__name__}: {_rpc_message(exc)}"
                except BaseException as exc:
                    if not is_panic(exc):
                        raise
                    refused[i] = "the node refused it without a reason (-32002 without data)"
            if refused:
                # refused now is not "never sent": an earlier send of the very same bytes
                # may still land. Only an expired blockhash settles it.
                again = await self._statuses(client, [signatures[i] for i in refused])
                for i, status in zip(list(refused), again, strict=True):
                    if status is not None:
                        accepted.append(i)
                        del refused[i]
                if refused and not await self._proven_expired(client, recorded):
                    unclear.update(
                        {
                            i: f"refused, its blockhash not provably expired: {r}"
                            for i, r in refused.items()
                        }
                    )
                    refused = {}
        for i in accepted:
            log.info("solana.broadcast", signature=str(signatures[i]))
        if unclear:
            raise ChainUnavailable(
                "; ".join(f"{signatures[i]}: {r}" for i, r in sorted(unclear.items()))
            )
        if refused and not accepted:
            raise Rejected("; ".join(sorted(set(refused.values()))))
        for i, reason in refused.items():
            # never included and never will be: `status` reports its outputs failed
            log.warning("solana.broadcast_refused", signature=str(signatures[i]), reason=reason)

    async def status(self, tx: PreparedTx) -> TxState:
        recorded = Recorded.loads(tx.raw)
        signatures = [t.signatures[0] for t in recorded.signed()]
        async with self._client() as client:
            statuses = await self._statuses(client, signatures)
            unseen = [i for i, s in enumerate(statuses) if s is None]
            gone: set[int] = set()
            if unseen:
                height = (await _rpc(client.get_block_height(Finalized))).value
                if height <= recorded.last_valid_block_height:
                    # may still be included: the executor sends the same bytes again
                    return TxState("unknown")
                if not await self._ledger_reaches(client, recorded):
                    return TxState("dropped")  # cannot tell never-included from pruned
                if len(unseen) == len(signatures):
                    return TxState("expired")
                gone = set(unseen)
            seen = [s for s in statuses if s is not None]
            if any(s.confirmation_status == TransactionConfirmationStatus.Processed for s in seen):
                return TxState("mempool")  # in a block no supermajority has voted on yet
            if any(s.confirmations is None for s in seen):  # rooted: count the slots since
                slot = (await _rpc(client.get_slot(Processed))).value
            else:
                slot = 0
        depth = min(
            s.confirmations if s.confirmations is not None else max(slot - s.slot, 1) for s in seen
        )
        reverted = {k for k, s in enumerate(statuses) if s is not None and s.err is not None}
        failed = frozenset(
            i for k, g in enumerate(recorded.outputs) if k in gone | reverted for i in g
        )
        return TxState("mined", depth, failed_outputs=failed)

    # --- building ----------------------------------------------------------------------

    def _mint(self, asset: Asset) -> Pubkey | None:
        if asset.contract is None and asset.currency not in self.mints:
            return None
        return Pubkey.from_string(self.mints.get(asset.currency, str(asset.contract)))

    def _units(self, outputs: int, created: int, token: bool) -> int:
        per = CU_TOKEN_TRANSFER if token else CU_SOL_TRANSFER
        return 2 * CU_COMPUTE_BUDGET + per * outputs + CU_CREATE_ACCOUNT * created

    def _price(self, priority: str | None) -> int:
        return self.priority_fees[priority if priority in self.priority_fees else "recommended"]

    def _tx_fee(self, outputs: int, created: int, priority: str | None, *, token: bool) -> int:
        """Lamports one transaction of `outputs` transfers costs (rent aside)."""
        limit = self._units(outputs, created, token)
        return SIGNATURE_FEE + math.ceil(limit * self._price(priority) / 1_000_000)

    def _message(
        self,
        owners: Sequence[Pubkey],
        units: Sequence[int],
        missing: Sequence[bool],
        mint: Pubkey | None,
        decimals: int,
        priority: str | None,
        blockhash: Hash,
    ) -> Message:
        payer = self.wallet.pubkey
        created = sum(missing) if mint else 0
        ixs: list[Instruction] = [
            set_compute_unit_limit(self._units(len(owners), created, mint is not None)),
            set_compute_unit_price(self._price(priority)),
        ]
        for owner, amount, absent in zip(owners, units, missing, strict=True):
            if mint is None:
                ixs.append(
                    transfer(TransferParams(from_pubkey=payer, to_pubkey=owner, lamports=amount))
                )
                continue
            if absent:
                ixs.append(
                    create_idempotent_associated_token_account(payer, owner, mint, TOKEN_PROGRAM)
                )
            ixs.append(
                transfer_checked(
                    TransferCheckedParams(
                        program_id=TOKEN_PROGRAM,
                        source=associated_token_account(payer, mint),
                        mint=mint,
                        dest=associated_token_account(owner, mint),
                        owner=payer,
                        amount=amount,
                        decimals=decimals,
                    )
                )
            )
        return Message.new_with_blockhash(ixs, payer, blockhash)

    def _group(
        self,
        owners: list[Pubkey],
        units: list[int],
        mint: Pubkey | None,
        missing: list[bool],
        decimals: int,
        priority: str | None,
        blockhash: Hash,
    ) -> list[list[int]]:
        """Outputs in order, as many per transaction as fit its size and compute limits."""
        groups: list[list[int]] = []
        current: list[int] = []
        for i in range(len(owners)):
            trial = [*current, i]
            created = sum(missing[k] for k in trial) if mint else 0
            fits = self._units(len(trial), created, mint is not None) <= MAX_COMPUTE_UNITS and (
                len(
                    bytes(
                        Transaction.new_unsigned(
                            self._message(
                                [owners[k] for k in trial],
                                [units[k] for k in trial],
                                [missing[k] for k in trial],
                                mint,
                                decimals,
                                priority,
                                blockhash,
                            )
                        )
                    )
                )
                <= PACKET_DATA_SIZE
            )
            if fits or not current:
                current = trial
            else:
                groups.append(current)
                current = [i]
        if current:
            groups.append(current)
        return groups

    # --- the node ----------------------------------------------------------------------

    def _client(self) -> AsyncClient:
        # One client per operation, closed after it: nothing stays open between passes.
        return AsyncClient(self.url, commitment=Confirmed, timeout=self.timeout)

    async def _accounts(self, client: AsyncClient, keys: list[Pubkey]) -> list[bool]:
        """Whether each account exists."""
        return [owner is not None for owner in await self._owners(client, keys)]

    async def _owners(self, client: AsyncClient, keys: list[Pubkey]) -> list[Pubkey | None]:
        """The program owning each account, None where there is none (getMultipleAccounts
        takes 100 at a time)."""
        found: list[Pubkey | None] = []
        for start in range(0, len(keys), 100):
            answer = await _rpc(client.get_multiple_accounts(keys[start : start + 100], Confirmed))
            found.extend(None if a is None else a.owner for a in answer.value)
        return found

    async def _statuses(
        self, client: AsyncClient, signatures: list[Signature]
    ) -> list[TransactionStatus | None]:
        found: list[TransactionStatus | None] = []
        for start in range(0, len(signatures), 256):
            answer = await _rpc(
                client.get_signature_statuses(
                    signatures[start : start + 256], search_transaction_history=True
                )
            )
            found.extend(answer.value)
        return found

    async def _ledger_reaches(self, client: AsyncClient, recorded: Recorded) -> bool:
        """Whether the node still holds every block the transactions could be in."""
        lowest = (await _rpc(client.get_minimum_ledger_slot())).value
        return lowest <= recorded.first_slot

    async def _proven_expired(self, client: AsyncClient, recorded: Recorded) -> bool:
        height = (await _rpc(client.get_block_height(Finalized))).value
        return height > recorded.last_valid_block_height and await self._ledger_reaches(
            client, recorded
        )

    async def _token_balance(self, client: AsyncClient, mint: Pubkey, decimals: int) -> Decimal:
        account = associated_token_account(self.wallet.pubkey, mint)
        if not (await self._accounts(client, [account]))[0]:
            return Decimal(0)
        answer = await _rpc(client.get_token_account_balance(account, Confirmed))
        return Decimal(int(answer.value.amount)).scaleb(-decimals)


async def _rpc(call: Awaitable[T]) -> T:
    """A read from the node; any failure leaves the outcome unknown."""
    try:
        return await call
    except Exception as exc:
        # RPCException (an error answer), SolanaRpcException (HTTP failures), an answer
        # solders cannot parse: all of them say nothing about the chain
        raise ChainUnavailable(f"{type(exc).__name__}: {_rpc_message(exc)}") from exc
    except BaseException as exc:
        if is_panic(exc):
            raise ChainUnavailable(f"an answer solders could not read: {exc}") from None
        raise


def _rpc_message(exc: BaseException) -> str:
    detail: Any = exc.args[0] if exc.args else exc
    return str(getattr(detail, "message", detail)).splitlines()[0][:300]


def _sol(lamports: int) -> Decimal:
    return Decimal(lamports).scaleb(-LAMPORTS)


def _show(amount: Decimal) -> str:
    """An amount for a human: 1000, not 1000.000000000."""
    return fmt(amount.normalize())


def _token_fee(cfg: NetworkConfig) -> Decimal:
    raw = cfg.options.get("token_fee")
    if raw is None:
        return Decimal("0.5")
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal(-1)
    # USDC and USDT on Solana have 6 decimals
    if not value.is_finite() or value < 0 or value.scaleb(6) % 1:
        raise ChainsFileError(
            f"{cfg.network}: token_fee must be a non-negative amount with at most 6 decimals"
        )
    return value
