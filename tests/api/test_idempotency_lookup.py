"""Issue 20, item 4: the native API finds a payout by the Idempotency-Key it was created
with (`GET /v1/payouts?idempotency_key=`), as Calypso finds one by its idempotencyKey.
Both databases."""

from __future__ import annotations

from typing import Any

from tests.support import Harness, Merchant

ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
ADDR_2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"


async def create(h: Harness, m: Merchant, key: str, amount: str, address: str) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/payouts",
        headers={**m.headers, "Idempotency-Key": key},
        json={"amount": amount, "currency": "BTC", "address": address},
    )
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


async def found(h: Harness, m: Merchant, **params: str) -> list[str]:
    r = await h.client.get("/v1/payouts", headers=m.headers, params=params)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return [p["id"] for p in r.json()["data"]]


async def test_a_payout_is_found_by_the_idempotency_key_it_was_created_with(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    first = await create(h, m, "key-1", "0.01", ADDR)
    second = await create(h, m, "key-2", "0.02", ADDR_2)
    assert await found(h, m, idempotency_key="key-1") == [first["id"]]
    assert await found(h, m, idempotency_key="key-2") == [second["id"]]
    assert await found(h, m, idempotency_key="key-3") == []
    # the other filters apply too
    assert await found(h, m, idempotency_key="key-1", status="queued") == [first["id"]]
    assert await found(h, m, idempotency_key="key-1", status="paid") == []

    # a key used to cancel names no payout created with it
    r = await h.client.post(
        f"/v1/payouts/{second['id']}/cancel", headers={**m.headers, "Idempotency-Key": "key-4"}
    )
    assert r.status_code == 200, r.text
    assert await found(h, m, idempotency_key="key-4") == []

    # keys are the merchant's own: another merchant's key finds nothing
    other = await h.merchant("Other", BTC="1")
    assert await found(h, other, idempotency_key="key-1") == []
    mine = await create(h, other, "key-1", "0.03", ADDR)
    assert await found(h, other, idempotency_key="key-1") == [mine["id"]]
    assert await found(h, m, idempotency_key="key-1") == [first["id"]]
