"""The SDK's pure logic: the retry policy (driven through httpx.MockTransport, no server:
429, 503 and a lost answer are hard to make a live payoutd give on cue), the error classes
against payoutd's own catalogue, amounts, and webhook signatures against the
`standardwebhooks` package payoutd signs with."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest
from payoutd_client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    ConnectionFailed,
    IdempotencyInProgress,
    NotFound,
    PayoutdError,
    RateLimited,
    Retry,
    ServerError,
    ValidationError,
    _core,
    errors,
    webhooks,
)
from standardwebhooks.webhooks import Webhook

from payoutd.domain.errors import CATALOGUE
from payoutd.domain.webhooks import new_secret

FAST = Retry(max_retries=3, initial=0.001, maximum=0.002, max_wait=5)
PAYOUT = {
    "id": "p1",
    "order_id": None,
    "status": "queued",
    "is_final": False,
    "amount": "0.001",
    "currency": "BTC",
    "payout_amount": "0.001",
    "payout_currency": "BTC",
    "network": "BTC",
    "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    "memo": None,
    "priority": None,
    "fee_mode": "on_top",
    "fees": {"network": "0.0001", "service": "0", "total": "0.0001", "currency": "BTC"},
    "final_amount": "0.001",
    "debit": {"amount": "0.0011", "currency": "BTC"},
    "rate": {"value": None, "base": None, "quote": None, "source": None, "expires_at": None},
    "approval": "auto",
    "txid": None,
    "confirmations": 0,
    "batch_id": None,
    "failure_reason": None,
    "execute_at": None,
    "expires_at": None,
    "callback_url": None,
    "comment": None,
    "metadata": {},
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "new_field": "kept in raw",
}


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": code, "fields": {}}}
    return httpx.Response(status, json=body, headers=headers)


def scripted(
    answers: list[httpx.Response | Exception],
) -> tuple[list[httpx.Request], Callable[[httpx.Request], httpx.Response]]:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return sent, handle


def client(
    answers: list[httpx.Response | Exception], retry: Retry = FAST
) -> tuple[list[httpx.Request], Client]:
    sent, handle = scripted(answers)
    http = httpx.Client(transport=httpx.MockTransport(handle))
    return sent, Client("pk_test", "http://payoutd.test", retry=retry, http_client=http)


def create(payoutd: Client) -> object:
    return payoutd.payouts.create(amount="0.001", currency="BTC", address="1A1z")


def test_429_and_503_are_retried_with_one_idempotency_key() -> None:
    sent, payoutd = client(
        [
            error(429, "rate_limited", {"Retry-After": "0"}),
            error(503, "network_unavailable"),
            httpx.Response(201, json=PAYOUT),
        ]
    )
    payout = payoutd.payouts.create(amount=Decimal("0.001"), currency="BTC", address="1A1z")
    assert payout.id == "p1" and payout.raw["new_field"] == "kept in raw"
    assert len(sent) == 3
    keys = {r.headers["idempotency-key"] for r in sent}
    assert len(keys) == 1
    assert all(r.headers["authorization"] == "Bearer pk_test" for r in sent)
    assert json.loads(sent[0].content)["amount"] == "0.001"


def test_a_caller_key_is_sent_as_given() -> None:
    sent, payoutd = client([httpx.Response(200, json=PAYOUT)])
    payoutd.payouts.cancel("p1", idempotency_key="mine")
    assert sent[0].headers["idempotency-key"] == "mine"
    assert sent[0].url.path == "/v1/payouts/p1/cancel"


def test_a_get_carries_no_idempotency_key() -> None:
    sent, payoutd = client([httpx.Response(200, json=PAYOUT)])
    payoutd.payouts.get("a/b")
    assert "idempotency-key" not in sent[0].headers
    assert sent[0].url.raw_path == b"/v1/payouts/a%2Fb"  # an id cannot reach another path


def test_retry_after_is_waited_for() -> None:
    sent, payoutd = client(
        [error(429, "rate_limited", {"Retry-After": "0.3"}), httpx.Response(201, json=PAYOUT)]
    )
    started = time.monotonic()
    create(payoutd)
    assert time.monotonic() - started >= 0.3 and len(sent) == 2


def test_a_retry_after_beyond_max_wait_is_raised_at_once() -> None:
    sent, payoutd = client([error(429, "rate_limited", {"Retry-After": "600"})])
    with pytest.raises(RateLimited) as limited:
        create(payoutd)
    assert limited.value.retry_after == 600 and len(sent) == 1


def test_retries_run_out() -> None:
    sent, payoutd = client([error(503, "network_unavailable")] * 4)
    with pytest.raises(ServerError) as down:
        create(payoutd)
    assert down.value.code == "network_unavailable" and len(sent) == 4  # 1 + max_retries


def test_a_first_request_still_running_is_asked_again() -> None:
    sent, payoutd = client(
        [error(409, "idempotency_in_progress"), httpx.Response(201, json=PAYOUT)]
    )
    create(payoutd)
    assert len(sent) == 2 and len({r.headers["idempotency-key"] for r in sent}) == 1


def test_other_refusals_are_not_retried() -> None:
    for status, code, cls in [
        (409, "payout_not_cancellable", Conflict),
        (422, "validation_error", ValidationError),
        (404, "not_found", NotFound),
        (400, "invalid_cursor", BadRequest),
        (500, "internal", ServerError),
    ]:
        sent, payoutd = client([error(status, code)])
        with pytest.raises(cls) as refused:
            create(payoutd)
        assert (refused.value.status, refused.value.code, len(sent)) == (status, code, 1)


def test_connection_errors_are_retried_then_raised() -> None:
    sent, payoutd = client(
        [httpx.ConnectError("refused"), httpx.ReadError("reset"), httpx.Response(201, json=PAYOUT)]
    )
    create(payoutd)
    assert len(sent) == 3
    sent, payoutd = client([httpx.ConnectError("refused")] * 4)
    with pytest.raises(ConnectionFailed) as failed:
        create(payoutd)
    assert failed.value.status is None and len(sent) == 4


def test_calls_payoutd_keeps_no_answer_of_are_not_sent_again_when_cut_short() -> None:
    """A DELETE or a new webhook endpoint that may have been done is not risked twice;
    a connection never made, or a 429 / 503 (payoutd did nothing), is retried."""
    sent, payoutd = client([httpx.ReadError("reset")])
    with pytest.raises(ConnectionFailed):
        payoutd.webhook_endpoints.delete("e1")
    assert len(sent) == 1
    sent, payoutd = client([httpx.Response(502)])
    with pytest.raises(ServerError):
        payoutd.webhook_endpoints.create("https://example.com/hooks")
    assert len(sent) == 1
    sent, payoutd = client([httpx.ReadError("reset")])
    with pytest.raises(ConnectionFailed):
        payoutd.webhook_endpoints.create("https://example.com/hooks")
    assert len(sent) == 1
    endpoint = {
        "id": "e1",
        "object": "webhook_endpoint",
        "url": "https://example.com/hooks",
        "event_types": ["*"],
        "description": None,
        "status": "enabled",
        "disabled_reason": None,
        "failing_since": None,
        "created_at": "2026-01-01T00:00:00Z",
        "secret": "whsec_x",
    }
    sent, payoutd = client(
        [httpx.ConnectError("refused"), error(503, "x"), httpx.Response(201, json=endpoint)]
    )
    assert payoutd.webhook_endpoints.create("https://example.com/hooks").secret == "whsec_x"
    assert len(sent) == 3


def test_a_gateway_error_is_retried_for_a_payout() -> None:
    sent, payoutd = client(
        [httpx.Response(502), httpx.Response(504), httpx.Response(201, json=PAYOUT)]
    )
    create(payoutd)
    assert len(sent) == 3 and len({r.headers["idempotency-key"] for r in sent}) == 1


async def test_async_retries_with_one_idempotency_key() -> None:
    sent, handle = scripted(
        [httpx.ReadError("reset"), error(503, "x"), httpx.Response(201, json=PAYOUT)]
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    async with AsyncClient("pk", "http://payoutd.test", retry=FAST, http_client=http) as c:
        payout = await c.payouts.create(amount="0.001", currency="BTC", address="1A1z")
    assert payout.amount == Decimal("0.001")
    assert len(sent) == 3 and len({r.headers["idempotency-key"] for r in sent}) == 1
    await http.aclose()


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert _core.retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert _core.retry_after("soon") is None


def test_amounts_are_never_floats() -> None:
    assert _core.amount(Decimal("1E-8")) == "0.00000001"
    assert _core.amount(5) == "5"
    with pytest.raises(TypeError):
        _core.amount(0.1)  # type: ignore[arg-type]


def test_every_catalogue_code_raises_a_class_of_its_status() -> None:
    """A code payoutd answers with maps to the class of its HTTP status family, so a
    caller's `except ValidationError` catches every 422 whatever its code."""
    by_status: dict[int, type[PayoutdError]] = {**errors.BY_STATUS, 503: ServerError}
    for code, spec in CATALOGUE.items():
        cls = errors.error_class(spec.status, code)
        assert issubclass(cls, by_status[spec.status]), code
    for code in errors.BY_CODE:
        assert code in CATALOGUE, f"{code} is not a code payoutd answers with"
    assert errors.error_class(418, "teapot") is PayoutdError
    assert issubclass(errors.error_class(409, "idempotency_in_progress"), IdempotencyInProgress)


