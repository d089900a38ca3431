"""What every benchmark shares: processes, ports, wrk, PostgreSQL databases, seeding.

Nothing here changes payoutd: servers are the real `payoutd serve` console script (or, for
the HTTP ceiling only, bench/ceiling_app.py), configured through PAYOUTD_* variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
OUT = BENCH / "out"
LOGS = OUT / "logs"
WRK_DIR = BENCH / "wrk"
BIN = Path(sys.executable).parent
PAYOUTD = BIN / "payoutd"

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("BENCH_PG_ADMIN_DB", "test")

# What the load generators pay out: (currency, network, amount, kind of address). Every
# amount is worth more than the default 20 EUR minimum at the shipped sample rates.
TARGETS: tuple[tuple[str, str, str, str], ...] = (
    ("BTC", "BTC", "0.001", "btc"),
    ("LTC", "LTC", "0.5", "ltc"),
    ("DOGE", "DOGE", "200", "doge"),
    ("ETH", "ETH", "0.01", "eth"),
    ("USDT", "TRON", "25", "tron"),
    ("TRX", "TRON", "250", "tron"),
)
CURRENCIES = tuple(sorted({t[0] for t in TARGETS}))
DEPOSIT = Decimal("1000000000")  # per merchant and currency: never the limiting factor


def log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def quiet_logging() -> None:
    import logging

    os.environ.setdefault("PAYOUTD_LOG_LEVEL", "warning")
    logging.disable(logging.INFO)
    with contextlib.suppress(Exception):
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


# -- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    timeout: float = 60.0,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text()[-3000:] if log_path and log_path.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before answering:\n{tail}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak resident set) of a process, in kB, from /proc."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_tree(pid: int) -> list[int]:
    """`pid` and its live descendants (`serve --processes N` runs its API in children)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants, every thread, from
    /proc."""
    total = 0
    for member in process_tree(pid):
        if (fields := _stat(member)) is not None:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Proc:
    """A payoutd (or helper) process started by a benchmark, with its log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    peak_rss_kb: int = 0

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        handle.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def sample_memory(self) -> int:
        """The peak resident set, summed over the process and its descendants."""
        if self.proc is not None and self.proc.poll() is None:
            peak = sum(memory_kb(p).get("VmHWM", 0) for p in process_tree(self.pid))
            self.peak_rss_kb = max(self.peak_rss_kb, peak)
        return self.peak_rss_kb

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.sample_memory()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def server_env(
    port: int, *, data_dir: Path | None = None, database_url: str | None = None, **settings: Any
) -> dict[str, str]:
    """The environment of a payoutd process: the caller's, minus any PAYOUTD_* of its own,
    plus what the benchmark sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env["PAYOUTD_PORT"] = str(port)
    env["PAYOUTD_HOST"] = "127.0.0.1"
    env["PAYOUTD_LOG_LEVEL"] = os.environ.get("BENCH_LOG_LEVEL", "warning")
    if data_dir is not None:
        env["PAYOUTD_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["PAYOUTD_DATABASE_URL"] = database_url
    for key, value in settings.items():
        env[f"PAYOUTD_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def payoutd_argv(*args: str) -> list[str]:
    return [str(PAYOUTD), *args]


def start_payoutd(name: str, role: str, env: dict[str, str], *, wait: bool = True) -> Proc:
    p = Proc(name, payoutd_argv("serve", "--role", role), env, LOGS / f"{name}.log").start()
    if wait and role != "worker":
        wait_http(
            f"http://127.0.0.1:{env['PAYOUTD_PORT']}/metrics", proc=p.proc, log_path=p.log_path
        )
    return p


def cli_json(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [str(PAYOUTD), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"payoutd {' '.join(args)} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"payoutd-bench-{prefix}-"))
    try:
        yield path
    finally:
        if os.environ.get("BENCH_KEEP", "") != "1":
            shutil.rmtree(path, ignore_errors=True)


# -- wrk ---------------------------------------------------------------------------------


@dataclass
class WrkResult:
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int] = field(default_factory=dict)
    cpu_ms_per_request: float | None = None  # the server process's CPU time per request
    server_cpu_share: float | None = None  # its CPU seconds per second (1.0: one core)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "errors": self.errors,
            "cpu_ms_per_request": (
                round(self.cpu_ms_per_request, 3) if self.cpu_ms_per_request is not None else None
            ),
            "server_cpu_share": (
                round(self.server_cpu_share, 2) if self.server_cpu_share is not None else None
            ),
        }


def wrk_bin() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    url: str,
    *,
    connections: int,
    duration: float,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    threads: int = 2,
    timeout_s: int = 10,
    stop_after: Any = None,
    server_pid: int | None = None,
) -> WrkResult:
    """Runs wrk and reads the machine-readable line every bench/wrk script prints from its
    `done` hook. `stop_after`: a callable polled every 0.1 s; when it returns True, wrk
    is interrupted (SIGINT: it still reports what it measured). `server_pid`: the CPU
    time that process used during the run is reported per request (cpu_ms_per_request),
    a number the machine's other load moves much less than req/s."""
    exe = wrk_bin()
    if exe is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    threads = max(1, min(threads, connections))
    argv = [
        exe,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        str(script or WRK_DIR / "report.lua"),
        url,
    ]
    if script_args:
        argv += ["--", *script_args]
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if stop_after is not None:
        while proc.poll() is None:
            if stop_after():
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.1)
    out, err = proc.communicate(timeout=duration + 120)
    cpu_used = cpu_seconds(server_pid) - cpu_before if server_pid else None
    match = re.search(r"^WRK_RESULT (\{.*\})$", out, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no result line (exit {proc.returncode}):\n{out}\n{err}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    errors = {k.removeprefix("err_"): v for k, v in data.items() if k.startswith("err_") and v}
    return WrkResult(
        connections=connections,
        duration_s=seconds,
        requests=data["requests"],
        rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=errors,
        cpu_ms_per_request=(
            cpu_used * 1000 / data["requests"]
            if cpu_used is not None and data["requests"]
            else None
        ),
        server_cpu_share=(cpu_used / seconds if cpu_used is not None and seconds else None),
    )


# -- PostgreSQL ---------------------------------------------------------------------------


def pg_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PGHOST=PG_HOST, PGPORT=PG_PORT, PGUSER=PG_USER)
    return env


