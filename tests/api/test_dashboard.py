"""The dashboard through HTTP, in process, on SQLite and PostgreSQL: the session cookie,
CSRF on every form, a `read` key's refusals, and each page calling the same services as
the native API (what it shows is what the API answers)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pyotp

from payoutd.worker import imports as imports_worker
from payoutd.worker import jobs
from tests.support import Harness, Merchant

LTC = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"
OTHER_LTC = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """A client with its own cookie jar, as one browser is."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(self, key: str) -> httpx.Response:
        page = await self.client.get("/dashboard/sign-in")
        assert page.status_code == 200, page.text
        token = CSRF.search(page.text)
        assert token
        r = await self.client.post(
            "/dashboard/sign-in", data={"csrf": token.group(1), "api_key": key}
        )
        if r.status_code == 303:
            landing = await self.client.get(r.headers["location"])
            found = CSRF.search(landing.text)
            assert found, landing.text
            self.csrf = found.group(1)
        return r

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params)

    async def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(path, data={"csrf": self.csrf, **(data or {})})


@asynccontextmanager
async def browser(h: Harness) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://payoutd.test") as client:
        yield Browser(client)


async def create(h: Harness, m: Merchant, **body: Any) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.5", "currency": "LTC", "address": LTC, **body},
    )
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


