"""payoutd as a real process for tests that need real HTTP: `payoutd serve --role api` on a
free loopback port (uvicorn, as deployed), stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PAYOUTD = Path(sys.executable).with_name("payoutd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(data_dir: Path, database_url: str | None, port: int, **settings: str) -> dict[str, str]:
    """The environment of a payoutd process: this one's without its PAYOUTD_* variables,
    then the data directory, the database, the port and `settings` (NAME=value for
    PAYOUTD_NAME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(
        PAYOUTD_DATA_DIR=str(data_dir),
        PAYOUTD_HOST="127.0.0.1",
        PAYOUTD_PORT=str(port),
        PAYOUTD_LOG_LEVEL="warning",
    )
    if database_url:
        env["PAYOUTD_DATABASE_URL"] = database_url
    env.update({f"PAYOUTD_{name.upper()}": value for name, value in settings.items()})
    return env


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def api_server(
    data_dir: Path, database_url: str | None, log: Path, **settings: str
) -> Iterator[Server]:
    """`payoutd serve --role api` (no worker: nothing is sent, no webhook delivered),
    ready to answer; stopped when the block ends."""
    with server("api", data_dir, database_url, log, **settings) as found:
        yield found


@contextmanager
def server(
    role: str, data_dir: Path, database_url: str | None, log: Path, **settings: str
) -> Iterator[Server]:
    """`payoutd serve --role <role>` (`all`: the API and the worker, which sends payouts
    and delivers webhooks), ready to answer; stopped when the block ends."""
    port = free_port()
    env = env_for(data_dir, database_url, port, **settings)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PAYOUTD), "serve", "--role", role], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, server.output()
            assert time.monotonic() < deadline, server.output()
            try:
                if httpx.get(f"{server.url}/v1/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
