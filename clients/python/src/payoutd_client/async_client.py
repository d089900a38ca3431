"""`AsyncClient`: the asyncio twin of `payoutd_client.Client`, method for method, with the
same retries and the same Idempotency-Key on every attempt of one POST."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import httpx

from payoutd_client import _core, models
from payoutd_client.pagination import AsyncPager

T = TypeVar("T")


class AsyncClient:
    """payoutd's native API, for asyncio.

    `http_client` lets you bring your own `httpx.AsyncClient`; it is then yours to
    close."""

    def __init__(
        self,
        api_key: str,
        base_url: str = _core.DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        retry: _core.Retry | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.retry = retry or _core.Retry(max_retries=max_retries)
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self.payouts = Payouts(self)
        self.quotes = Quotes(self)
        self.balances = Balances(self)
        self.limits = LimitsResource(self)
        self.assets = Assets(self)
        self.webhook_endpoints = WebhookEndpoints(self)
        self.api_keys = ApiKeys(self)

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(self, call: _core.Call[T]) -> T:
        key = _core.idempotency_key(call)
        headers = _core.headers(self.api_key, key)
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method,
                    self.base_url + call.path,
                    params=call.params,
                    json=call.body,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                wait = self.retry.delay(attempt, None, call)
                if wait is None or not _core.retry_transport_error(call, exc):
                    raise _core.connection_failed(call, exc) from exc
            else:
                wait = self.retry.delay(attempt, response, call)
                if wait is None:
                    return _core.result(call, response)
                await response.aclose()
            await asyncio.sleep(wait)
            attempt += 1


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client


class Payouts(_Resource):
    async def create(
        self,
        *,
        amount: Decimal | str | int,
        currency: str,
        address: str,
        network: str | None = None,
        payout_currency: str | None = None,
        memo: str | None = None,
        balance_currency: str | None = None,
        fee_mode: str | None = None,
        priority: str | None = None,
        rate_source: str | None = None,
        approval: str | None = None,
        execute_at: datetime | str | None = None,
        order_id: str | None = None,
        callback_url: str | None = None,
        comment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> models.Payout:
        """Create a payout (`approval="manual"` makes an offer to approve later). Repeating
        an `order_id` returns the existing payout and creates nothing."""
        return await self._client._request(
            _core.payout_create(
                amount_=amount,
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
                execute_at=execute_at,
                order_id=order_id,
                callback_url=callback_url,
                comment=comment,
                metadata=metadata,
                idempotency_key=idempotency_key,
            )
        )

    async def get(self, payout_id: str) -> models.Payout:
        return await self._client._request(_core.payout_get(payout_id))

    def list(
        self,
        *,
        status: str | None = None,
        currency: str | None = None,
        network: str | None = None,
        order_id: str | None = None,
        batch_id: str | None = None,
        idempotency_key: str | None = None,
        limit: int | None = None,
    ) -> AsyncPager[models.Payout]:
        """Payouts, newest first; `limit` is the page size (at most 200).
        `idempotency_key` finds the payout a create with that key made (none when it
        made none): how to learn, after a crash, whether a create got through."""

        async def fetch(cursor: str | None) -> models.Page[models.Payout]:
            return await self._client._request(
                _core.payout_list(
                    cursor,
                    status=status,
                    currency=currency,
                    network=network,
                    order_id=order_id,
                    batch_id=batch_id,
                    idempotency_key=idempotency_key,
                    limit=limit,
                )
            )

        return AsyncPager(fetch)

    async def approve(self, payout_id: str, *, idempotency_key: str | None = None) -> models.Payout:
        """Approve an offer: its funds are held and it is queued."""
        return await self._client._request(
            _core.payout_action(payout_id, "approve", idempotency_key)
        )

    async def cancel(self, payout_id: str, *, idempotency_key: str | None = None) -> models.Payout:
        """Cancel a payout that was not sent yet; held funds are released."""
        return await self._client._request(
            _core.payout_action(payout_id, "cancel", idempotency_key)
        )


class Quotes(_Resource):
    async def create(
        self,
        *,
        amount: Decimal | str | int,
        currency: str,
        payout_currency: str | None = None,
        network: str | None = None,
        address: str | None = None,
        memo: str | None = None,
        balance_currency: str | None = None,
        fee_mode: str | None = None,
        priority: str | None = None,
        rate_source: str | None = None,
        idempotency_key: str | None = None,
    ) -> models.Quote:
        """Price a payout without creating it."""
        return await self._client._request(
            _core.quote_create(
                amount_=amount,
                currency=currency,
                payout_currency=payout_currency,
                network=network,
                address=address,
                memo=memo,
                balance_currency=balance_currency,
                fee_mode=fee_mode,
                priority=priority,
                rate_source=rate_source,
                idempotency_key=idempotency_key,
            )
        )


class Balances(_Resource):
    def list(self) -> AsyncPager[models.Balance]:
        return AsyncPager(lambda cursor: self._client._request(_core.balance_list(cursor)))


class LimitsResource(_Resource):
    async def get(self, currency: str, *, rate_source: str | None = None) -> models.Limits:
        return await self._client._request(_core.limits_get(currency, rate_source))


class Assets(_Resource):
    def list(self) -> AsyncPager[models.Asset]:
        return AsyncPager(lambda cursor: self._client._request(_core.asset_list(cursor)))


class WebhookEndpoints(_Resource):
    async def create(
        self,
        url: str,
        *,
        event_types: list[str] | None = None,
        description: str | None = None,
        idempotency_key: str | None = None,
    ) -> models.WebhookEndpoint:
        """Subscribe `url`; the answer's `secret` (shown only now) verifies its webhooks."""
        return await self._client._request(
            _core.endpoint_create(url, event_types, description, idempotency_key)
        )

    async def get(self, endpoint_id: str) -> models.WebhookEndpoint:
        return await self._client._request(_core.endpoint_get(endpoint_id))

    def list(self, *, limit: int | None = None) -> AsyncPager[models.WebhookEndpoint]:
        return AsyncPager(lambda cursor: self._client._request(_core.endpoint_list(cursor, limit)))

    async def delete(self, endpoint_id: str) -> None:
        await self._client._request(_core.endpoint_delete(endpoint_id))

    def deliveries(
        self, endpoint_id: str, *, limit: int | None = None
    ) -> AsyncPager[models.Delivery]:
        """The endpoint's delivery log, newest first."""

        async def fetch(cursor: str | None) -> models.Page[models.Delivery]:
            return await self._client._request(_core.delivery_list(endpoint_id, cursor, limit))

        return AsyncPager(fetch)

    async def redeliver(
        self, endpoint_id: str, delivery_id: str, *, idempotency_key: str | None = None
    ) -> models.Delivery:
        """Send a delivery again now."""
        return await self._client._request(
            _core.delivery_redeliver(endpoint_id, delivery_id, idempotency_key)
        )


class ApiKeys(_Resource):
    def list(self) -> AsyncPager[models.ApiKey]:
        return AsyncPager(lambda cursor: self._client._request(_core.api_key_list(cursor)))


__all__ = ["AsyncClient"]
