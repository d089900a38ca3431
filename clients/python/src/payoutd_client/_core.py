"""What the sync and async clients share: the calls of the API (method, path, query,
body, how to read the answer), the retry policy and the reading of answers. The two
clients only differ in how they send and wait."""

from __future__ import annotations

import email.utils
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from payoutd_client import errors, models

T = TypeVar("T")

VERSION = "0.1.0"
USER_AGENT = f"payoutd-client-python/{VERSION}"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
IDEMPOTENCY_HEADER = "Idempotency-Key"

# payoutd answers 429 and 503 before doing anything; 502 and 504 come from a proxy in
# front of it, when the request may or may not have reached it (retried only when the
# call is repeatable)
REFUSED_UNDONE = frozenset({429, 503})
GATEWAY = frozenset({502, 504})


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API request and how its JSON answer becomes a result. `repeatable`: sending it
    twice does what sending it once does (a read; a POST whose answer payoutd keeps under
    its Idempotency-Key, or whose repeat is harmless), so a request that may or may not
    have reached payoutd can be sent again."""

    method: str
    path: str
    read: Callable[[Any], T]
    params: Mapping[str, str | int] | None = None
    body: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    repeatable: bool = True


@dataclass(frozen=True, slots=True)
class Retry:
    """How often and how long to try again. Backoff doubles from `initial` up to
    `maximum`, with jitter (so clients refused together do not return together); a
    Retry-After from the server is waited for when it is longer, unless it is longer
    than `max_wait`, when the error is raised at once rather than block the caller."""

    max_retries: int = 2
    initial: float = 0.5
    maximum: float = 8.0
    max_wait: float = 60.0

    def backoff(self, attempt: int) -> float:
        delay: float = min(self.maximum, self.initial * 2**attempt)
        return delay * (0.5 + random.random() / 2)

    def delay(self, attempt: int, response: httpx.Response | None, call: Call[Any]) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none: the last
        attempt was the final one, or the answer is one to keep."""
        if attempt >= self.max_retries:
            return None
        if response is None:
            return self.backoff(attempt)
        status = response.status_code
        if status == 409 and call.method == "POST":
            # the first request with this Idempotency-Key is still running (its answer was
            # lost on the way): asking again soon gets its stored answer
            if _code(response) != "idempotency_in_progress":
                return None
        elif not (status in REFUSED_UNDONE or (status in GATEWAY and call.repeatable)):
            return None
        wait = self.backoff(attempt)
        asked = retry_after(response.headers.get("retry-after"))
        if asked is not None:
            if asked > self.max_wait:
                return None
            wait = max(wait, asked)
        return wait


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date (RFC 9110)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def retry_transport_error(call: Call[Any], exc: httpx.TransportError) -> bool:
    """Whether a request that got no answer may be sent again. A connection never made
    changed nothing; a request cut short may have been carried out, which only a
    repeatable call may risk (a payout's POST gets its first answer back by its
    Idempotency-Key; a DELETE or a new webhook endpoint would not)."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True
    return call.repeatable


def headers(api_key: str, idempotency_key: str | None) -> dict[str, str]:
    found = {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    if idempotency_key is not None:
        found[IDEMPOTENCY_HEADER] = idempotency_key
    return found


def idempotency_key(call: Call[Any]) -> str | None:
    """The key every attempt of one call sends: the caller's, or a new one for a POST."""
    if call.idempotency_key is not None:
        return call.idempotency_key
    return str(uuid.uuid4()) if call.method == "POST" else None


def result(call: Call[T], response: httpx.Response) -> T:
    """The call's result from a final answer, or the typed error it stands for."""
    if response.status_code == 204:
        return call.read(None)
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
        if response.status_code < 400:  # not payoutd's answer (a proxy's page?)
            raise errors.PayoutdError(
                f"{call.method} {call.path}: HTTP {response.status_code} with a body that "
                "is not JSON",
                code="invalid_response",
                status=response.status_code,
                headers=response.headers,
                body=body,
            ) from None
    if response.status_code >= 400:
        raise errors.from_response(response.status_code, response.headers, body)
    return call.read(body)


def connection_failed(call: Call[Any], exc: httpx.TransportError) -> errors.ConnectionFailed:
    return errors.ConnectionFailed(
        f"{call.method} {call.path}: {type(exc).__name__}: {exc}", code="connection_error"
    )


# --- the calls -------------------------------------------------------------------------


