"""Shared pieces of the Cryptomus / Spark dialect tests: the two mounts, a signed client
for a merchant, the envelope checks, and what a refusal must leave untouched."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pyotp
from sqlalchemy import func, select

from payoutd.store.tables import payouts as payouts_table
from tests.compat.client import CryptomusClient
from tests.support import Harness, Merchant

CRYPTOMUS = "/compat/cryptomus/v1"
SPARK = "/compat/spark/v1"
MOUNTS = [CRYPTOMUS, SPARK]
MOUNT_IDS = ["cryptomus", "spark"]

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
LTC_ADDR = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH_ADDR = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
TON_ADDR = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"
DOGE_ADDR = "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE"
CALLBACK = "https://merchant.example/cryptomus/callback"


def usdt(order_id: str, **changes: Any) -> dict[str, Any]:
    """The seed's example request (USDT on TRON, fee on top), changed as a case needs;
    a change to None leaves the parameter out."""
    body: dict[str, Any] = {
        "amount": "5",
        "currency": "USDT",
        "network": "TRON",
        "order_id": order_id,
        "address": TRON_ADDR,
        "is_subtract": "1",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def signed(
    h: Harness, m: Merchant, mount: str, key: str | None = None, serialise: str = "compact"
) -> CryptomusClient:
    """The merchant's client on one mount, signing with its payout key (or `key`)."""
    return CryptomusClient(h.client, m.id, key or m.key, base=mount, serialise=serialise)


def result(r: httpx.Response) -> Any:
    """The `result` of a success envelope, after checking the envelope is exactly that."""
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"state", "result"} and body["state"] == 0, body
    return body["result"]


@dataclass(frozen=True)
class State:
    """What a refused request must not change: every balance of the merchant (total and
    held) and the number of payouts in the whole database."""

    balances: dict[str, tuple[Decimal, Decimal]]
    payouts: int


async def state(h: Harness, m: Merchant) -> State:
    async with h.rt.db.read() as uow:
        rows = await uow.ledger.balances(m.id)
        count = (
            await uow.conn.execute(select(func.count()).select_from(payouts_table))
        ).scalar_one()
    return State({b.currency: (b.balance, b.held) for b in rows}, int(count))


async def new_payout_key(h: Harness, m: Merchant) -> str:
    """Generate a payouts key as Spark's documentation says one is made: 2FA bound first
    (the operator enrols TOTP), then the key with a current code. Returns the whole key;
    the merchant's payouts are blocked from now on for the cooldown."""
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    assert r.status_code == 201, r.text
    code = pyotp.TOTP(r.json()["secret"]).at(h.clock.now())
    r = await h.client.post(
        "/v1/api-keys",
        headers=m.headers,
        json={"scopes": ["read", "payouts"], "totp_code": code},
    )
    assert r.status_code == 201, r.text
    assert r.json()["payouts_blocked_until"] is not None, r.text
    key: str = r.json()["key"]
    return key


async def native(h: Harness, m: Merchant, payout_id: str) -> dict[str, Any]:
    """A payout as the native API shows it (what the dialect call actually did)."""
    r = await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)
    assert r.status_code == 200, r.text
    view: dict[str, Any] = r.json()
    return view
