"""The API's input surface, on SQLite and PostgreSQL: what a request may carry and the
one answer to what it may not, on both paths of `POST /v1/payouts` (the payout lane
and the FastAPI route). The refusals one by one are in test_errors.py; here: what is
taken, the limits at their edges, every route and the documentation pages."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from payoutd.api.v1 import pagination
from payoutd.api.v1.schemas import (
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
)
from payoutd.domain.errors import PayoutdError
from payoutd.domain.money import DECIMAL_PATTERN, parse_decimal
from tests import support
from tests.support import Harness, Merchant

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
PAYOUT = {"amount": "0.01", "currency": "BTC", "address": BTC_ADDR}
# the header that sends a request to the route instead of the lane (test_payout_lane.py)
TO_ROUTE = {"x-payoutd-signature": "sent-to-the-route"}
PATHS = {"lane": {}, "route": TO_ROUTE}


async def post_payout(h: Harness, m: Merchant, path: str, body: Any) -> Any:
    return await h.client.post("/v1/payouts", json=body, headers={**m.headers, **PATHS[path]})


@pytest.mark.parametrize("path", list(PATHS))
async def test_execute_at_with_an_offset_is_one_instant_shown_in_utc(h: Harness, path: str) -> None:
    m = await h.merchant(BTC="1")
    r = await post_payout(h, m, path, {**PAYOUT, "execute_at": "2030-01-01T09:00:00+01:00"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["status"], created["execute_at"]) == ("scheduled", "2030-01-01T08:00:00Z")
    r = await h.client.get(f"/v1/payouts/{created['id']}", headers=m.headers)
    assert r.json()["execute_at"] == "2030-01-01T08:00:00Z"
    for edge in ("2000-01-01T00:00:00Z", "2200-12-31T23:59:59Z"):
        r = await post_payout(h, m, path, {**PAYOUT, "execute_at": edge})
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("path", list(PATHS))
async def test_metadata_at_its_limits_is_taken_and_read_back(h: Harness, path: str) -> None:
    m = await h.merchant(BTC="1")
    metadata = {
        f"{i:02d}".ljust(METADATA_KEY_MAX, "k"): "é" * METADATA_VALUE_MAX
        for i in range(METADATA_MAX_KEYS)
    }
    r = await post_payout(h, m, path, {**PAYOUT, "metadata": metadata})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"] == metadata
    r = await h.client.get(f"/v1/payouts/{r.json()['id']}", headers=m.headers)
    assert r.status_code == 200 and r.json()["metadata"] == metadata
    r = await h.client.get("/v1/payouts", headers=m.headers)
    assert r.status_code == 200 and r.json()["data"][0]["metadata"] == metadata


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("amount", ["0.5", "1", "1.50", "10"])
async def test_canonical_amounts_are_taken(h: Harness, path: str, amount: str) -> None:
    m = await h.merchant(BTC="11")
    r = await post_payout(h, m, path, {**PAYOUT, "amount": amount})
    assert r.status_code == 201, r.text


def test_the_amount_pattern_published_is_the_one_enforced() -> None:
    samples = [
        "0",
        "0.5",
        "1.50",
        "10",
        "1" * 20,
        "0." + "1" * 18,
        "1" * 21,
        "0." + "1" * 19,
        "00",
        "01",
        "00000.3",
        " 0.3 ",
        "0.3\n",
        "1.",
        ".5",
        "1e3",
        "-1",
        "+1",
        "1_000",
        "\u0661",
        "0x1",
        "",
        "1.2.3",
    ]
    for text in samples:
        try:
            parse_decimal(text)
            taken = True
        except ValueError:
            taken = False
        # the OpenAPI pattern is an ECMA regex: its `$` matches only at the end
        published = re.fullmatch(DECIMAL_PATTERN.removeprefix("^").removesuffix("$"), text)
        assert taken == bool(published), text


# -- the body limit ------------------------------------------------------------------


@pytest.fixture
async def small(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness whose operator set the body limits to 2 KiB (a mass payout's file has
    a limit of its own, set alike here)."""
    settings = support.test_settings(
        tmp_path, database_url, request_body_max_bytes=2048, import_body_max_bytes=2048
    )
    async with support.harness(settings, truncate=database_url is not None) as h:
        yield h


