"""A real local Solana network for the Solana adapter's tests: Surfpool's Surfnet.

Surfnet runs the real runtime (LiteSVM: the System, SPL Token and Associated Token
Account programs, signature checks, rent, blockhash expiry) behind the real JSON-RPC
API, offline. One network per test session, started on the first test that asks for it
(`node()`, or the `surfpool` fixture) with `node tests/chains/solana/surfnet.js`, which
prints one JSON line {rpcUrl, payer, payerSecretKey} (a funded payer); `npm ci` runs
there first if node_modules is missing. Without node/npm the tests skip locally and
fail under CI=true, as PostgreSQL's do.

The clock is paused as soon as the network is up, so the tests decide when blocks come:
`mine(n)` produces n blocks one at a time (surfnet_timeTravel to the next slot), and
`expire()` moves past a blockhash's lastValidBlockHeight. USDC and USDT mints are placed
at their real mainnet addresses (surfnet_setAccount) so the adapter pays them with the
real token program, as on mainnet. `solana_chain` is this network's entry in the shared
chain suite (tests/chains/contract_support.py).
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import base58
import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from payoutd.chains import config as chains_config
from payoutd.chains.solana.adapter import TOKEN_PROGRAM, SolanaChain, associated_token_account
from payoutd.domain.assets import ASSETS
from tests import support
from tests.chains.session import SessionNode, stop_group

if TYPE_CHECKING:
    from tests.chains.contract_support import ChainUnderTest

SOLANA_DIR = Path(__file__).parent / "solana"
PACKAGE = SOLANA_DIR / "node_modules" / "@solana" / "surfpool-linux-x64-gnu"
KEY_ENV = "PAYOUTD_TEST_SOLANA_KEY"
LAMPORTS = 9
# the real mainnet mints (payoutd.domain.assets), placed on the local network
MINTS = {
    "USDC": str(ASSETS[("USDC", "SOL")].contract),
    "USDT": str(ASSETS[("USDT", "SOL")].contract),
}
TOKEN_DECIMALS = 6
WALLET_SOL = Decimal(100)
WALLET_TOKENS = Decimal(1_000_000)


def _unavailable(reason: str) -> None:
    if support.IN_CI:
        pytest.fail(f"the local Solana network (Surfpool) is required in CI: {reason}")
    pytest.skip(reason)


def _ensure_node_modules() -> None:
    if PACKAGE.is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _unavailable("node/npm are not installed: cannot run Surfpool")
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=SOLANA_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0 or not PACKAGE.is_dir():
        _unavailable(f"npm ci in {SOLANA_DIR} failed: {done.stderr[-2000:]}")


def mint_data(decimals: int, supply: int) -> bytes:
    """An SPL Token Mint account (82 bytes): no mint or freeze authority, initialized."""
    return struct.pack("<I32sQBBI32s", 0, bytes(32), supply, decimals, 1, 0, bytes(32))


@dataclass
class Surfnet:
    url: str
    payer: Keypair = field(repr=False)
    proc: subprocess.Popen[bytes] = field(repr=False)
    http: httpx.Client = field(repr=False)

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        answer = self.http.post(
            self.url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []},
        ).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def stop(self) -> None:
        self.http.close()
        stop_group(self.proc)

    # --- blocks ------------------------------------------------------------------------

    def epoch_info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.rpc("getEpochInfo", [{"commitment": "processed"}])
        return info

    def mine(self, blocks: int = 1) -> None:
        """`blocks` new blocks, one slot each (the clock stays paused)."""
        for _ in range(blocks):
            slot = int(self.epoch_info()["absoluteSlot"])
            self.rpc("surfnet_timeTravel", [{"absoluteSlot": slot + 1}])

    def block_height(self) -> int:
        return int(self.epoch_info()["blockHeight"])

    def expire(self, last_valid_block_height: int) -> None:
        """Produce blocks until the finalized block height is past
        `last_valid_block_height`: what proves a blockhash expired."""
        while int(self.rpc("getBlockHeight", [{"commitment": "finalized"}])) <= (
            last_valid_block_height
        ):
            self.mine(1)

    # --- accounts ----------------------------------------------------------------------

    def fund_sol(self, address: str, sol: Decimal) -> None:
        self.rpc(
            "surfnet_setAccount",
            [address, {"lamports": int(sol.scaleb(LAMPORTS)), "owner": "1" * 32}],
        )

    def place_mints(self) -> None:
        rent = int(self.rpc("getMinimumBalanceForRentExemption", [82]))
        for mint in MINTS.values():
            self.rpc(
                "surfnet_setAccount",
                [
                    mint,
                    {
                        "lamports": rent,
                        "owner": str(TOKEN_PROGRAM),
                        "data": mint_data(TOKEN_DECIMALS, 10**15).hex(),
                        "executable": False,
                    },
                ],
            )

    def fund_tokens(self, owner: str, currency: str, amount: Decimal) -> None:
        self.rpc(
            "surfnet_setTokenAccount",
            [
                owner,
                MINTS[currency],
                {"amount": int(amount.scaleb(TOKEN_DECIMALS)), "state": "initialized"},
                str(TOKEN_PROGRAM),
            ],
        )

    def sol_balance(self, address: str) -> Decimal:
        value = self.rpc("getBalance", [address, {"commitment": "processed"}])["value"]
        return Decimal(int(value)).scaleb(-LAMPORTS)

    def token_balance(self, owner: str, currency: str) -> Decimal:
        """What `owner`'s associated token account holds (0 when it has none)."""
        ata = str(
            associated_token_account(Pubkey.from_string(owner), Pubkey.from_string(MINTS[currency]))
        )
        account = self.rpc(
            "getAccountInfo", [ata, {"encoding": "base64", "commitment": "processed"}]
        )
        if account["value"] is None:
            return Decimal(0)
        data = base64.b64decode(account["value"]["data"][0])
        return Decimal(int.from_bytes(data[64:72], "little")).scaleb(-TOKEN_DECIMALS)

    def has_account(self, address: str) -> bool:
        info = self.rpc(
            "getAccountInfo", [address, {"encoding": "base64", "commitment": "processed"}]
        )
        return info["value"] is not None

    def hot_wallet(self, sol: Decimal = WALLET_SOL, tokens: Decimal = WALLET_TOKENS) -> Keypair:
        """A fresh key, funded with SOL and with USDC and USDT."""
        wallet = Keypair()
        if sol:
            self.fund_sol(str(wallet.pubkey()), sol)
        if tokens:
            for currency in MINTS:
                self.fund_tokens(str(wallet.pubkey()), currency, tokens)
        return wallet

    def chains_file(self, directory: Path, *, confirmations: int = 2, extra: str = "") -> Path:
        """A chains file for this network; the hot wallet's key goes in KEY_ENV."""
        path = directory / "chains.toml"
        path.write_text(
            "[networks.SOL]\n"
            'adapter = "solana"\n'
            f'url = "{self.url}"\n'
            f'private_key_env = "{KEY_ENV}"\n'
            f"confirmations = {confirmations}\n"
            "batch_window_seconds = 0\n"
            f"{extra}"
        )
        return path