def test_a_success_that_is_not_json_is_an_error() -> None:
    _, payoutd = client([httpx.Response(200, text="<html>captive portal</html>")])
    with pytest.raises(PayoutdError) as odd:
        payoutd.payouts.get("p1")
    assert (odd.value.code, odd.value.status) == ("invalid_response", 200)


def test_a_non_json_error_keeps_its_status() -> None:
    _, payoutd = client([httpx.Response(404, text="<html>nginx</html>")])
    with pytest.raises(NotFound) as missing:
        payoutd.payouts.get("p1")
    assert missing.value.code == "http_404"


# --- webhook signatures -----------------------------------------------------------------


def signed(secret: str, body: bytes, at: datetime) -> dict[str, str]:
    """Headers as payoutd signs them (payoutd.webhooks.signing, standardwebhooks)."""
    signature = Webhook(secret).sign("msg_1", at, body.decode())
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def test_verify_accepts_what_standardwebhooks_signs() -> None:
    secret, body = new_secret(), b'{"data":{},"id":"evt_1","type":"payout.paid"}'
    at = datetime.now(UTC)
    event = webhooks.verify(body, signed(secret, body, at), secret)
    assert (event.id, event.type, event.payout) == ("evt_1", "payout.paid", None)
    # and standardwebhooks accepts what the SDK signs
    mine = webhooks.sign("msg_1", int(at.timestamp()), body, secret)
    headers = {**signed(secret, body, at), "webhook-signature": mine}
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_verify_during_a_secret_rotation_and_with_any_header_case() -> None:
    old, new, body = new_secret(), new_secret(), b'{"id":"evt_2","type":"x","data":{}}'
    at = datetime.now(UTC)
    both = " ".join(signed(s, body, at)["webhook-signature"] for s in (new, old))
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(int(at.timestamp()))}
    headers["Webhook-Signature"] = both
    assert webhooks.verify(body, headers, old).id == "evt_2"
    assert webhooks.verify(body, headers, new).id == "evt_2"


def test_verify_refuses_old_future_and_malformed() -> None:
    secret, body = new_secret(), b'{"id":"evt_3","type":"x","data":{}}'
    for skew in (-301, 301):
        at = datetime.now(UTC) + timedelta(seconds=skew)
        with pytest.raises(webhooks.WebhookVerificationError):
            webhooks.verify(body, signed(secret, body, at), secret)
    headers = signed(secret, body, datetime.now(UTC))
    for broken in (
        {**headers, "webhook-timestamp": "yesterday"},
        {**headers, "webhook-signature": "v2," + headers["webhook-signature"][3:]},
        {k: v for k, v in headers.items() if k != "webhook-id"},
    ):
        with pytest.raises(webhooks.WebhookVerificationError):
            webhooks.verify(body, broken, secret)