@pytest.mark.parametrize("path", list(PATHS))
async def test_the_body_limit_is_the_operators(small: Harness, path: str) -> None:
    h = small
    m = await h.merchant(BTC="1")
    within = {**PAYOUT, "comment": "c" * 1000}
    r = await post_payout(h, m, path, within)
    assert r.status_code == 201, r.text
    r = await post_payout(h, m, path, {**PAYOUT, "comment": "c" * 2048})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    assert r.headers["connection"] == "close"


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(small: Harness) -> None:
    """Without a Content-Length (chunked transfer encoding) the body is counted as it
    arrives, and refused without reading the rest."""
    h = small
    m = await h.merchant(BTC="1")
    sent = 0

    async def ten_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(10 * 1024):
            sent += 1024
            yield b" " * 1024

    r = await h.client.post(
        "/v1/payouts",
        content=ten_megabytes(),
        headers={**m.headers, "content-type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"
    assert sent <= 4 * 1024  # read up to the limit and one chunk more, no further

    async def small_body() -> AsyncIterator[bytes]:
        body = json.dumps(PAYOUT).encode()
        for i in range(0, len(body), 10):
            yield body[i : i + 10]

    r = await h.client.post(
        "/v1/payouts",
        content=small_body(),
        headers={**m.headers, "content-type": "application/json"},
    )
    assert r.status_code == 201, r.text


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


async def test_every_route_refuses_a_body_over_the_limit(small: Harness) -> None:
    h = small
    m = await h.merchant(BTC="1")
    document = (await h.client.get("/openapi.json")).json()
    big = b"{" + b" " * 4096 + b"}"
    for method, path in operations(document):
        concrete = re.sub(r"{[^}]+}", "x", path)
        r = await h.client.request(
            method, concrete, content=big, headers={**m.headers, "content-type": "application/json"}
        )
        assert r.status_code == 413, (method, path, r.text)
        assert r.json()["error"]["code"] == "payload_too_large"
        if method != "GET" and "requestBody" in document["paths"][path][method.lower()]:
            # and the document says so where a body is expected
            assert "413" in document["paths"][path][method.lower()]["responses"], path


# -- methods -------------------------------------------------------------------------


async def test_a_405_lists_every_method_of_its_path(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    document = (await h.client.get("/openapi.json")).json()
    for path, item in document["paths"].items():
        documented = {method.upper() for method in item}
        concrete = re.sub(r"{[^}]+}", "x", path)
        for method in ("OPTIONS", "PATCH", *({"GET", "POST", "PUT", "DELETE"} - documented)):
            r = await h.client.request(method, concrete, headers=m.headers)
            assert r.status_code == 405, (method, path, r.text)
            assert r.json()["error"]["code"] == "method_not_allowed"
            assert set(r.headers["allow"].split(", ")) == documented, (method, path)


# -- cursors -------------------------------------------------------------------------


def test_a_cursor_reads_back_only_as_issued() -> None:
    position = "01a1f000-0000-7000-8000-000000000000"
    cursor = pagination.encode(position)
    assert pagination.decode(cursor) == position
    assert pagination.decode_seq(pagination.encode("42")) == 42
    assert pagination.decode_seq(pagination.encode(str(2**63 - 1))) == 2**63 - 1
    assert pagination.decode(None) is None and pagination.decode("") is None

    def raw(text: bytes) -> str:
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    refused = [
        cursor + "=",
        cursor + "==",
        cursor[:-1],
        cursor.upper(),
        f" {cursor}",
        cursor[:-1] + "+",
        "!" + cursor,
        raw(b"v1:" + position.upper().encode()),
        raw(b"v2:" + position.encode()),
        raw(b"v1:\x00"),
        raw(b"v1:\xff"),
        pagination.encode("42"),
        "é",
        "a" * 200,
    ]
    for bad in refused:
        with pytest.raises(PayoutdError) as caught:
            pagination.decode(bad)
        assert (caught.value.code, caught.value.status) == ("invalid_cursor", 400), bad
    for bad in [
        pagination.encode(str(2**63)),
        pagination.encode("-1"),
        pagination.encode("07"),
        pagination.encode(position),
        pagination.encode("4 2"),
    ]:
        with pytest.raises(PayoutdError):
            pagination.decode_seq(bad)


async def test_pages_follow_their_cursors(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    made = []
    for _ in range(3):
        r = await h.client.post("/v1/payouts", json=PAYOUT, headers=m.headers)
        made.append(r.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await h.client.get("/v1/payouts", params=params, headers=m.headers)).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


# -- the documentation pages ---------------------------------------------------------


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_nothing_from_another_host(h: Harness, page: str) -> None:
    r = await h.client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), html
    refs = _References()
    refs.feed(html)
    assert len(refs.found) >= 2, html  # the script and the favicon at least
    for ref in refs.found:
        assert ref.startswith("/"), ref
        asset = await h.client.get(ref)
        assert asset.status_code == 200 and len(asset.content) > 1000, ref
    # Swagger UI reads the OpenAPI document from payoutd and asks no validator outside
    assert "/openapi.json" in html
    if page == "/docs":
        assert '"validatorUrl": null' in html
        assert (await h.client.get("/openapi.json")).json()["openapi"].startswith("3.1")
        script = next(ref for ref in refs.found if ref.endswith(".js"))
        bundle = (await h.client.get(script)).text
        # Swagger UI 5 renders OpenAPI 3.1 (4 shows "no valid version field")
        assert re.search(r'"5\.\d+\.\d+"', bundle) or "OpenAPI 3.1" in bundle
