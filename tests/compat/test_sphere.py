"""Sphere's dialect, the parties part, driven by a client written from the seed
(tests/compat/sphere_client.py) on SQLite and PostgreSQL: customer, bankAccount and
wallet create and retrieve in Sphere's envelope and ids, the seed's bankAccount fields,
and the error envelope for an unknown id, a bad key and bad input."""

from __future__ import annotations

import re
from typing import Any

from payoutd.services import merchants
from tests.compat.sphere_client import (
    BANK_ACCOUNT_FIELDS,
    BENEFICIARY_ADDRESS_FIELDS,
    IDS,
    TS,
    Answer,
    SphereClient,
)
from tests.support import Harness, Merchant

SOL_ADDR = "DuUf1ThgCQcwrrW6X6dw5MTwsHcTrxSg1rMhSSbvL1Zr"  # the seed's


def sphere(h: Harness, m: Merchant) -> SphereClient:
    return SphereClient(h.client, m.key)


async def _customer(c: SphereClient) -> dict[str, Any]:
    a = await c.create_customer(
        type="individual",
        firstName="Ada",
        lastName="Lovelace",
        email="ada@example.com",
        lookupKey="user-1",
    )
    assert (a.status, a.ok) == (200, True), a.envelope
    customer: dict[str, Any] = a.data["customer"]
    return customer


def _failure(a: Answer, status: int, error: str) -> None:
    assert (a.status, a.ok, a.envelope["error"]) == (status, False, error), a.envelope
    assert a.envelope["statusCode"] == status and a.data is None


async def test_customer_bank_account_and_wallet_created_and_retrieved(h: Harness) -> None:
    m = await h.merchant()
    c = sphere(h, m)
    customer = await _customer(c)
    assert IDS["customer"].fullmatch(customer["id"])
    assert customer["type"] == "individual" and customer["name"] == "Ada Lovelace"
    assert customer["lookupKey"] == "user-1" and customer["kyc"] == "pending"
    assert TS.fullmatch(customer["created"]) and TS.fullmatch(customer["updated"])

    a = await c.create_bank_account(
        customer=customer["id"], currency="usd", accountHolderName="Ada Lovelace",
        bankName="Lead Bank", accountNumber="1000685771", routingNumber="101206101",
        accountType="checking", meta={"ref": "x"}, lookupKey="acct-1",
    )  # fmt: skip
    assert (a.status, a.ok) == (200, True), a.envelope
    usd = a.data["bankAccount"]
    assert list(usd) == BANK_ACCOUNT_FIELDS
    assert list(usd["beneficiaryAddress"]) == BENEFICIARY_ADDRESS_FIELDS
    assert IDS["bankAccount"].fullmatch(usd["id"])
    assert usd["customer"] == customer["id"] and usd["status"] == "active"
    assert usd["accountNumber"] == "********5771" and usd["last4"] == "5771"
    assert usd["routingNumber"] == "101206101" and usd["currency"] == "usd"
    assert usd["iban"] is None and usd["bic"] is None and usd["deleted"] is None
    assert usd["meta"] == {"ref": "x"} and usd["lookupKey"] == "acct-1"
    assert usd["walletBankAccounts"] == [] and usd["mock"] is False

    a = await c.create_bank_account(
        customer=customer["id"], currency="eur", accountName="Ada Lovelace",
        iban="FR14 2004 1010 0505 0001 3M02 606", bic="BNPAFRPP",
    )  # fmt: skip
    assert a.ok, a.envelope
    eur = a.data["bankAccount"]
    assert eur["iban"] == "********2606" and eur["bic"] == "BNPAFRPP"
    assert eur["accountHolderName"] == "Ada Lovelace" and eur["routingNumber"] is None

    a = await c.create_wallet(
        customer=customer["id"], network="sol", currency="usdc", address=SOL_ADDR
    )
    assert a.ok, a.envelope
    wallet = a.data["wallet"]
    assert IDS["wallet"].fullmatch(wallet["id"])
    assert (wallet["address"], wallet["network"], wallet["currency"]) == (SOL_ADDR, "sol", "usdc")

    for answer, name, made in (
        (await c.customer(customer["id"]), "customer", customer),
        (await c.bank_account(usd["id"]), "bankAccount", usd),
        (await c.bank_account(eur["id"]), "bankAccount", eur),
        (await c.wallet(wallet["id"]), "wallet", wallet),
    ):
        assert (answer.status, answer.ok) == (200, True), answer.envelope
        assert answer.data == {name: made}

    # every answer has its own request id
    assert len({(await c.customer(customer["id"])).envelope["request"] for _ in range(3)}) == 3

    # the same objects through the native API
    r = await h.client.get(f"/v1/bank-accounts/{usd['id']}", headers=m.headers)
    assert r.json()["customer"] == customer["id"]


