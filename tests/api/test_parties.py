"""Customers, bank accounts and wallets through the native API, on SQLite and PostgreSQL:
create, retrieve, list with paging and lookup_key, one merchant never sees another's,
bad input is a 4xx with its code and field that changes nothing, the operator alone sets
KYC, and account numbers are sealed at rest."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from payoutd.secretbox import is_sealed
from payoutd.store.tables import bank_accounts
from tests.support import Harness, Merchant

SOL_ADDR = "7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"
ETH_ADDR = "0xdac17f958d2ee523a2206206994597c13d831ec7"  # lower case: comes back EIP-55
USD = {
    "currency": "usd",
    "holder_name": "Ada Lovelace",
    "bank_name": "Lead Bank",
    "routing_number": "101206101",
    "account_number": "1000682035",
}
EUR = {
    "currency": "eur",
    "holder_name": "Ada Lovelace",
    "iban": "DE89 3704 0044 0532 0130 00",
    "bic": "COBADEFFXXX",
}


async def _customer(h: Harness, m: Merchant, **extra: Any) -> dict[str, Any]:
    body = {"type": "individual", "name": "Ada Lovelace", **extra}
    r = await h.client.post("/v1/customers", headers=m.headers, json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def _everything(h: Harness, m: Merchant) -> list[Any]:
    out = []
    for path in ("/v1/customers", "/v1/bank-accounts", "/v1/wallets"):
        r = await h.client.get(path, headers=m.headers, params={"limit": 200})
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


async def test_create_and_retrieve(h: Harness) -> None:
    m = await h.merchant()
    c = await _customer(h, m, email="ada@example.com", meta={"crm": "1"}, lookup_key="u1")
    assert c["id"].startswith("customer_") and len(c["id"]) == len("customer_") + 32
    assert c["kyc_status"] == "pending" and c["meta"] == {"crm": "1"}

    r = await h.client.post(
        "/v1/bank-accounts", headers=m.headers, json={"customer": c["id"], **USD}
    )
    assert r.status_code == 201, r.text
    usd = r.json()
    assert usd["id"].startswith("bankAccount_")
    assert usd["account_number"] == "********2035" and usd["last4"] == "2035"
    assert usd["routing_number"] == "101206101" and usd["status"] == "active"
    assert usd["networks"] == ["ach", "achPull", "achPush", "wire"]

    r = await h.client.post(
        "/v1/bank-accounts", headers=m.headers, json={"customer": c["id"], **EUR}
    )
    assert r.status_code == 201, r.text
    eur = r.json()
    assert eur["iban"] == "********3000" and eur["bic"] == "COBADEFFXXX"
    assert eur["networks"] == ["sepa"]

    r = await h.client.post(
        "/v1/wallets",
        headers=m.headers,
        json={"customer": c["id"], "network": "ethereum", "currency": "usdt", "address": ETH_ADDR},
    )
    assert r.status_code == 201, r.text
    wallet = r.json()
    assert wallet["id"].startswith("wallet_")
    assert wallet["address"] == "0xdAC17F958D2ee523a2206206994597C13D831ec7"

    for path, obj in (
        (f"/v1/customers/{c['id']}", c),
        (f"/v1/bank-accounts/{usd['id']}", usd),
        (f"/v1/bank-accounts/{eur['id']}", eur),
        (f"/v1/wallets/{wallet['id']}", wallet),
    ):
        r = await h.client.get(path, headers=m.headers)
        assert (r.status_code, r.json()) == (200, obj)

    # the services hand the ramps the full numbers (opened), and the database holds them
    # sealed
    from payoutd.services import parties

    async with h.rt.db.read() as uow:
        full = await parties.get_bank_account(uow, m.id, usd["id"])
        assert full.account_number == "1000682035"
        full_eur = await parties.get_bank_account(uow, m.id, eur["id"])
        assert full_eur.iban == "DE89370400440532013000"
        rows = (await uow.conn.execute(select(bank_accounts))).all()
    stored = [v for row in rows for v in (row.account_number, row.iban) if v is not None]
    assert len(stored) == 2 and all(is_sealed(v) for v in stored)
    assert not any("1000682035" in v or "0532013000" in v for v in stored)


async def test_lists_page_newest_first_and_filter_by_lookup_key(h: Harness) -> None:
    m = await h.merchant()
    made = [await _customer(h, m, lookup_key="even" if i % 2 == 0 else "odd") for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await h.client.get("/v1/customers", headers=m.headers, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["data"]) <= 2
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in reversed(made)]

    r = await h.client.get("/v1/customers", headers=m.headers, params={"lookup_key": "odd"})
    assert [c["id"] for c in r.json()["data"]] == [made[3]["id"], made[1]["id"]]

    c = made[0]
    for i in range(3):
        body = {"customer": c["id"], **USD, "lookup_key": f"acct-{i % 2}"}
        assert (
            await h.client.post("/v1/bank-accounts", headers=m.headers, json=body)
        ).status_code == 201
        body = {
            "customer": c["id"],
            "network": "sol",
            "currency": "usdc",
            "address": SOL_ADDR,
            "lookup_key": f"w-{i % 2}",
        }
        assert (await h.client.post("/v1/wallets", headers=m.headers, json=body)).status_code == 201
    r = await h.client.get("/v1/bank-accounts", headers=m.headers, params={"lookup_key": "acct-0"})
    assert len(r.json()["data"]) == 2
    r = await h.client.get(
        "/v1/wallets", headers=m.headers, params={"lookup_key": "w-1", "limit": 1}
    )
    page = r.json()
    assert len(page["data"]) == 1 and page["next_cursor"] is None
    r = await h.client.get("/v1/wallets", headers=m.headers, params={"limit": 2})
    assert len(r.json()["data"]) == 2 and r.json()["next_cursor"]
    r = await h.client.get(
        "/v1/wallets", headers=m.headers, params={"cursor": r.json()["next_cursor"]}
    )
    assert len(r.json()["data"]) == 1 and r.json()["next_cursor"] is None


async def test_a_merchant_never_sees_another_merchants_parties(h: Harness) -> None:
    m = await h.merchant("Acme")
    other = await h.merchant("Other")
    c = await _customer(h, m, lookup_key="shared")
    acct = (
        await h.client.post(
            "/v1/bank-accounts", headers=m.headers, json={"customer": c["id"], **USD}
        )
    ).json()
    wallet = (
        await h.client.post(
            "/v1/wallets",
            headers=m.headers,
            json={"customer": c["id"], "network": "sol", "currency": "usdc", "address": SOL_ADDR},
        )
    ).json()
    for path in (
        f"/v1/customers/{c['id']}",
        f"/v1/bank-accounts/{acct['id']}",
        f"/v1/wallets/{wallet['id']}",
    ):
        r = await h.client.get(path, headers=other.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    for path in ("/v1/customers", "/v1/bank-accounts", "/v1/wallets"):
        r = await h.client.get(path, headers=other.headers, params={"lookup_key": "shared"})
        assert r.json()["data"] == []
        assert (await h.client.get(path, headers=other.headers)).json()["data"] == []
    # nor attach accounts to it, nor disable its accounts
    r = await h.client.post(
        "/v1/bank-accounts", headers=other.headers, json={"customer": c["id"], **USD}
    )
    assert r.status_code == 422 and r.json()["error"]["fields"] == {
        "customer": ["The customer was not found"]
    }
    r = await h.client.post(f"/v1/wallets/{wallet['id']}/disable", headers=other.headers)
    assert r.status_code == 404
    assert (await h.client.get(f"/v1/wallets/{wallet['id']}", headers=m.headers)).json()[
        "status"
    ] == "active"


BAD_INPUT = [
    (
        "bank-accounts",
        {**USD, "routing_number": "101206102"},
        "invalid_routing_number",
        "routing_number",
    ),
    ("bank-accounts", {**USD, "account_number": "123"}, "invalid_account_number", "account_number"),
    ("bank-accounts", {**EUR, "iban": "DE89370400440532013001"}, "invalid_iban", "iban"),
    ("bank-accounts", {**EUR, "bic": "BNPAFRPPXXX"}, "invalid_bic", "bic"),
    ("bank-accounts", {**USD, "iban": "DE89370400440532013000"}, "validation_error", "iban"),
    (
        "bank-accounts",
        {**EUR, "customer": "customer_" + "0" * 32},
        "customer_not_found",
        "customer",
    ),
    (
        "wallets",
        {"network": "sol", "currency": "usdc", "address": ETH_ADDR},
        "invalid_address",
        "address",
    ),
    (
        "wallets",
        {"network": "tron", "currency": "usdc", "address": SOL_ADDR},
        "validation_error",
        "network",
    ),
    ("customers", {"type": "robot", "name": "X"}, "validation_error", "type"),
]


@pytest.mark.parametrize(("kind", "body", "code", "field"), BAD_INPUT)
async def test_bad_input_is_refused_with_its_code_and_field_and_changes_nothing(
    h: Harness, kind: str, body: dict[str, Any], code: str, field: str
) -> None:
    m = await h.merchant()
    c = await _customer(h, m)
    before = await _everything(h, m)
    sent = body if kind == "customers" else {"customer": c["id"], **body}
    r = await h.client.post(f"/v1/{kind}", headers=m.headers, json=sent)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code and list(error["fields"]) == [field], error
    assert await _everything(h, m) == before


async def test_the_operator_sets_kyc_and_a_merchant_cannot(h: Harness) -> None:
    m = await h.merchant()
    c = await _customer(h, m)
    path = f"/v1/admin/customers/{c['id']}/kyc"
    r = await h.client.post(path, headers=m.headers, json={"status": "approved"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_scope"
    r = await h.client.post(path, headers=h.admin, json={"status": "approved"})
    assert r.status_code == 200, r.text
    assert r.json()["kyc_status"] == "approved"
    got = await h.client.get(f"/v1/customers/{c['id']}", headers=m.headers)
    assert got.json()["kyc_status"] == "approved"
    r = await h.client.post(path, headers=h.admin, json={"status": "maybe"})
    assert r.status_code == 422 and list(r.json()["error"]["fields"]) == ["status"]
    r = await h.client.post(
        "/v1/admin/customers/customer_" + "0" * 32 + "/kyc",
        headers=h.admin,
        json={"status": "approved"},
    )
    assert r.status_code == 404


async def test_disable_and_funding_accounts_are_readable(h: Harness) -> None:
    m = await h.merchant()
    c = await _customer(h, m)
    acct = (
        await h.client.post(
            "/v1/bank-accounts", headers=m.headers, json={"customer": c["id"], **EUR}
        )
    ).json()
    r = await h.client.post(f"/v1/bank-accounts/{acct['id']}/disable", headers=m.headers)
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    from payoutd.services import parties

    funding = parties.funding_account(h.rt.ctx, "usd", "wire")
    r = await h.client.get(f"/v1/bank-accounts/{funding.id}", headers=m.headers)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["funding"] is True and shown["customer"] is None
    assert shown["account_number"] == funding.account_number  # in full: customers pay in
    wallet = parties.funding_wallet(h.rt.ctx, "usdc", "base")
    r = await h.client.get(f"/v1/wallets/{wallet.id}", headers=m.headers)
    assert r.status_code == 200 and r.json()["address"] == wallet.address


async def test_a_bad_cursor_is_refused(h: Harness) -> None:
    m = await h.merchant()
    r = await h.client.get("/v1/customers", headers=m.headers, params={"cursor": "bm9wZQ"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"


async def test_rotation_reseals_account_numbers_and_they_still_open(h: Harness) -> None:
    from payoutd.services import parties
    from payoutd.services.sealing import reseal_all

    m = await h.merchant()
    c = await _customer(h, m)
    usd = (
        await h.client.post(
            "/v1/bank-accounts", headers=m.headers, json={"customer": c["id"], **USD}
        )
    ).json()
    eur = (
        await h.client.post(
            "/v1/bank-accounts", headers=m.headers, json={"customer": c["id"], **EUR}
        )
    ).json()
    box = h.rt.secrets
    box.add_key()
    async with h.rt.db.unit() as uow:
        count = await reseal_all(uow, h.rt.ctx, actor="tests")
    box.retire_old_keys()
    assert count == 4  # the operator's and the merchant's API key, and the two numbers
    async with h.rt.db.read() as uow:
        assert (await parties.get_bank_account(uow, m.id, usd["id"])).account_number == (
            "1000682035"
        )
        assert (await parties.get_bank_account(uow, m.id, eur["id"])).iban == (
            "DE89370400440532013000"
        )
