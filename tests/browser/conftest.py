"""A real headless Chromium for browser tests: Debian's `/usr/bin/chromium` driven by
Playwright for Python (its driver ships inside the wheel; `playwright install` is never
run and nothing is downloaded at run time). Missing, the tests skip, except under
CI=true, where they fail (.ci/run installs chromium).

Fixtures: `browser` (one Chromium per test module) and `page` (a fresh context, its own
cookies, per test). `blocked_outside_loopback(page)` makes any request to a host other
than 127.0.0.1 / localhost fail, for pages that must work offline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests import support

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

CHROMIUM = Path(os.environ.get("PAYOUTD_TEST_CHROMIUM", "/usr/bin/chromium"))
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _unavailable(reason: str) -> None:
    if support.IN_CI:
        pytest.fail(f"browser tests need {reason} in CI (.ci/run installs chromium)")
    pytest.skip(reason)


# Per module, not per session: while Playwright's sync API runs, its event loop is this
# thread's running loop, and a later test's asyncio.run() (a session fixture built lazily,
# e.g. a database template) would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _unavailable(f"Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python (the dev extra)")
    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield found
        finally:
            found.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)  # a loaded CI machine
    try:
        yield context.new_page()
    finally:
        context.close()


def blocked_outside_loopback(page: Page) -> list[str]:
    """Abort every request whose host is not the loopback; returns the URLs refused."""
    refused: list[str] = []

    def route(r: Route, _request: Any = None) -> None:
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort("blockedbyclient")

    page.route("**/*", route)
    return refused
