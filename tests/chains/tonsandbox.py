"""The official TON emulator (@ton/sandbox) behind a thin toncenter-v2 front, for the TON
adapter's tests (tests/chains/ton/server.js says what is real and what is the test's).

One server per test session, started on first use (`node()`, or the `tonsandbox`
fixture) from tests/chains/ton (`npm ci` runs there first if node_modules is missing),
and stopped at the end. Blocks are made on demand (`mine`) unless `automine` is on.
Without node/npm the tests skip locally and fail under CI=true, as PostgreSQL's do.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from pytoniq_core.boc import begin_cell
from pytoniq_core.boc.address import Address
from pytoniq_core.boc.cell import Cell
from pytoniq_core.boc.slice import Slice

from tests import support
from tests.chains.session import SessionNode

if TYPE_CHECKING:
    from tests.chains.contract_support import ChainUnderTest

TON_DIR = Path(__file__).parent / "ton"
NANO = 9
JETTON_DECIMALS = 6
COMMENT_OP = 0
TRANSFER_NOTIFICATION_OP = 0x7362D09C


def _unavailable(reason: str) -> None:
    if support.IN_CI:
        pytest.fail(f"the TON emulator is required in CI: {reason}")
    pytest.skip(reason)


def _ensure_node_modules() -> None:
    if (TON_DIR / "node_modules" / "@ton" / "sandbox").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _unavailable("node/npm are not installed: cannot run the TON emulator")
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=TON_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        _unavailable(f"npm ci in {TON_DIR} failed: {done.stderr[-2000:]}")


@dataclass
class Received:
    """One message an address got: its value (TON, or jetton units for a notification),
    its comment, and whether it was a jetton transfer_notification."""

    value: Decimal
    comment: str | None
    jetton: bool
    source: str


@dataclass
class TonSandbox:
    url: str
    proc: subprocess.Popen[bytes] = field(repr=False)
    workdir: Path = field(repr=False)
    jetton_master: str = ""

    def call(self, name: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        if body is None:
            r = httpx.get(f"{self.url}/{name}", params=params, timeout=60)
        else:
            r = httpx.post(f"{self.url}/{name}", json=body, timeout=60)
        data = r.json()
        if not data.get("ok"):
            raise RuntimeError(f"{name}: {data.get('error')}")
        return data["result"]

    def mine(self, blocks: int = 1) -> None:
        self.call("sandbox/mine", {"blocks": blocks})

    def automine(self, block_ms: int) -> None:
        self.call("sandbox/automine", {"block_ms": block_ms})

    def fund(self, address: str, ton: Decimal) -> None:
        self.call("sandbox/fund", {"address": address, "amount": str(int(ton.scaleb(NANO)))})

    def deploy_jetton(self) -> str:
        return str(self.call("sandbox/jetton", {})["address"])

    def mint(self, master: str, to: str, amount: Decimal) -> None:
        units = int(amount.scaleb(JETTON_DECIMALS))
        self.call("sandbox/mint", {"master": master, "to": to, "amount": str(units)})

    def balance(self, address: str) -> Decimal:
        info = self.call("getAddressInformation", address=address)
        return Decimal(int(info["balance"])).scaleb(-NANO)

    def seqno(self, address: str) -> int:
        return int(self.call("getWalletInformation", address=address).get("seqno", 0))

    def transactions(self, address: str, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.call("getTransactions", address=address, limit=str(limit)))

    def received(self, address: str) -> list[Received]:
        """What arrived at `address`, read back from its own transactions (oldest first)."""
        found = []
        for tx in reversed(self.transactions(address)):
            msg = tx["in_msg"]
            if not msg or not msg["source"]:
                continue  # an external message: the account's own
            body = Cell.one_from_boc(base64.b64decode(msg["msg_data"]["body"])).begin_parse()
            value = Decimal(int(msg["value"])).scaleb(-NANO)
            jetton = False
            comment = None
            if body.remaining_bits >= 32:
                op = body.load_uint(32)
                if op == COMMENT_OP:
                    comment = _snake_text(body)
                elif op == TRANSFER_NOTIFICATION_OP:
                    jetton = True
                    body.load_uint(64)  # query_id
                    value = Decimal(body.load_coins()).scaleb(-JETTON_DECIMALS)
                    body.load_address()  # the sender (our hot wallet)
                    payload = body.load_ref().begin_parse() if body.load_bit() else body
                    if payload.remaining_bits >= 32 and payload.load_uint(32) == COMMENT_OP:
                        comment = _snake_text(payload)
            found.append(Received(value, comment, jetton, str(msg["source"])))
        return found

    def jetton_balance(self, master: str, owner: str) -> Decimal:
        wallet = self.jetton_wallet(master, owner)
        answer = self.call(
            "runGetMethod", {"address": wallet, "method": "get_wallet_data", "stack": []}
        )
        if answer["exit_code"] != 0:
            return Decimal(0)
        return Decimal(int(answer["stack"][0][1], 16)).scaleb(-JETTON_DECIMALS)

    def jetton_wallet(self, master: str, owner: str) -> str:
        arg = begin_cell().store_address(Address(owner)).end_cell()
        answer = self.call(
            "runGetMethod",
            {
                "address": master,
                "method": "get_wallet_address",
                "stack": [["tvm.Slice", base64.b64encode(arg.to_boc()).decode()]],
            },
        )
        cell = Cell.one_from_boc(base64.b64decode(answer["stack"][0][1]["bytes"]))
        return str(cell.begin_parse().load_address().to_str(is_user_friendly=False))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _snake_text(body: Slice) -> str:
    """A text comment: bytes in this cell and its chain of first references."""
    out = b""
    while True:
        out += body.load_bytes(body.remaining_bits // 8)
        if not body.remaining_refs:
            return out.decode("utf-8")
        body = body.load_ref().begin_parse()


def new_address_raw() -> str:
    """A fresh wallet address no account holds yet (raw form)."""
    return f"0:{os.urandom(32).hex()}"


def wallet_key() -> str:
    """A fresh ed25519 seed, 64 hex digits, as the adapter takes it from the environment."""
    return os.urandom(32).hex()


def start() -> TonSandbox:
    _ensure_node_modules()
    node_bin = shutil.which("node")
    if node_bin is None:
        _unavailable("node is not installed")
        raise AssertionError("unreachable")
    workdir = Path(tempfile.mkdtemp(prefix="payoutd-ton-"))
    log_path = workdir / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [node_bin, str(TON_DIR / "server.js")],
        cwd=TON_DIR,
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(120)
    if not line or not line[0]:
        proc.kill()
        proc.wait()
        _unavailable(f"the TON emulator did not start: {log_path.read_text()[-2000:]}")
    url = str(json.loads(line[0])["url"])
    sandbox = TonSandbox(url=url, proc=proc, workdir=workdir)
    sandbox.jetton_master = sandbox.deploy_jetton()
    return sandbox


_session = SessionNode(start)


def node() -> TonSandbox:
    """The session's emulator, started on first use (skip or, in CI, fail without npm)."""
    return _session.node()