def _first_line(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise RuntimeError(f"surfnet.js printed nothing in {timeout:.0f} s")
    return proc.stdout.readline()


def start() -> Surfnet:
    _ensure_node_modules()
    nodejs = shutil.which("node")
    if nodejs is None:
        _unavailable("node is not installed: cannot run Surfpool")
        raise AssertionError("unreachable")
    proc = subprocess.Popen(
        [nodejs, "surfnet.js"],
        cwd=SOLANA_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        line = _first_line(proc, 60)
        if not line:
            raise RuntimeError(f"surfnet.js exited ({proc.wait(5)}) before starting Surfnet")
        hello = json.loads(line)
        net = Surfnet(
            url=str(hello["rpcUrl"]),
            payer=Keypair.from_bytes(bytes(hello["payerSecretKey"])),
            proc=proc,
            http=httpx.Client(timeout=30),
        )
        net.rpc("surfnet_pauseClock")
        net.place_mints()
    except BaseException:
        stop_group(proc)
        raise
    return net


_session = SessionNode(start)


def node() -> Surfnet:
    """The session's network, started on first use (skip or, in CI, fail without node)."""
    return _session.node()


def shutdown() -> None:
    _session.shutdown()


@pytest.fixture(scope="session")
def surfpool() -> Iterator[Surfnet]:
    """Import it into a test module to use it; every module shares the one network."""
    yield node()
    shutdown()


def secret_text(wallet: Keypair) -> str:
    """The key as wallets export it: base58 of the 64-byte keypair."""
    return base58.b58encode(bytes(wallet)).decode()


@asynccontextmanager
async def solana_chain(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[ChainUnderTest]:
    """The shared chain suite's Solana entry (tests/chains/contract_support.py): the
    adapter, built from a chains file, on a fresh funded hot wallet of its own."""
    net = node()
    wallet = net.hot_wallet()
    previous = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = secret_text(wallet)
    try:
        chain = SolanaChain.from_config(chains_config.load(net.chains_file(tmp_path))["SOL"])
    finally:
        if previous is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = previous

    async def new_address() -> str:
        return str(Keypair().pubkey())

    async def mine(blocks: int) -> None:
        net.mine(blocks)

    async def received(address: str) -> Decimal:
        return net.sol_balance(address)

    async def locked() -> frozenset[object]:
        return frozenset()  # a blockhash reserves nothing: no nonce, no coins

    from tests.chains.contract_support import ChainUnderTest  # it imports this module

    yield ChainUnderTest(
        chain,
        ASSETS[("SOL", "SOL")],
        new_address,
        mine,
        received,
        locked,
        prices_priority=True,
        amount=Decimal("0.5"),
        waits_for_mine=False,
        checksummed=False,
    )