def amount(value: Decimal | str | int) -> str:
    """An amount as the API takes it: a plain decimal string (never a float, which cannot
    hold most decimal amounts exactly, and never an exponent)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise TypeError(f"amounts are Decimal, str or int, not {type(value).__name__}")
    if isinstance(value, str):
        return value
    return format(Decimal(value), "f")


def _instant(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("execute_at needs a timezone (payoutd refuses a naive time)")
        return value.isoformat()
    return value


def _body(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _params(**values: Any) -> dict[str, str | int]:
    return {k: v for k, v in values.items() if v is not None}


def _seg(value: str) -> str:
    return quote(value, safe="")


def _page(item: Callable[[dict[str, Any]], T]) -> Callable[[Any], models.Page[T]]:
    def read(body: Any) -> models.Page[T]:
        return models.Page([item(d) for d in body["data"]], body.get("next_cursor"))

    return read


def _nothing(body: Any) -> None:
    return None


def payout_create(
    *,
    amount_: Decimal | str | int,
    currency: str,
    address: str,
    network: str | None,
    payout_currency: str | None,
    memo: str | None,
    balance_currency: str | None,
    fee_mode: str | None,
    priority: str | None,
    rate_source: str | None,
    approval: str | None,
    execute_at: datetime | str | None,
    order_id: str | None,
    callback_url: str | None,
    comment: str | None,
    metadata: Mapping[str, str] | None,
    idempotency_key: str | None,
) -> Call[models.Payout]:
    body = _body(
        amount=amount(amount_),
        currency=currency,
        address=address,
        network=network,
        payout_currency=payout_currency,
        memo=memo,
        balance_currency=balance_currency,
        fee_mode=fee_mode,
        priority=priority,
        rate_source=rate_source,
        approval=approval,
        execute_at=_instant(execute_at),
        order_id=order_id,
        callback_url=callback_url,
        comment=comment,
        metadata=dict(metadata) if metadata is not None else None,
    )
    return Call(
        "POST", "/v1/payouts", models.Payout.from_json, body=body, idempotency_key=idempotency_key
    )


def payout_get(payout_id: str) -> Call[models.Payout]:
    return Call("GET", f"/v1/payouts/{_seg(payout_id)}", models.Payout.from_json)


def payout_list(
    cursor: str | None,
    *,
    status: str | None,
    currency: str | None,
    network: str | None,
    order_id: str | None,
    batch_id: str | None,
    idempotency_key: str | None,
    limit: int | None,
) -> Call[models.Page[models.Payout]]:
    params = _params(
        status=status,
        currency=currency,
        network=network,
        order_id=order_id,
        batch_id=batch_id,
        idempotency_key=idempotency_key,
        limit=limit,
        cursor=cursor,
    )
    return Call("GET", "/v1/payouts", _page(models.Payout.from_json), params=params)


def payout_action(payout_id: str, action: str, key: str | None) -> Call[models.Payout]:
    path = f"/v1/payouts/{_seg(payout_id)}/{action}"
    return Call("POST", path, models.Payout.from_json, body={}, idempotency_key=key)


def quote_create(
    *,
    amount_: Decimal | str | int,
    currency: str,
    payout_currency: str | None,
    network: str | None,
    address: str | None,
    memo: str | None,
    balance_currency: str | None,
    fee_mode: str | None,
    priority: str | None,
    rate_source: str | None,
    idempotency_key: str | None,
) -> Call[models.Quote]:
    body = _body(
        amount=amount(amount_),
        currency=currency,
        payout_currency=payout_currency,
        network=network,
        address=address,
        memo=memo,
        balance_currency=balance_currency,
        fee_mode=fee_mode,
        priority=priority,
        rate_source=rate_source,
    )
    return Call(
        "POST", "/v1/quotes", models.Quote.from_json, body=body, idempotency_key=idempotency_key
    )


def balance_list(cursor: str | None) -> Call[models.Page[models.Balance]]:
    return Call(
        "GET", "/v1/balances", _page(models.Balance.from_json), params=_params(cursor=cursor)
    )


def limits_get(currency: str, rate_source: str | None) -> Call[models.Limits]:
    params = _params(currency=currency, rate_source=rate_source)
    return Call("GET", "/v1/limits", models.Limits.from_json, params=params)


def asset_list(cursor: str | None) -> Call[models.Page[models.Asset]]:
    return Call("GET", "/v1/assets", _page(models.Asset.from_json), params=_params(cursor=cursor))


def endpoint_create(
    url: str,
    event_types: list[str] | None,
    description: str | None,
    idempotency_key: str | None,
) -> Call[models.WebhookEndpoint]:
    body = _body(url=url, event_types=event_types, description=description)
    # payoutd keeps no Idempotency-Key answer for this POST: a second one makes a second
    # endpoint
    return Call(
        "POST",
        "/v1/webhook-endpoints",
        models.WebhookEndpoint.from_json,
        body=body,
        idempotency_key=idempotency_key,
        repeatable=False,
    )


def endpoint_get(endpoint_id: str) -> Call[models.WebhookEndpoint]:
    path = f"/v1/webhook-endpoints/{_seg(endpoint_id)}"
    return Call("GET", path, models.WebhookEndpoint.from_json)


def endpoint_list(
    cursor: str | None, limit: int | None
) -> Call[models.Page[models.WebhookEndpoint]]:
    return Call(
        "GET",
        "/v1/webhook-endpoints",
        _page(models.WebhookEndpoint.from_json),
        params=_params(cursor=cursor, limit=limit),
    )


def endpoint_delete(endpoint_id: str) -> Call[None]:
    # once done, a repeat answers 404
    return Call("DELETE", f"/v1/webhook-endpoints/{_seg(endpoint_id)}", _nothing, repeatable=False)


def delivery_list(
    endpoint_id: str, cursor: str | None, limit: int | None
) -> Call[models.Page[models.Delivery]]:
    path = f"/v1/webhook-endpoints/{_seg(endpoint_id)}/deliveries"
    return Call(
        "GET", path, _page(models.Delivery.from_json), params=_params(cursor=cursor, limit=limit)
    )


def delivery_redeliver(
    endpoint_id: str, delivery_id: str, key: str | None
) -> Call[models.Delivery]:
    path = f"/v1/webhook-endpoints/{_seg(endpoint_id)}/deliveries/{_seg(delivery_id)}/redeliver"
    return Call("POST", path, models.Delivery.from_json, body={}, idempotency_key=key)


def api_key_list(cursor: str | None) -> Call[models.Page[models.ApiKey]]:
    return Call(
        "GET", "/v1/api-keys", _page(models.ApiKey.from_json), params=_params(cursor=cursor)
    )
