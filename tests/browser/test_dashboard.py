"""The dashboard in a real headless Chromium against a live `payoutd serve` (API and
worker, SQLite, the sandbox chain): sign in, a payout created through the API, approve,
cancel, bulk approve, a webhook delivery found and redelivered, a `read` key's view, and
a forged form refused.

With PAYOUTD_DASHBOARD_SCREENSHOTS=<dir> (scripts/screenshots), the payouts page and a
payout's page are saved there as PNG."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests import live
from tests.browser.conftest import blocked_outside_loopback

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LTC = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"
SCREENSHOTS = os.environ.get("PAYOUTD_DASHBOARD_SCREENSHOTS")


@dataclass
class Receiver:
    """A webhook endpoint on the loopback: answers 200, remembers each delivery."""

    url: str
    got: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            got.append({"id": self.headers.get("webhook-id"), "body": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks", got)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Live:
    url: str
    merchant_id: str
    key: str  # scope payouts
    read_key: str
    operator_key: str

    def api(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kw)

    def create(self, **body: Any) -> dict[str, Any]:
        r = self.api(
            "POST", "/v1/payouts", json={"amount": "0.5", "currency": "LTC", "address": LTC, **body}
        )
        assert r.status_code == 201, r.text
        made: dict[str, Any] = r.json()
        return made

    def payout(self, payout_id: str) -> dict[str, Any]:
        r = self.api("GET", f"/v1/payouts/{payout_id}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found


def _cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(live.PAYOUTD), *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("dashboard")
    settings = {
        "webhook_allow_private": "true",
        "sandbox_block_seconds": "1",
        "sandbox_batch_window_seconds": "1",
    }
    with live.server("all", root / "data", None, root / "serve.log", **settings) as s:
        env = live.env_for(root / "data", None, 0, **settings)
        made = _cli(
            env,
            "merchant",
            "create",
            "Acme",
        )
        _cli(env, "deposit", made["merchant_id"], "LTC", "100")
        operator = _cli(env, "operator-key", "create")
        r = httpx.post(
            f"{s.url}/v1/api-keys",
            headers={"Authorization": f"Bearer {made['api_key']}"},
            json={"scopes": ["read"], "name": "viewer"},
        )
        assert r.status_code == 201, r.text
        yield Live(
            s.url, made["merchant_id"], made["api_key"], r.json()["key"], operator["api_key"]
        )


def sign_in(page: Page, server: Live, key: str) -> None:
    page.goto(f"{server.url}/dashboard")
    assert "/dashboard/sign-in" in page.url
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/payouts")


def eventually(check: Callable[[], bool], seconds: float = 45) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_sign_in_and_see_a_payout_created_through_the_api(page: Page, server: Live) -> None:
    made = server.create(order_id="browser-1")
    sign_in(page, server, server.key)
    row = page.locator(f'tr[data-payout="{made["id"]}"]')
    assert row.count() == 1
    assert "browser-1" in row.inner_text()
    row.get_by_role("link", name=made["id"]).click()
    page.wait_for_url(f"**/dashboard/payouts/{made['id']}")
    assert made["address"] in page.locator("dl.facts").inner_text()
    assert "payout.created" in page.locator("ol.timeline").inner_text()


def test_approve_an_offer_and_cancel_a_payout(page: Page, server: Live) -> None:
    offer = server.create(approval="manual")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    scheduled = server.create(execute_at=later)
    assert scheduled["status"] == "scheduled"
    sign_in(page, server, server.key)

    page.goto(f"{server.url}/dashboard/payouts/{offer['id']}")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert "Payout queued" in page.locator(".notice").inner_text()
    assert server.payout(offer["id"])["status"] != "pending_approval"

    page.goto(f"{server.url}/dashboard/payouts?status=scheduled")
    page.get_by_role("link", name=scheduled["id"]).click()
    page.get_by_role("button", name="Cancel payout").click()
    page.wait_for_load_state()
    assert "Payout cancelled" in page.locator(".notice").inner_text()
    assert server.payout(scheduled["id"])["status"] == "cancelled"
    assert page.get_by_role("button", name="Cancel payout").count() == 0


def test_create_a_payout_with_its_quote_shown_first(page: Page, server: Live) -> None:
    sign_in(page, server, server.key)
    page.get_by_role("link", name="New payout").click()
    page.get_by_label("Amount", exact=True).fill("0.4")
    page.get_by_label("Currency", exact=True).fill("LTC")
    page.get_by_label("Address", exact=True).fill(LTC)
    page.get_by_label("Order id", exact=True).fill("browser-quote-1")
    page.get_by_role("button", name="Get a quote").click()
    quote = page.locator("#quote").inner_text()
    asked = server.api(
        "POST", "/v1/quotes", json={"amount": "0.4", "currency": "LTC", "address": LTC}
    ).json()
    assert f"{asked['debit']['amount']} LTC" in quote
    assert server.api("GET", "/v1/payouts?order_id=browser-quote-1").json()["data"] == []
    page.get_by_role("button", name="Confirm payout").click()
    page.wait_for_url("**/dashboard/payouts/*")
    assert "Payout created" in page.locator(".notice").inner_text()
    made = server.api("GET", "/v1/payouts?order_id=browser-quote-1").json()["data"]
    assert [p["amount"] for p in made] == ["0.40000000"]
    assert made[0]["id"] in page.url


def test_bulk_approve_of_selected_offers(page: Page, server: Live) -> None:
    offers = [server.create(approval="manual") for _ in range(2)]
    sign_in(page, server, server.key)
    page.goto(f"{server.url}/dashboard/payouts?status=pending_approval")
    for o in offers:
        page.get_by_label(f"Select {o['id']}").check()
    page.get_by_role("button", name="Approve selected").click()
    page.wait_for_url("**/dashboard/payouts-bulk")
    assert "2 of 2 done" in page.locator("h1").inner_text()
    assert all(server.payout(o["id"])["status"] != "pending_approval" for o in offers)


def test_find_a_delivery_and_redeliver_it(page: Page, server: Live, receiver: Receiver) -> None:
    r = server.api("POST", "/v1/webhook-endpoints", json={"url": receiver.url})
    assert r.status_code == 201, r.text
    endpoint = r.json()
    made = server.create()

    def about(g: dict[str, Any]) -> bool:
        return bool(g["body"]["data"].get("payout", {}).get("id") == made["id"])

    eventually(lambda: any(about(g) for g in receiver.got))
    first = next(g for g in receiver.got if about(g))

    sign_in(page, server, server.key)
    page.get_by_role("link", name="Webhooks").click()
    page.locator(f'a[href="/dashboard/webhooks/{endpoint["id"]}"]').first.click()
    page.wait_for_url(f"**/dashboard/webhooks/{endpoint['id']}")
    # the delivery of that event (webhook-id is the event's id), about that payout
    row = page.locator("tr[data-delivery]", has_text=first["id"]).filter(has_text=made["id"])
    assert row.count() == 1

    def sent() -> int:
        return sum(g["id"] == first["id"] for g in receiver.got)

    before = sent()
    row.get_by_role("button", name="Redeliver").click()
    page.wait_for_load_state()
    assert "Delivery queued again" in page.locator(".notice").inner_text()
    # the same delivery (its webhook-id) arrives again
    eventually(lambda: sent() > before)


def test_a_read_key_sees_no_write_buttons(page: Page, server: Live) -> None:
    offer = server.create(approval="manual")
    sign_in(page, server, server.read_key)
    assert page.get_by_role("link", name="New payout").count() == 0
    assert page.get_by_role("button", name="Approve selected").count() == 0
    assert page.locator('input[name="payout_id"]').count() == 0
    page.goto(f"{server.url}/dashboard/payouts/{offer['id']}")
    assert page.get_by_role("button", name="Approve").count() == 0
    assert page.get_by_role("button", name="Cancel payout").count() == 0
    page.goto(f"{server.url}/dashboard/keys")
    assert page.get_by_role("button", name="Create key").count() == 0
    assert page.get_by_role("button", name="Revoke").count() == 0
    # and its posts are refused by the server, buttons or not
    status = page.evaluate(
        """async ([id, csrf]) => (await fetch(`/dashboard/payouts/${id}/approve`,
            {method: "POST", body: new URLSearchParams({csrf})})).status""",
        [offer["id"], page.locator('input[name="csrf"]').first.get_attribute("value")],
    )
    assert status == 403
    assert server.payout(offer["id"])["status"] == "pending_approval"


def test_a_forged_form_post_without_the_csrf_token_is_refused(page: Page, server: Live) -> None:
    offer = server.create(approval="manual")
    sign_in(page, server, server.key)
    # a form the page did not render: no CSRF token, the session cookie goes with it
    with page.expect_navigation() as nav:
        page.evaluate(
            """id => { const f = document.createElement("form"); f.method = "post";
            f.action = `/dashboard/payouts/${id}/cancel`; document.body.append(f); f.submit(); }""",
            offer["id"],
        )
    response = nav.value
    assert response is not None and response.status == 403
    assert "CSRF" in page.locator("main").inner_text()
    assert server.payout(offer["id"])["status"] == "pending_approval"


def test_upload_a_100_row_csv_and_watch_it_finish(page: Page, server: Live, tmp_path: Path) -> None:
    rows = [f"0.3,LTC,{LTC},upload-{n}" for n in range(100)]
    file = tmp_path / "payroll.csv"
    file.write_text("amount,currency,address,order_id\n" + "\n".join(rows) + "\n")
    outside = blocked_outside_loopback(page)
    sign_in(page, server, server.key)
    page.get_by_role("link", name="Mass payouts").click()
    page.get_by_label("CSV file").set_input_files(str(file))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/dashboard/imports/*")
    # htmx polls the progress until the import is done, then reloads the page
    page.wait_for_selector('#progress[data-status="done"]', timeout=60_000)
    page.wait_for_selector('tr[data-row="101"]')
    assert "100 of 100 rows" in " ".join(page.locator("#progress").inner_text().split())
    assert page.locator("tr.accepted").count() == 100
    assert page.evaluate("typeof htmx.version") == "string"  # served by payoutd itself
    assert outside == []
    import_id = page.url.rsplit("/", 1)[-1]
    r = server.api("GET", f"/v1/payout-imports/{import_id}")
    assert (r.json()["status"], r.json()["accepted"], r.json()["refused"]) == ("done", 100, 0)


def test_screenshots_of_the_payouts_page_and_a_payout(
    page: Page, server: Live, receiver: Receiver
) -> None:
    """Real data on a real page (saved under docs/ by scripts/screenshots)."""
    r = server.api("POST", "/v1/webhook-endpoints", json={"url": receiver.url})
    assert r.status_code == 201, r.text
    made = server.create(amount="1.25", order_id="invoice-2041")
    server.create(amount="0.8", approval="manual", order_id="refund-88")
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    server.create(amount="2", execute_at=later, order_id="payroll-2026-12")
    dropped = server.create(amount="0.3", approval="manual", order_id="bonus-7")
    assert server.api("POST", f"/v1/payouts/{dropped['id']}/cancel").status_code == 200
    eventually(lambda: server.payout(made["id"])["status"] == "paid", 60)
    sign_in(page, server, server.key)
    assert page.locator("tr[data-payout]").count() >= 4
    page.goto(f"{server.url}/dashboard/payouts/{made['id']}")
    assert "payout.paid" in page.locator("ol.timeline").inner_text()
    eventually(lambda: len(receiver.got) >= 4)
    if SCREENSHOTS:
        out = Path(SCREENSHOTS)
        page.goto(f"{server.url}/dashboard/payouts")
        page.screenshot(path=str(out / "dashboard-payouts.png"), full_page=True)
        page.goto(f"{server.url}/dashboard/payouts/{made['id']}")
        page.screenshot(path=str(out / "dashboard-payout.png"), full_page=True)