async def test_unknown_ids_answer_the_error_envelope(h: Harness) -> None:
    m = await h.merchant()
    other = await h.merchant("Other")
    c = sphere(h, m)
    customer = await _customer(c)
    for resource, unknown in (
        ("customer", "customer_" + "0" * 32),
        ("bankAccount", "bankAccount_" + "0" * 32),
        ("wallet", "wallet_" + "0" * 32),
        ("wallet", "not-an-id"),
    ):
        a = await c.get(resource, unknown)
        _failure(a, 404, "not_found")
    # another merchant's customer is unknown too
    _failure(await sphere(h, other).customer(customer["id"]), 404, "not_found")


async def test_refusals_are_envelopes(h: Harness) -> None:
    m = await h.merchant()
    c = sphere(h, m)
    customer = await _customer(c)

    _failure(
        await SphereClient(h.client, "pk_nope_nope").customer(customer["id"]), 401, "unauthorized"
    )
    r = await h.client.get(f"/compat/sphere/v1/customer/{customer['id']}")
    assert r.status_code == 401 and r.json()["ok"] is False and r.json()["statusCode"] == 401

    a = await c.create_bank_account(
        customer=customer["id"],
        currency="usd",
        accountHolderName="Ada",
        accountNumber="1000685771",
        routingNumber="101206102",
    )
    _failure(a, 422, "invalid_routing_number")
    assert a.envelope["message"].startswith("routingNumber: ")

    a = await c.create_bank_account(
        customer=customer["id"],
        currency="eur",
        accountHolderName="Ada",
        iban="DE89370400440532013000",
        bic="BNPAFRPPXXX",
    )
    _failure(a, 422, "invalid_bic")

    a = await c.create_wallet(
        customer=customer["id"], network="base", currency="usdc", address=SOL_ADDR
    )
    _failure(a, 422, "invalid_address")
    a = await c.create_wallet(
        customer=customer["id"], network="tron", currency="usdc", address=SOL_ADDR
    )
    _failure(a, 422, "validation_error")
    assert re.match(r"network: ", a.envelope["message"])

    r = await h.client.post("/compat/sphere/v1/customer", content=b"{not json", headers=c.headers)
    assert r.status_code == 400 and r.json()["error"] == "bad_request"

    # a read key may read, not create
    async with h.rt.db.unit() as uow:
        issued = merchants.issue_key(m.id, frozenset({"read"}), "read only", h.rt.ctx)
        await uow.merchants.add_key(issued.key)
    reader = SphereClient(h.client, issued.plaintext)
    assert (await reader.customer(customer["id"])).ok
    _failure(await reader.create_customer(type="individual", name="X"), 403, "forbidden_scope")

    # nothing of the refused was kept
    r = await h.client.get("/v1/bank-accounts", headers=m.headers)
    assert r.json()["data"] == []
    r = await h.client.get("/v1/wallets", headers=m.headers)
    assert r.json()["data"] == []


async def test_funding_accounts_read_as_the_seed_shows_them(h: Harness) -> None:
    from payoutd.services import parties

    m = await h.merchant()
    funding = parties.funding_account(h.rt.ctx, "usd", "wire")
    a = await sphere(h, m).bank_account(funding.id)
    assert a.ok, a.envelope
    shown = a.data["bankAccount"]
    assert list(shown) == BANK_ACCOUNT_FIELDS
    assert shown["customer"] is None and shown["mock"] is True
    assert shown["accountNumber"] == funding.account_number