def shutdown() -> None:
    _session.shutdown()


@pytest.fixture(scope="session")
def tonsandbox() -> Iterator[TonSandbox]:
    """Import it into a test module to use it; every module shares the one emulator."""
    yield node()
    shutdown()


# --- the hot wallet and the adapter, as a chains file builds them ------------------------

KEY_ENV = "PAYOUTD_TEST_TON_SECRET_KEY"


def friendly(address: str, *, bounceable: bool = False) -> str:
    """The user-friendly form of an address (UQ.. non-bounceable, EQ.. bounceable)."""
    return str(
        Address(address).to_str(is_user_friendly=True, is_bounceable=bounceable, is_url_safe=True)
    )


def chains_file(directory: Path, sandbox: TonSandbox, **options: Any) -> Path:
    """A chains file for TON on this emulator; the key comes from KEY_ENV."""
    options = {
        "secret_key_env": KEY_ENV,
        "jettons": {"USDT": sandbox.jetton_master},
        **options,
    }
    lines = [
        "[networks.TON]",
        'adapter = "ton"',
        f'url = "{sandbox.url}"',
        "confirmations = 2",
        "batch_window_seconds = 0",
    ]
    for key, value in options.items():
        if isinstance(value, dict):
            table = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {table} }}")
        elif value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    path = directory / "chains.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def hot_wallet_env(
    sandbox: TonSandbox, ton: Decimal = Decimal(100), usdt: Decimal = Decimal(0)
) -> Iterator[str]:
    """A fresh key in KEY_ENV, its wallet funded (not yet deployed: its first message
    deploys it). Yields the wallet's raw address."""
    from payoutd.chains.ton.wallet import HotWallet

    previous = os.environ.get(KEY_ENV)
    secret = wallet_key()
    os.environ[KEY_ENV] = secret
    address = HotWallet(bytes.fromhex(secret)).address
    if ton:
        sandbox.fund(address, ton)
    if usdt:
        sandbox.mint(sandbox.jetton_master, address, usdt)
    try:
        yield address
    finally:
        if previous is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = previous


@asynccontextmanager
async def ton_chain(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[ChainUnderTest]:
    """The shared chain suite's TON entry (tests/chains/contract_support.py): the adapter,
    built from a chains file, on a fresh funded hot wallet of its own; blocks come only
    from `mine`, so a sent message waits until then."""
    from payoutd.chains import config as chains_config
    from payoutd.chains.ton.adapter import TonChain
    from payoutd.domain.assets import ASSETS
    from tests.chains.contract_support import ChainUnderTest  # it imports this module

    sandbox = node()
    sandbox.automine(0)
    with hot_wallet_env(sandbox) as wallet:
        chain = TonChain.from_config(chains_config.load(chains_file(tmp_path, sandbox))["TON"])

        async def new_address() -> str:
            return friendly(new_address_raw())

        async def mine(blocks: int) -> None:
            sandbox.mine(blocks)

        async def received(address: str) -> Decimal:
            return sum((r.value for r in sandbox.received(address)), Decimal(0))

        async def locked() -> frozenset[object]:
            # nothing is reserved: what must not move is the wallet's next seqno
            return frozenset({sandbox.seqno(wallet)})

        try:
            yield ChainUnderTest(
                chain,
                ASSETS[("TON", "TON")],
                new_address,
                mine,
                received,
                locked,
                prices_priority=False,
                amount=Decimal("0.5"),
            )
        finally:
            sandbox.mine(1)  # whatever a test left waiting
