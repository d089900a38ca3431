"""`payoutd serve --role api --processes N`: several API processes on one port
(PostgreSQL), each with its own runtime, stopped together by one SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAYOUTD = ROOT / ".venv" / "bin" / "payoutd"

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(tmp_path: Path, database_url: str | None, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(
        PAYOUTD_DATA_DIR=str(tmp_path / "data"), PAYOUTD_PORT=str(port), PAYOUTD_LOG_LEVEL="warning"
    )
    if database_url:
        env["PAYOUTD_DATABASE_URL"] = database_url
    return env


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            if ppid == pid:
                found.add(int(entry.name))
    return found


def wait_until_serving(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Until the server answers /v1/ping (60 s at the most; its log if it died)."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        try:
            if httpx.get(f"{base}/v1/ping", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)


@pytest.mark.postgres
def test_several_api_processes_serve_one_port_and_stop_together(
    tmp_path: Path, pg_url: str
) -> None:
    port = free_port()
    env = env_for(tmp_path, pg_url, port)
    workers: set[int] = set()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(PAYOUTD), "serve", "--role", "api", "--processes", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        made = subprocess.run(
            [str(PAYOUTD), "merchant", "create", "Acme", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)["api_key"]
        wait_until_serving(proc, f"http://127.0.0.1:{port}", log)
        workers = {
            p
            for p in children(proc.pid)
            if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        }
        assert len(workers) == 2
        # every process answers with the same data (one database)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            for _ in range(20):
                r = client.get("/v1/balances")
                assert r.status_code == 200, r.text
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text()
    assert workers and not any(Path(f"/proc/{p}").exists() for p in workers)


@pytest.mark.parametrize(
    ("role", "pg", "says"),
    [
        ("api", False, "need PostgreSQL"),
        ("all", True, "use --role api"),
    ],
)
def test_several_processes_are_refused_where_they_cannot_work(
    tmp_path: Path, request: pytest.FixtureRequest, role: str, pg: bool, says: str
) -> None:
    url = request.getfixturevalue("pg_url") if pg else None
    done = subprocess.run(
        [str(PAYOUTD), "serve", "--role", role, "--processes", "2"],
        env=env_for(tmp_path, url, free_port()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert says in " ".join(done.stderr.split())