async def api_payout(h: Harness, m: Merchant, payout_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def read_key(h: Harness, m: Merchant) -> str:
    r = await h.client.post("/v1/api-keys", headers=m.headers, json={"scopes": ["read"]})
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


async def test_sign_in_sets_an_httponly_encrypted_cookie_and_sign_out_ends_it(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    async with browser(h) as b:
        r = await b.get("/dashboard/payouts")
        assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/sign-in")
        r = await b.sign_in(m.key)
        assert r.status_code == 303 and r.headers["location"] == "/dashboard/payouts"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
        assert "Secure" not in cookie  # plain http here; https sets it
        assert m.key not in cookie and m.key.split("_")[-1] not in cookie
        page = await b.get("/dashboard/balances")
        assert page.status_code == 200
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["Cache-Control"] == "no-store"
        # a link cannot make a page say what payoutd did not
        said = await b.get("/dashboard/payouts", notice="Call +1 555 0100 now")
        assert "555" not in said.text
        assert "Payout queued" in (await b.get("/dashboard/payouts", notice="status-queued")).text
        r = await b.post("/dashboard/sign-out")
        assert r.status_code == 303
        assert (await b.get("/dashboard/balances")).status_code == 303


async def test_a_wrong_key_is_refused_on_the_sign_in_page(h: Harness) -> None:
    async with browser(h) as b:
        r = await b.sign_in("pk_000000000000_nope")
        assert r.status_code == 401
        assert "Invalid or missing API key" in r.text


async def test_a_sign_in_without_the_forms_csrf_token_is_refused(h: Harness) -> None:
    m = await h.merchant()
    async with browser(h) as b:
        await b.get("/dashboard/sign-in")
        r = await b.client.post("/dashboard/sign-in", data={"api_key": m.key})
        assert r.status_code == 403
        assert (await b.get("/dashboard/payouts")).status_code == 303


async def test_a_forged_post_without_the_csrf_token_changes_nothing(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    offer = await create(h, m, approval="manual")
    async with browser(h) as b:
        await b.sign_in(m.key)
        for data in ({}, {"csrf": "forged"}):
            r = await b.client.post(f"/dashboard/payouts/{offer['id']}/approve", data=data)
            assert r.status_code == 403 and "CSRF" in r.text
            r = await b.client.post(
                "/dashboard/payouts-bulk",
                data={**data, "action": "cancel", "payout_id": offer["id"]},
            )
            assert r.status_code == 403
    assert (await api_payout(h, m, offer["id"]))["status"] == "pending_approval"
    assert (await h.balances(m))["LTC"]["held"] == "0.00000000"


async def test_a_read_key_sees_no_write_buttons_and_its_posts_are_refused(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    offer = await create(h, m, approval="manual")
    async with browser(h) as b:
        await b.sign_in(await read_key(h, m))
        listing = await b.get("/dashboard/payouts")
        assert offer["id"] in listing.text
        assert "Approve selected" not in listing.text and "New payout" not in listing.text
        detail = await b.get(f"/dashboard/payouts/{offer['id']}")
        assert ">Approve<" not in detail.text and "Cancel payout" not in detail.text
        assert "Create key" not in (await b.get("/dashboard/keys")).text
        r = await b.post(f"/dashboard/payouts/{offer['id']}/approve")
        assert r.status_code == 403 and "forbidden_scope" in r.text
        r = await b.post("/dashboard/keys", {"scopes": "read"})
        assert r.status_code == 403
    assert (await api_payout(h, m, offer["id"]))["status"] == "pending_approval"


async def test_tabs_filters_and_cursor_paging_select_what_the_api_does(h: Harness) -> None:
    m = await h.merchant(LTC="20")
    made = [await create(h, m, order_id=f"o-{i}") for i in range(27)]
    offer = await create(h, m, approval="manual", address=OTHER_LTC)
    async with browser(h) as b:
        await b.sign_in(m.key)
        first = (await b.get("/dashboard/payouts")).text
        shown = re.findall(r'data-payout="([^"]+)"', first)
        assert shown == [offer["id"], *[p["id"] for p in reversed(made)]][:25]
        cursor = re.search(r'cursor=([^"&]+)" rel="next"', first)
        assert cursor
        second = (await b.get("/dashboard/payouts", cursor=cursor.group(1))).text
        assert re.findall(r'data-payout="([^"]+)"', second) == [p["id"] for p in made[2::-1]]
        tab = (await b.get("/dashboard/payouts", status="pending_approval")).text
        assert re.findall(r'data-payout="([^"]+)"', tab) == [offer["id"]]
        by_address = (await b.get("/dashboard/payouts", address=OTHER_LTC)).text
        assert re.findall(r'data-payout="([^"]+)"', by_address) == [offer["id"]]
        by_order = (await b.get("/dashboard/payouts", order_id="o-3")).text
        assert re.findall(r'data-payout="([^"]+)"', by_order) == [made[3]["id"]]
        today = h.clock.now().date()
        dated = (await b.get("/dashboard/payouts", **{"from": str(today), "to": str(today)})).text
        assert len(re.findall(r'data-payout="', dated)) == 25
        before = (await b.get("/dashboard/payouts", to="2000-01-01")).text
        assert "No payouts match" in before
        assert (await b.get("/dashboard/payouts", currency="BTC")).text.count("data-payout") == 0
        bad = await b.get("/dashboard/payouts", status="nope")
        assert bad.status_code == 422 and "validation_error" in bad.text
        assert (await b.get("/dashboard/payouts", to="yesterday")).status_code == 422
    # the API's list takes the same new filters
    r = await h.client.get("/v1/payouts", headers=m.headers, params={"address": OTHER_LTC})
    assert [p["id"] for p in r.json()["data"]] == [offer["id"]]
    r = await h.client.get(
        "/v1/payouts", headers=m.headers, params={"created_to": "2000-01-01T00:00:00Z"}
    )
    assert r.json()["data"] == []


async def test_approve_cancel_and_bulk_go_through_the_payout_services(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    one = await create(h, m, approval="manual")
    two = await create(h, m, approval="manual")
    three = await create(h, m, approval="manual")
    queued = await create(h, m)
    async with browser(h) as b:
        await b.sign_in(m.key)
        r = await b.post(f"/dashboard/payouts/{one['id']}/approve")
        assert r.status_code == 303
        assert (await api_payout(h, m, one["id"]))["status"] == "queued"
        r = await b.post(f"/dashboard/payouts/{queued['id']}/cancel")
        assert r.status_code == 303
        assert (await api_payout(h, m, queued["id"]))["status"] == "cancelled"
        r = await b.post(
            "/dashboard/payouts-bulk",
            {"action": "approve", "payout_id": [two["id"], three["id"], queued["id"]]},
        )
        assert r.status_code == 200
        assert "2 of 3 done" in r.text and "invalid_transition" in r.text
        # approving twice: the payout moved on, the service refuses
        r = await b.post(f"/dashboard/payouts/{one['id']}/approve")
        assert r.status_code == 409
    assert [(await api_payout(h, m, p["id"]))["status"] for p in (two, three)] == ["queued"] * 2
    held = (await h.balances(m))["LTC"]["held"]
    assert held == str(sum(_debit(p) for p in (one, two, three)))
    assert (await h.ledger_check())["ok"]


def _debit(p: dict[str, Any]) -> Decimal:
    return Decimal(p["debit"]["amount"])


async def test_a_new_payout_is_quoted_then_created_once_confirmed(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    form = {"amount": "0.25", "currency": "LTC", "address": LTC, "fee_mode": "on_top"}
    async with browser(h) as b:
        await b.sign_in(m.key)
        quoted = await b.post("/dashboard/payouts/new", {**form, "step": "quote"})
        assert quoted.status_code == 200 and "Confirm payout" in quoted.text
        q = await h.client.post("/v1/quotes", headers=m.headers, json=form)
        assert f"{q.json()['debit']['amount']} LTC" in quoted.text
        r = await h.client.get("/v1/payouts", headers=m.headers)
        assert r.json()["data"] == []  # a quote creates nothing
        done = await b.post("/dashboard/payouts/new", {**form, "step": "confirm"})
        assert done.status_code == 303
        payout_id = done.headers["location"].split("?")[0].rsplit("/", 1)[-1]
        bad = await b.post("/dashboard/payouts/new", {**form, "address": "nope", "step": "quote"})
        assert bad.status_code == 422 and "invalid_address" in bad.text
        small = await b.post(
            "/dashboard/payouts/new", {**form, "amount": "0.0000001", "step": "confirm"}
        )
        assert small.status_code == 422
    p = await api_payout(h, m, payout_id)
    assert (p["amount"], p["status"]) == ("0.25000000", "queued")
    assert [
        x["id"] for x in (await h.client.get("/v1/payouts", headers=m.headers)).json()["data"]
    ] == [payout_id]


async def test_the_detail_shows_timeline_fees_batch_and_the_csv_export(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    p = await create(h, m, order_id="inv-1")
    await h.settle()
    paid = await api_payout(h, m, p["id"])
    assert paid["status"] == "paid"
    async with browser(h) as b:
        await b.sign_in(m.key)
        page = (await b.get(f"/dashboard/payouts/{p['id']}")).text
        assert paid["txid"] in page and paid["batch_id"] in page
        assert f"= {paid['fees']['total']} LTC" in page
        assert page.count("<time>") >= 4  # created, queued → sending → confirming → paid
        assert "payout.paid" in page
        other = await h.merchant("Other")
        async with browser(h) as them:
            await them.sign_in(other.key)
            assert (await them.get(f"/dashboard/payouts/{p['id']}")).status_code == 404
        export = await b.get("/dashboard/payouts/export.csv", status="paid")
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [(r["id"], r["order_id"], r["txid"], r["fee_total"]) for r in rows] == [
            (p["id"], "inv-1", paid["txid"], paid["fees"]["total"])
        ]


async def test_webhook_endpoints_their_log_and_redeliver(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    r = await h.client.post(
        "/v1/webhook-endpoints",
        headers=m.headers,
        json={"url": "https://hooks.example.com/payoutd"},
    )
    endpoint = r.json()
    p = await create(h, m)
    await jobs.dispatch_events(h.rt.db, h.rt.ctx)  # deliveries recorded, none sent
    async with browser(h) as b:
        await b.sign_in(m.key)
        assert "hooks.example.com" in (await b.get("/dashboard/webhooks")).text
        log = (await b.get(f"/dashboard/webhooks/{endpoint['id']}")).text
        ids = re.findall(r'data-delivery="([^"]+)"', log)
        assert ids
        detail = (await b.get(f"/dashboard/payouts/{p['id']}")).text
        assert ids[-1] in detail
        r = await b.post(f"/dashboard/webhooks/{endpoint['id']}/deliveries/{ids[0]}/redeliver")
        assert r.status_code == 303
        r = await b.post(f"/dashboard/webhooks/{endpoint['id']}/deliveries/nope/redeliver")
        assert r.status_code == 404
        # from the payout's page too: the delivery's endpoint is named by the form
        r = await b.post(
            f"/dashboard/payouts/{p['id']}/deliveries/{ids[-1]}/redeliver",
            {"endpoint_id": endpoint["id"]},
        )
        assert r.status_code == 303
        r = await b.post(f"/dashboard/payouts/{p['id']}/deliveries/{ids[-1]}/redeliver")
        assert r.status_code == 404  # not a delivery to the payout's callback_url
        made = await b.post("/dashboard/webhooks", {"url": "https://second.example.com/h"})
        assert made.status_code == 201 and "whsec_" in made.text
    listed = await h.client.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=m.headers
    )
    again = next(d for d in listed.json()["data"] if d["id"] == ids[0])
    assert again["status"] == "pending" and again["next_attempt_at"] is not None


async def test_keys_are_listed_created_and_revoked_with_totp_where_the_api_asks(
    h: Harness,
) -> None:
    m = await h.merchant()
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    totp = pyotp.TOTP(r.json()["secret"])
    async with browser(h) as b:
        await b.sign_in(m.key)
        refused = await b.post("/dashboard/keys", {"scopes": "payouts"})
        api = await h.client.post("/v1/api-keys", headers=m.headers, json={"scopes": ["payouts"]})
        assert api.json()["error"]["code"] == "totp_required"
        assert refused.status_code == api.status_code and "totp_required" in refused.text
        made = await b.post("/dashboard/keys", {"scopes": "read", "name": "reports"})
        assert made.status_code == 201
        key = re.search(r'class="mono secret">([^<]+)<', made.text)
        assert key
        keys = (await h.client.get("/v1/api-keys", headers=m.headers)).json()["data"]
        new = next(k for k in keys if k["name"] == "reports")
        r = await b.post(f"/dashboard/keys/{new['id']}/revoke", {"totp_code": totp.now()})
        assert r.status_code == 303
    r = await h.client.get("/v1/balances", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert r.status_code == 401


async def test_the_operator_resolves_reviews_and_sees_merchants_and_the_ledger(
    h: Harness,
) -> None:
    m = await h.merchant("Zed Corp", LTC="5")
    async with browser(h) as b:
        r = await b.sign_in(h.operator_key)
        assert r.headers["location"] == "/dashboard/operator/reviews"
        assert "Nothing to review" in (await b.get("/dashboard/operator/reviews")).text
        assert "Zed Corp" in (await b.get("/dashboard/operator/merchants")).text
        assert "balanced" in (await b.get("/dashboard/operator/ledger")).text
        # a merchant page is not the operator's
        assert (await b.get("/dashboard/payouts")).status_code == 403
    async with browser(h) as merchant:
        await merchant.sign_in(m.key)
        assert (await merchant.get("/dashboard/operator/reviews")).status_code == 403


async def test_a_csv_upload_reports_each_row_and_progress(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    body = (
        "amount,currency,address,order_id\n"
        f"0.1,LTC,{LTC},up-1\n"
        "0.1,LTC,nope,up-2\n"
        f"0.1,XYZ,{LTC},up-3\n"
        f"0.2,LTC,{LTC},up-4\n"
    ).encode()
    async with browser(h) as b:
        await b.sign_in(m.key)
        forged = await b.client.post(
            "/dashboard/imports", files={"file": ("pay.csv", body, "text/csv")}
        )
        assert forged.status_code == 403
        bad = await b.client.post(
            "/dashboard/imports",
            data={"csrf": b.csrf},
            files={"file": ("pay.csv", b"amount,currency,address,colour\n1,LTC,x,red\n")},
        )
        assert bad.status_code == 422 and "colour" in bad.text
        r = await b.client.post(
            "/dashboard/imports",
            data={"csrf": b.csrf},
            files={"file": ("pay.csv", body, "text/csv")},
        )
        assert r.status_code == 303, r.text
        page_path = r.headers["location"]
        import_id = page_path.rsplit("/", 1)[-1]
        waiting = (await b.get(f"{page_path}/progress")).text
        assert 'hx-trigger="every 1s"' in waiting and 'data-status="queued"' in waiting
        assert await imports_worker.import_pass(h.rt.db, h.rt.ctx) == 1
        done = await b.get(f"{page_path}/progress")
        assert 'data-status="done"' in done.text and "hx-trigger" not in done.text
        assert done.headers["HX-Refresh"] == "true"
        page = (await b.get(page_path)).text
        assert re.findall(r'data-row="(\d+)" class="(\w+)"', page) == [
            ("2", "accepted"),
            ("3", "refused"),
            ("4", "refused"),
            ("5", "accepted"),
        ]
        assert "invalid_address" in page and "currency_not_found" in page
        refused = (await b.get(page_path, status="refused")).text
        assert re.findall(r'data-row="(\d+)"', refused) == ["3", "4"]
        assert import_id in (await b.get("/dashboard/imports")).text
    # the same answer as the API's
    r = await h.client.get(f"/v1/payout-imports/{import_id}", headers=m.headers)
    assert (r.json()["accepted"], r.json()["refused"]) == (2, 2)
    r = await h.client.get("/v1/payouts", headers=m.headers)
    assert sorted(p["order_id"] for p in r.json()["data"]) == ["up-1", "up-4"]


async def test_the_operator_resolves_a_needs_review_payout_paid_or_failed(h: Harness) -> None:
    from payoutd.chains import sandbox

    btc = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
    m = await h.merchant(BTC="1")
    await sandbox.add_rule(h.rt.db, address=btc, action="drop")
    dropped = [
        await create(h, m, amount="0.1", currency="BTC", address=btc),
        await create(h, m, amount="0.2", currency="BTC", address=btc),
    ]
    await h.settle()
    assert {(await api_payout(h, m, p["id"]))["status"] for p in dropped} == {"needs_review"}
    async with browser(h) as b:
        await b.sign_in(h.operator_key)
        queue = (await b.get("/dashboard/operator/reviews")).text
        assert set(re.findall(r'data-payout="([^"]+)"', queue)) == {p["id"] for p in dropped}
        first, second = (f"/dashboard/operator/reviews/{p['id']}/resolve" for p in dropped)
        assert (
            await b.client.post(first, data={"outcome": "paid", "txid": "ab" * 32})
        ).status_code == 403
        r = await b.post(first, {"outcome": "paid"})  # a paid resolution needs its txid
        assert r.status_code == 422 and "txid" in r.text
        r = await b.post(first, {"outcome": "paid", "txid": "ab" * 32})
        assert r.status_code == 303
        r = await b.post(second, {"outcome": "failed", "reason": "never mined"})
        assert r.status_code == 303
        assert "Nothing to review" in (await b.get(r.headers["location"])).text
    paid, failed = [await api_payout(h, m, p["id"]) for p in dropped]
    assert (paid["status"], paid["txid"], failed["status"]) == ("paid", "ab" * 32, "failed")
    assert (await h.balances(m))["BTC"]["held"] == "0.00000000"
    assert (await h.ledger_check())["ok"]


async def test_balances_limits_and_deleting_an_endpoint(h: Harness) -> None:
    m = await h.merchant(LTC="5")
    offer = await create(h, m, approval="manual")
    r = await h.client.post(
        "/v1/webhook-endpoints", headers=m.headers, json={"url": "https://hooks.example.com/x"}
    )
    endpoint = r.json()
    async with browser(h) as b:
        await b.sign_in(m.key)
        await b.post(f"/dashboard/payouts/{offer['id']}/approve")
        balances = await h.balances(m)
        page = (await b.get("/dashboard/balances", currency="ltc")).text
        row = re.search(r"<tr><td>LTC</td>(.*?)</tr>", page)
        assert row
        assert re.findall(r'class="num">([^<]+)<', row.group(1)) == [
            balances["LTC"]["available"],
            balances["LTC"]["held"],
            balances["LTC"]["balance"],
        ]
        limits = (await h.client.get("/v1/limits?currency=LTC", headers=m.headers)).json()
        assert f"<dd>{limits['available']}</dd>" in page
        api = await h.client.get("/v1/limits?currency=NOPE", headers=m.headers)
        unknown = await b.get("/dashboard/balances", currency="NOPE")
        assert (
            unknown.status_code == api.status_code and api.json()["error"]["code"] in unknown.text
        )
        r = await b.post(f"/dashboard/webhooks/{endpoint['id']}/delete")
        assert r.status_code == 303
    r = await h.client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=m.headers)
    assert r.status_code == 404  # deleted, as DELETE /v1/webhook-endpoints/{id} leaves it


async def test_over_https_the_session_cookie_is_secure(h: Harness) -> None:
    m = await h.merchant()
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="https://payoutd.test") as client:
        b = Browser(client)
        r = await b.sign_in(m.key)
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
        assert (await b.get("/dashboard/keys")).status_code == 200


async def test_the_operator_assigns_or_dismisses_the_bank_review_queue(h: Harness) -> None:
    """The bank review queue of ramp payouts, through services.ramps as
    /v1/admin/bank/review: a sandbox transfer whose memo matches nothing waits there and
    moves no money until the operator assigns it to the pending on-ramp it belongs to;
    another is dismissed."""
    from tests.services import ramp_support as rs

    m = await h.merchant()
    c = await rs.customer(h, m)
    ramp = await rs.create(h, m, rs.on_ramp_body(c, "25.00"))
    for memo in ("TYPO-IN-THE-MEMO", "NOBODY-KNOWS-THIS"):
        r = await h.client.post(
            "/v1/sandbox/bank/transfers",
            json={"amount": "25.00", "currency": "usd", "memo": memo, "network": "wire"},
            headers=h.admin,
        )
        assert r.json()["outcome"] == "review", r.text
    assert "USD" not in await h.balances(m)
    async with browser(h) as b:
        await b.sign_in(h.operator_key)
        page = (await b.get("/dashboard/operator/bank")).text
        items = re.findall(r'data-item="([^"]+)"', page)
        assert len(items) == 2 and "TYPO-IN-THE-MEMO" in page
        typo, unknown = (
            re.search(rf'data-item="([^"]+)">(?:(?!</tr>).)*{memo}', page, re.S).group(1)  # type: ignore[union-attr]
            for memo in ("TYPO-IN-THE-MEMO", "NOBODY-KNOWS-THIS")
        )
        # without the form's token nothing moves
        forged = await b.client.post(
            f"/dashboard/operator/bank/{typo}/resolve",
            data={"action": "assign", "ramp_id": ramp["id"]},
        )
        assert forged.status_code == 403
        # an assign must name the payout
        r = await b.post(f"/dashboard/operator/bank/{typo}/resolve", {"action": "assign"})
        assert r.status_code == 422 and "assign names the ramp payout" in r.text
        r = await b.post(
            f"/dashboard/operator/bank/{typo}/resolve", {"action": "assign", "ramp_id": ramp["id"]}
        )
        assert r.status_code == 303, r.text
        r = await b.post(
            f"/dashboard/operator/bank/{unknown}/resolve", {"action": "dismiss", "note": "bank fee"}
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].endswith("notice=review-dismissed"), r.headers["location"]
        after = (await b.client.get(r.headers["location"])).text
        assert "Nothing to review" in after and "Dismissed: nothing moved" in after
        # a merchant's session is no operator's
        async with browser(h) as merchant:
            await merchant.sign_in(m.key)
            assert (await merchant.get("/dashboard/operator/bank")).status_code == 403
    assert (await rs.status_of(h, m, ramp["id"]))["status"] in ("funded", "processing")
    assert (await h.balances(m))["USD"]["balance"] == "25.00"
    assert (await h.ledger_check())["ok"]
