"""A real local EVM node for the EVM adapter's tests: Hardhat 2's `hardhat node`.

One node per test session, started on the first test that asks for it (`node()`, or the
`hardhat` fixture) from tests/chains/evm with `npx hardhat node` on a free loopback port
(`npm ci` runs there first if node_modules is missing), and stopped at the end. It
deploys the test ERC-20 from the committed artifact (tests/chains/evm/artifacts/
TestToken.json, rebuilt with `npm run build-token`) and creates payoutd's hot wallet: a
fresh key in an encrypted keystore file, its passphrase in an environment variable,
funded with ETH and tokens. Without node/npm the tests skip locally and fail under
CI=true, as PostgreSQL's do.

Hardhat mines each transaction as it arrives (automine); confirmations come from
`mine()`, which asks for blocks with `evm_mine`. `evm_chain` is this node's entry in the
shared chain suite (tests/chains/contract_support.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.types import BlockIdentifier, RPCEndpoint, TxParams, Wei

from payoutd.chains import config as chains_config
from payoutd.chains.evm.adapter import EvmChain
from payoutd.domain.assets import ASSETS
from tests import support
from tests.chains.session import SessionNode, stop_group

if TYPE_CHECKING:
    from tests.chains.contract_support import ChainUnderTest

EVM_DIR = Path(__file__).parent / "evm"
ARTIFACT = EVM_DIR / "artifacts" / "TestToken.json"
CHAIN_ID = 31337
PASSPHRASE_ENV = "PAYOUTD_TEST_EVM_KEYSTORE_PASSPHRASE"
TOKEN_DECIMALS = 6
WALLET_ETH = Decimal(100)
WALLET_TOKENS = Decimal(1_000_000)
# Hardhat's first default account: publicly known, unlocked on the node, 10000 ETH
FUNDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def _unavailable(reason: str) -> None:
    if support.IN_CI:
        pytest.fail(f"the local EVM node is required in CI: {reason}")
    pytest.skip(reason)


def _ensure_node_modules() -> None:
    if (EVM_DIR / "node_modules" / "hardhat").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _unavailable("node/npm are not installed: cannot run Hardhat")
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=EVM_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        _unavailable(f"npm ci in {EVM_DIR} failed: {done.stderr[-2000:]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HardhatNode:
    url: str
    w3: Web3
    token: str  # the TestToken contract
    token_abi: list[dict[str, Any]]
    workdir: Path
    proc: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)
    # known to the tests only, to prove it never shows up in a log
    passphrase: str = field(repr=False)
    previous_env: str | None = field(default=None, repr=False)
    # the hot wallet the end-to-end tests share
    keystore: Path = field(default=Path(), repr=False)
    wallet: str = ""
    wallet_key: str = field(default="", repr=False)

    def hot_wallet(
        self, directory: Path, eth: Decimal = WALLET_ETH, tokens: Decimal = WALLET_TOKENS
    ) -> tuple[Path, str, str]:
        """A fresh key in an encrypted keystore file (the session's passphrase), funded
        with ETH and tokens: (keystore, address, private key hex)."""
        account = Account.create()
        keystore = directory / f"hot-wallet-{account.address[2:10].lower()}.json"
        # scrypt as geth writes it, with a small work factor so each runtime unlocks fast
        keystore.write_text(
            json.dumps(
                Account.encrypt(account.key, self.passphrase, kdf="scrypt", iterations=2**14)
            )
        )
        keystore.chmod(0o600)
        if eth:
            self.send_eth(account.address, eth)
        if tokens:
            self.mint(account.address, tokens)
        return keystore, str(account.address), bytes(account.key).hex()

    def set_automine(self, on: bool) -> None:
        self.w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [on])

    def stop(self) -> None:
        stop_group(self.proc)
        if self.previous_env is None:
            os.environ.pop(PASSPHRASE_ENV, None)
        else:
            os.environ[PASSPHRASE_ENV] = self.previous_env
        shutil.rmtree(self.workdir, ignore_errors=True)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    def balance(self, address: str) -> Decimal:
        return Decimal(self.w3.eth.get_balance(Web3.to_checksum_address(address))).scaleb(-18)

    def token_balance(self, address: str) -> Decimal:
        units = self.contract.functions.balanceOf(Web3.to_checksum_address(address)).call()
        return Decimal(units).scaleb(-TOKEN_DECIMALS)

    @property
    def contract(self) -> Any:
        return self.w3.eth.contract(
            address=Web3.to_checksum_address(self.token), abi=self.token_abi
        )

    def _transact(self, tx: TxParams) -> None:
        txhash = self.w3.eth.send_transaction(tx)
        if not self.w3.provider.make_request(RPCEndpoint("hardhat_getAutomine"), [])["result"]:
            self.mine(1)
        receipt = self.w3.eth.wait_for_transaction_receipt(txhash, timeout=30)
        assert receipt["status"] == 1, receipt

    def send_eth(self, to: str, amount: Decimal) -> None:
        self._transact(
            {
                "from": FUNDER,
                "to": Web3.to_checksum_address(to),
                "value": Wei(int(amount.scaleb(18))),
            }
        )

    def mint(self, to: str, amount: Decimal) -> None:
        self._transact(
            self.contract.functions.mint(
                Web3.to_checksum_address(to), int(amount.scaleb(TOKEN_DECIMALS))
            ).build_transaction({"from": FUNDER})
        )

    def block_recipient(self, address: str, blocked: bool = True) -> None:
        """Token transfers to `address` revert from now on (TestToken.setBlocked)."""
        self._transact(
            self.contract.functions.setBlocked(
                Web3.to_checksum_address(address), blocked
            ).build_transaction({"from": FUNDER})
        )

    def nonce(self, address: str | None = None, block: BlockIdentifier = "pending") -> int:
        return int(
            self.w3.eth.get_transaction_count(
                Web3.to_checksum_address(address or self.wallet), block
            )
        )

    def sent_by_wallet(self, since_block: int, wallet: str | None = None) -> list[dict[str, Any]]:
        """Every transaction the hot wallet sent in blocks after `since_block`."""
        sender = Web3.to_checksum_address(wallet or self.wallet)
        found = []
        for number in range(since_block + 1, self.w3.eth.block_number + 1):
            block = self.w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                assert not isinstance(tx, bytes)  # full transactions, not hashes
                if tx["from"] == sender:
                    found.append(
                        {
                            "hash": "0x" + bytes(tx["hash"]).hex(),
                            "nonce": int(tx["nonce"]),
                            "to": tx["to"],
                            "block": number,
                        }
                    )
        return found

    def chains_file(
        self,
        directory: Path,
        *,
        confirmations: int = 2,
        keystore: Path | None = None,
        extra: str = "",
    ) -> Path:
        path = directory / "chains.toml"
        path.write_text(
            "[networks.ETH]\n"
            'adapter = "evm"\n'
            f'url = "{self.url}"\n'
            f"chain_id = {CHAIN_ID}\n"
            'net = "test"\n'
            f'keystore = "{keystore or self.keystore}"\n'
            f'passphrase_env = "{PASSPHRASE_ENV}"\n'
            f"confirmations = {confirmations}\n"
            "batch_window_seconds = 0\n"
            'token_fee = "1"\n'
            f"{extra}"
            "\n[networks.ETH.tokens]\n"
            f'USDT = "{self.token}"\n'
        )
        return path


def _wait_for_rpc(w3: Web3, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"hardhat node exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        try:
            if w3.eth.chain_id == CHAIN_ID:
                return
        except Exception:
            time.sleep(0.25)
    raise RuntimeError(f"hardhat node did not answer in 90 s:\n{log_path.read_text()[-3000:]}")


def start() -> HardhatNode:
    _ensure_node_modules()
    npx = shutil.which("npx")
    if npx is None:
        _unavailable("npx is not installed: cannot run Hardhat")
        raise AssertionError("unreachable")
    workdir = Path(tempfile.mkdtemp(prefix="payoutd-hardhat-"))
    port = _free_port()
    log_path = workdir / "hardhat-node.log"
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "CI": "true"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [npx, "--no", "hardhat", "node", "--hostname", "127.0.0.1", "--port", str(port)],
            cwd=EVM_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        _wait_for_rpc(w3, proc, log_path)
        artifact = json.loads(ARTIFACT.read_text())
        deploy = w3.eth.send_transaction({"from": FUNDER, "data": artifact["bytecode"]})
        token = w3.eth.wait_for_transaction_receipt(deploy, timeout=30)["contractAddress"]
        assert token, "TestToken did not deploy"
        node = HardhatNode(
            url=url,
            w3=w3,
            token=str(token),
            token_abi=artifact["abi"],
            workdir=workdir,
            proc=proc,
            log_path=log_path,
            passphrase=secrets.token_urlsafe(24),
        )
        node.previous_env = os.environ.get(PASSPHRASE_ENV)
        os.environ[PASSPHRASE_ENV] = node.passphrase
        node.keystore, node.wallet, node.wallet_key = node.hot_wallet(workdir)
    except BaseException:
        stop_group(proc)
        raise
    return node


_session = SessionNode(start)


def node() -> HardhatNode:
    """The session's node, started on first use (skip or, in CI, fail without npm)."""
    return _session.node()


def shutdown() -> None:
    _session.shutdown()


@pytest.fixture(scope="session")
def hardhat() -> Iterator[HardhatNode]:
    """Import it into a test module to use it; every module shares the one node."""
    yield node()
    shutdown()


@asynccontextmanager
async def evm_chain(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[ChainUnderTest]:
    """The shared chain suite's EVM entry (tests/chains/contract_support.py): the adapter,
    built from a chains file, on a fresh funded hot wallet of its own, with automining
    off so a broadcast transaction waits in the mempool until `mine`."""
    hh = node()
    keystore, wallet, _ = hh.hot_wallet(tmp_path)
    cfg = chains_config.load(hh.chains_file(tmp_path, keystore=keystore))["ETH"]
    chain = EvmChain.from_config(cfg)

    async def new_address() -> str:
        return str(Account.create().address)

    async def mine(blocks: int) -> None:
        hh.mine(blocks)

    async def received(address: str) -> Decimal:
        units = hh.w3.eth.get_balance(Web3.to_checksum_address(address), "pending")
        return Decimal(units).scaleb(-18)

    async def locked() -> frozenset[object]:
        # nothing is reserved on an account chain: what must not move is the wallet's
        # next nonce (a prepared, released run took none)
        return frozenset({hh.nonce(wallet)})

    from tests.chains.contract_support import ChainUnderTest  # it imports this module

    hh.set_automine(False)
    try:
        yield ChainUnderTest(
            chain,
            ASSETS[("ETH", "ETH")],
            new_address,
            mine,
            received,
            locked,
            prices_priority=True,
            amount=Decimal("0.5"),
        )
    finally:
        hh.set_automine(True)
        hh.mine(1)  # whatever a test left in the mempool