def psql(sql: str, db: str = PG_ADMIN_DB) -> str:
    done = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-Atq", "-d", db, "-c", sql],
        env=pg_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}")
    return done.stdout.strip()


def pg_available() -> bool:
    if shutil.which("psql") is None:
        return False
    try:
        return psql("SELECT 1") == "1"
    except (RuntimeError, subprocess.TimeoutExpired):
        return False


def pg_url(db: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def pg_free_connections() -> int:
    """Connections a benchmark may still open: max_connections, less the reserved ones,
    less those in use now (the other engineers' tests share this server)."""
    row = psql(
        "SELECT current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int"
        " - (SELECT count(*) FROM pg_stat_activity)"
    )
    return int(row)


@contextlib.contextmanager
def pg_database(purpose: str) -> Iterator[str]:
    name = f"payoutd_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- seeding ----------------------------------------------------------------------------


def addresses(kind: str, count: int) -> list[str]:
    """`count` distinct recipient addresses valid on mainnet rules for `kind`."""
    from embit import base58
    from embit.hashes import hash160

    from payoutd.chains.addressing import validate_address

    version = {"btc": b"\x00", "ltc": b"\x30", "doge": b"\x1e", "tron": b"\x41"}
    network = {"btc": "BTC", "ltc": "LTC", "doge": "DOGE", "tron": "TRON", "eth": "ETH"}[kind]
    found = []
    for i in range(count):
        digest = hash160(f"payoutd-bench-{kind}-{i}".encode())
        if kind == "eth":
            from eth_utils.address import to_checksum_address

            address = to_checksum_address("0x" + digest.hex())
        else:
            address = base58.encode_check(version[kind] + digest)
        found.append(validate_address(network, address))
    return found


@dataclass
class Merchant:
    id: str
    api_key: str


async def _seed(
    settings: Any,
    merchants: int,
    currencies: Sequence[str],
    endpoint_url: str | None,
    endpoint_events: list[str] | None,
    migrate_only: bool = False,
) -> list[Merchant]:
    from payoutd.bootstrap import build
    from payoutd.services import merchants as merchant_service
    from payoutd.services import webhooks
    from payoutd.store.migrate import upgrade

    rt = build(settings)
    try:
        await upgrade(rt.db.engine)
        made: list[Merchant] = []
        if migrate_only:
            return made
        for i in range(merchants):
            async with rt.db.unit() as uow:
                m, issued = await merchant_service.create_merchant(uow, rt.ctx, f"bench-{i}")
                for cur in currencies:
                    await merchant_service.deposit(
                        uow, rt.ctx, m.id, cur, DEPOSIT, actor="operator:bench"
                    )
                if endpoint_url:
                    await webhooks.create_endpoint(
                        uow,
                        rt.ctx,
                        m.id,
                        endpoint_url,
                        event_types=endpoint_events,
                        services=None,
                        description="bench receiver",
                    )
            made.append(Merchant(m.id, issued.plaintext))
        return made
    finally:
        await rt.close()


def seed(
    *,
    data_dir: Path | None = None,
    database_url: str | None = None,
    merchants: int,
    currencies: Sequence[str] = CURRENCIES,
    endpoint_url: str | None = None,
    endpoint_events: list[str] | None = None,
    **overrides: Any,
) -> list[Merchant]:
    """Migrates a fresh database and creates `merchants` merchants, each with its first key,
    a large balance in every currency and, optionally, a webhook endpoint."""
    from payoutd.config import Settings

    kwargs: dict[str, Any] = {"database_url": database_url, **overrides}
    if endpoint_url is not None:
        kwargs.setdefault("webhook_allow_private", True)  # the receiver is on 127.0.0.1
    if data_dir is not None:
        kwargs["data_dir"] = data_dir
    settings = Settings(**kwargs)
    return asyncio.run(_seed(settings, merchants, currencies, endpoint_url, endpoint_events))


def seeded_in_process(
    stack: contextlib.ExitStack, name: str, db: str, merchants: int, port: int
) -> tuple[list[Merchant], Path, str | None]:
    """For a tool that serves payoutd in its own process: a fresh seeded database (a data
    dir, or a PostgreSQL database with `db` "postgres") removed when `stack` closes, the
    wrk targets file, and this process's PAYOUTD_* environment pointing at them.
    Returns (merchants, targets file, database URL or None)."""
    tmp = stack.enter_context(temp_dir(name))
    url = None
    if db == "postgres":
        url = pg_url(stack.enter_context(pg_database(name.replace("-", "_"))))
    seeded = seed(data_dir=tmp / "data", database_url=url, merchants=merchants)
    targets = write_wrk_targets(tmp / "targets.txt", seeded)
    os.environ.update(server_env(port, data_dir=tmp / "data", database_url=url))
    return seeded, targets, url


def write_wrk_targets(path: Path, merchants: Sequence[Merchant], *, per_network: int = 16) -> Path:
    """The data file bench/wrk/payouts.lua reads: API keys and (currency, network, amount,
    address) targets with distinct valid recipients."""
    lines = [f"K {m.api_key}" for m in merchants]
    cache: dict[str, list[str]] = {}
    for i in range(per_network):
        for currency, network, amount, kind in TARGETS:
            addrs = cache.setdefault(kind, addresses(kind, per_network))
            lines.append(f"T {currency} {network} {amount} {addrs[i]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def sqlite_count(db_path: Path, sql: str) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def fmt_num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    align = align or ("l" + "r" * (len(header) - 1))
    marks = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# -- the webhook receiver -----------------------------------------------------------------


def start_receiver(name: str = "receiver") -> tuple[Proc, int]:
    port = free_port()
    proc = Proc(
        name,
        [sys.executable, "-m", "bench.receiver", "--port", str(port)],
        dict(os.environ),
        LOGS / f"{name}.log",
    ).start()
    wait_http(f"http://127.0.0.1:{port}/stats", proc=proc.proc, log_path=proc.log_path)
    return proc, port


def receiver_stats(port: int) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=10).json())


def receiver_reset(port: int) -> None:
    import httpx

    httpx.post(f"http://127.0.0.1:{port}/reset", timeout=10)
