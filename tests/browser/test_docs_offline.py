"""/docs renders in a real headless Chromium with no network access beyond 127.0.0.1:
every request to another host is blocked and recorded, and none may be attempted.

Debian's Chromium (`/usr/bin/chromium`, installed by `.ci/run`), driven by Playwright for
Python (the `browser` fixture of tests/browser/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route, expect

from tests import live

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOOPBACK = "127.0.0.1"


def test_docs_render_without_network_access(browser: Browser, tmp_path: Path) -> None:
    with live.api_server(tmp_path / "data", None, tmp_path / "serve.log") as server:
        context = browser.new_context()
        blocked: list[str] = []
        served: list[str] = []

        def gate(route: Route) -> None:
            url = route.request.url
            if urlsplit(url).hostname == LOOPBACK:
                served.append(url)
                route.continue_()
            else:
                blocked.append(url)
                route.abort("blockedbyclient")

        # every request of every page and worker of the context, whatever its scheme
        context.route("**/*", gate)
        page = context.new_page()
        page.goto(f"{server.url}/docs", wait_until="networkidle")
        create = page.locator("#operations-payouts-create_payout_v1_payouts_post")
        expect(create).to_be_visible(timeout=20_000)
        expect(create.locator(".opblock-summary-method")).to_have_text("POST")
        expect(create.locator(".opblock-summary-path")).to_have_text("/v1/payouts")
        # opened, the operation shows its documented request body
        create.locator(".opblock-summary").click()
        expect(create.locator(".opblock-body")).to_contain_text("amount", timeout=10_000)
        # the webhook events, in their own section
        expect(page.get_by_text("payout.paid", exact=True).first).to_be_visible()
        page.goto(f"{server.url}/redoc", wait_until="networkidle")
        expect(page.get_by_text("/v1/payouts").first).to_be_attached(timeout=20_000)
        context.close()
    assert blocked == [], f"requests outside {LOOPBACK}: {blocked}"
    assert any(url.endswith("/openapi.json") for url in served), served
    assert any("/docs/assets/swagger-ui-bundle.js" in url for url in served), served
