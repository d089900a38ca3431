"""A real `litecoind -regtest` for the UTXO adapter's tests (Debian's litecoind package).

One node per test session, started on the first test that asks for it, on free loopback
ports with a datadir of its own, and stopped at the end of the session. Its wallet
"miner" gets the coinbase of the first blocks (so it has mature coins to hand out);
"recipients" holds the addresses payouts are sent to, so what they received can be
read back. Tests that look at a hot wallet's balance or locks get a fresh wallet funded
by the miner (`hot_wallet`).

Skipped when litecoind is not installed, except under CI=true, where it fails: CI must
prove the adapter against a real node.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from payoutd.chains.utxo.adapter import UtxoChain
from payoutd.chains.utxo.rpc import RpcClient
from tests import support
from tests.chains.session import SessionNode

LITECOIND = (
    os.environ.get("PAYOUTD_TEST_LITECOIND") or shutil.which("litecoind") or "/usr/bin/litecoind"
)
USER = "payoutd"
PASSWORD = "regtest-" + uuid.uuid4().hex[:12]
PASSWORD_ENV = "PAYOUTD_TEST_LTC_RPC_PASSWORD"
# sat/vB by priority: the rates the tests' adapters use
FEE_RATES = {"economy": 1, "recommended": 2, "high": 5, "highest": 10}
START_BLOCKS = 150  # coinbases of blocks 1..50 are mature: 50 coins of 50 LTC


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Litecoind:
    proc: subprocess.Popen[bytes]
    datadir: Path
    rpc_port: int
    miner_address: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    def client(self, wallet: str | None = None) -> RpcClient:
        return RpcClient(self.url, username=USER, password=PASSWORD, wallet=wallet)

    async def call(self, method: str, *params: Any, wallet: str | None = None) -> Any:
        return await self.client(wallet).call(method, *params)

    def call_sync(
        self, method: str, *params: Any, wallet: str | None = None, timeout: float = 30
    ) -> Any:
        """For starting and stopping, outside any event loop."""
        url = self.url + (f"/wallet/{wallet}" if wallet else "")
        r = httpx.post(
            url,
            auth=(USER, PASSWORD),
            timeout=timeout,
            json={"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)},
        )
        answer = r.json()
        if answer.get("error"):
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def mine(self, blocks: int = 1) -> list[str]:
        hashes: list[str] = await self.call("generatetoaddress", blocks, self.miner_address)
        return hashes

    async def new_address(self, wallet: str = "recipients", kind: str = "bech32") -> str:
        address: str = await self.call("getnewaddress", "", kind, wallet=wallet)
        return address

    async def hot_wallet(self, *amounts: str) -> str:
        """A fresh wallet holding one confirmed coin per amount, paid by the miner."""
        name = f"hot-{uuid.uuid4().hex[:10]}"
        await self.call("createwallet", name)
        if amounts:
            payments = {}
            for amount in amounts:
                payments[await self.new_address(name)] = amount
            await self.call("sendmany", "", payments, wallet="miner")
            await self.mine(1)
        return name

    async def received(self, address: str, minconf: int = 0) -> Decimal:
        return Decimal(
            await self.call("getreceivedbyaddress", address, minconf, wallet="recipients")
        )

    async def mempool(self) -> list[str]:
        return list(await self.call("getrawmempool"))

    def chain(self, wallet: str, **options: Any) -> UtxoChain:
        """The adapter on `wallet`, at the configured fee rates (FEE_RATES) unless
        estimate_fees=True: a node that has mined transactions has estimates, and they
        would make the fees of a test depend on the tests before it."""
        options.setdefault("estimate_fees", False)
        return UtxoChain(
            "LTC",
            node=self.client(),
            wallet=self.client(wallet),
            wallet_name=wallet,
            net="regtest",
            confirmations=2,
            batch_window_seconds=0,
            fee_rates={k: Decimal(v) for k, v in FEE_RATES.items()},
            **options,
        )

    def chains_file(
        self, directory: Path, wallet: str, *, url: str | None = None, confirmations: int = 2
    ) -> Path:
        """A payoutd chains file mapping LTC to the utxo adapter at this node; the RPC
        password comes from PASSWORD_ENV (tests set it with monkeypatch)."""
        rates = ", ".join(f"{k} = {v}" for k, v in FEE_RATES.items())
        path = directory / f"chains-{wallet}.toml"
        path.write_text(
            "[networks.LTC]\n"
            'adapter = "utxo"\n'
            f'url = "{url or self.url}"\n'
            f'username = "{USER}"\n'
            f'password_env = "{PASSWORD_ENV}"\n'
            f'wallet = "{wallet}"\n'
            'net = "regtest"\n'
            f"confirmations = {confirmations}\n"
            "batch_window_seconds = 0\n"
            f"fee_rates = {{ {rates} }}\n"
            "estimate_fees = false\n"
        )
        return path

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.call_sync("stop", timeout=5)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.datadir, ignore_errors=True)


def start() -> Litecoind:
    datadir = Path(tempfile.mkdtemp(prefix="payoutd-litecoind-"))
    rpc_port, p2p_port = free_port(), free_port()
    log = (datadir / "stdout.log").open("wb")
    proc = subprocess.Popen(
        [
            LITECOIND,
            "-regtest",
            "-server",
            "-daemon=0",
            f"-datadir={datadir}",
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            f"-rpcport={rpc_port}",
            f"-port={p2p_port}",
            "-listen=0",
            "-dnsseed=0",
            "-discover=0",
            "-txindex=0",
            f"-rpcuser={USER}",
            f"-rpcpassword={PASSWORD}",
            "-fallbackfee=0.0001",
            "-keypool=20",
            "-printtoconsole=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    node = Litecoind(proc, datadir, rpc_port)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"litecoind exited with {proc.returncode}: "
                f"{(datadir / 'stdout.log').read_text()[-2000:]}"
            )
        try:
            node.call_sync("getblockchaininfo", timeout=2)
            break
        except (httpx.HTTPError, RuntimeError, ValueError):
            if time.monotonic() > deadline:
                node.stop()
                raise
            time.sleep(0.1)
    try:
        for wallet in ("miner", "recipients"):
            node.call_sync("createwallet", wallet)
        node.miner_address = node.call_sync("getnewaddress", wallet="miner")
        node.call_sync("generatetoaddress", START_BLOCKS, node.miner_address)
    except BaseException:
        node.stop()
        raise
    return node


def _start_installed() -> Litecoind:
    if not Path(LITECOIND).exists():
        if support.IN_CI:
            pytest.fail(
                f"litecoind is required in CI but {LITECOIND} is missing "
                "(apt-get install litecoind)"
            )
        pytest.skip(f"litecoind is not installed ({LITECOIND})")
    return start()


_session = SessionNode(_start_installed)


def node() -> Litecoind:
    """The session's node, started on first use (skip or, in CI, fail without one)."""
    return _session.node()


def shutdown() -> None:
    _session.shutdown()


@pytest.fixture(scope="session")
def litecoind() -> Iterator[Litecoind]:
    """Import it into a test module to use it; every module shares the one node."""
    yield node()
    shutdown()
