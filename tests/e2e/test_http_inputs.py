"""The body limit and the documentation pages over real HTTP (`payoutd serve --role api`,
uvicorn): a body over the limit is answered 413 before it is sent whole, whether its
length is stated or it comes in chunks, and /docs needs no other host."""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests import live

pytestmark = pytest.mark.e2e

LIMIT = 64 * 1024
TEN_MB = 10 * 1024 * 1024
BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[live.Server, str]]:
    """A server on SQLite, with a merchant holding 1 BTC: (server, its key)."""
    data = tmp_path_factory.mktemp("http-inputs")
    with live.api_server(data, None, data / "serve.log", min_payout_eur="0") as srv:
        env = live.env_for(data, None, 0)
        made = subprocess.run(
            [str(live.PAYOUTD), "merchant", "create", "Acme", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        merchant = json.loads(made.stdout)
        subprocess.run(
            [str(live.PAYOUTD), "deposit", merchant["merchant_id"], "BTC", "1"],
            env=env,
            capture_output=True,
            timeout=60,
            check=True,
        )
        yield srv, merchant["api_key"]


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one response on the connection, read until the
    server closes it."""
    data = b""
    sock.settimeout(10)
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        k.strip().lower(): v.strip()
        for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
    }
    return int(lines[0].split()[1]), headers, body


def _request_head(length: str | None) -> bytes:
    framing = f"Content-Length: {length}" if length else "Transfer-Encoding: chunked"
    return (
        f"POST /v1/payouts HTTP/1.1\r\nHost: payoutd\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()


def test_a_stated_length_over_the_limit_is_refused_before_the_body(
    server: tuple[live.Server, str],
) -> None:
    srv, _ = server
    with _connect(srv.url) as sock:
        sock.sendall(_request_head(str(TEN_MB)))  # and not a byte of the body
        status, headers, body = _response(sock)  # the server answers and closes
    assert status == 413, body
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert headers["connection"] == "close"


def test_a_chunked_body_is_refused_once_past_the_limit(server: tuple[live.Server, str]) -> None:
    srv, _ = server
    chunk = b" " * 8192
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with _connect(srv.url) as sock:
        sock.sendall(_request_head(None))
        deadline = time.monotonic() + 30
        while sent < TEN_MB and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the answer came while the body was still being sent
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            time.sleep(0.001)
        status, headers, body = _response(sock)
    assert headers["connection"] == "close"
    assert status == 413, body
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    # answered at the limit; what was sent after it sat in the sockets' buffers
    assert sent < TEN_MB / 4, sent


def test_a_chunked_body_within_the_limit_is_taken(server: tuple[live.Server, str]) -> None:
    srv, key = server
    body = json.dumps(
        {
            "amount": "0.01",
            "currency": "BTC",
            "address": BTC_ADDR,
            "metadata": {f"k{i}": "v" * 500 for i in range(50)},
        }
    ).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    r = httpx.post(
        f"{srv.url}/v1/payouts",
        content=chunks(),
        timeout=30,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.request.headers.get("transfer-encoding") == "chunked"


def test_the_docs_are_served_by_payoutd_itself(server: tuple[live.Server, str]) -> None:
    srv, _ = server
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{srv.url}{page}", timeout=10).text
        assert "http://" not in html and "https://" not in html, html
        for ref in _refs(html):
            r = httpx.get(f"{srv.url}{ref}", timeout=10)
            assert r.status_code == 200 and len(r.content) > 1000, ref


def _refs(html: str) -> list[str]:
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(ref.startswith("/") for ref in refs), refs
    return refs


def test_the_serve_log_has_no_traceback(server: tuple[live.Server, str]) -> None:
    srv, _ = server
    assert "Traceback" not in srv.output(), srv.output()[-5000:]
