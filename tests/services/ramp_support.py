"""Shared by the ramp payout tests: a merchant's approved customer with a USD and a EUR
bank account and a Solana USDC wallet, made through services.parties; creating a ramp
payout through the native API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payoutd.services import parties
from tests.support import Harness, Merchant

# a valid ABA routing number (Federal Reserve Bank of Boston) and IBAN/BIC (the IBAN
# registry's UK example)
ROUTING = "011000015"
IBAN = "GB33BUKB20201555555555"
BIC = "BUKBGB22"
# the seed's Solana addresses: the customer's wallet, and where its off-ramps come from
SOL_WALLET = "7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"
SANDBOX_SOL_FUNDING = "FLWE9QbB2YCpWZezriKdwLPsW6bgktbeUVcPkm44tzaj"


@dataclass
class Customer:
    id: str
    usd_account: str
    eur_account: str
    wallet: str


async def customer(h: Harness, merchant: Merchant, *, approved: bool = True) -> Customer:
    ctx = h.rt.ctx
    async with h.rt.db.unit() as uow:
        c = await parties.create_customer(
            uow, ctx, merchant.id, parties.CustomerRequest(type="individual", name="Ada Lovelace")
        )
        if approved:
            await parties.set_kyc(uow, ctx, c.id, "approved", actor="tests")
        usd = await parties.create_bank_account(
            uow,
            ctx,
            merchant.id,
            parties.BankAccountRequest(
                customer_id=c.id,
                currency="usd",
                holder_name="Ada Lovelace",
                bank_name="Lead Bank",
                routing_number=ROUTING,
                account_number="1000682035",
            ),
        )
        eur = await parties.create_bank_account(
            uow,
            ctx,
            merchant.id,
            parties.BankAccountRequest(
                customer_id=c.id,
                currency="eur",
                holder_name="Ada Lovelace",
                bank_name="Barclays",
                iban=IBAN,
                bic=BIC,
            ),
        )
        wallet = await parties.create_wallet(
            uow,
            ctx,
            merchant.id,
            parties.WalletRequest(
                customer_id=c.id, network="sol", currency="usdc", address=SOL_WALLET
            ),
        )
    return Customer(c.id, usd.id, eur.id, wallet.id)


def on_ramp_body(c: Customer, amount: str, currency: str = "usd", **extra: Any) -> dict[str, Any]:
    account, network = (c.usd_account, "wire") if currency == "usd" else (c.eur_account, "sepa")
    return {
        "customer": c.id,
        "amount": amount,
        "source": {"id": account, "currency": currency, "network": network},
        "destination": {"id": c.wallet, "currency": "usdc", "network": "sol"},
        **extra,
    }


def off_ramp_body(c: Customer, amount: str, currency: str = "eur", **extra: Any) -> dict[str, Any]:
    account, network = (c.usd_account, "ach") if currency == "usd" else (c.eur_account, "sepa")
    return {
        "customer": c.id,
        "amount": amount,
        "source": {"id": c.wallet, "currency": "usdc", "network": "sol"},
        "destination": {"id": account, "currency": currency, "network": network},
        **extra,
    }


async def create(h: Harness, merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    r = await h.client.post("/v1/ramp-payouts", json=body, headers=merchant.headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def status_of(h: Harness, merchant: Merchant, ramp_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/v1/ramp-payouts/{ramp_id}", headers=merchant.headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def ramp_objects(h: Harness, merchant: Merchant) -> dict[str, str]:
    """One real object of `merchant`'s for every path id of the parties' and ramp routes:
    its customer, bank account, wallet, a pending ramp payout, a review queue item (a
    sandbox transfer nothing carries the memo of) and a payment id."""
    c = await customer(h, merchant)
    ramp = await create(h, merchant, on_ramp_body(c, "10.00"))
    r = await h.client.post(
        "/v1/sandbox/bank/transfers",
        json={"amount": "1.00", "currency": "usd", "memo": "nothing", "network": "wire"},
        headers=h.admin,
    )
    assert r.json()["outcome"] == "review", r.text
    [item] = (await h.client.get("/v1/admin/bank/review", headers=h.admin)).json()["data"]
    return {
        "customer_id": c.id,
        "account_id": c.usd_account,
        "wallet_id": c.wallet,
        "ramp_id": ramp["id"],
        "item_id": item["id"],
        "payment_id": "P" + "2" * 14,
    }


async def deposit_on_chain(h: Harness, amount: str) -> None:
    """The customer's USDC sent from their wallet to the sandbox's SOL funding wallet
    (POST /v1/sandbox/deposits), mined past its confirmations and seen by the worker's
    funding watch, which hands it to the ramp services: how an off-ramp is funded."""
    from payoutd.services import ramps
    from payoutd.worker.jobs import watch_funding

    r = await h.client.post(
        "/v1/sandbox/deposits",
        json={
            "network": "SOL",
            "currency": "USDC",
            "address": SANDBOX_SOL_FUNDING,
            "amount": amount,
            "sender": SOL_WALLET,
        },
        headers=h.admin,
    )
    assert r.status_code == 201, r.text
    await h.mine(h.rt.settings.sandbox_confirmations + 1)
    handed = await watch_funding(
        h.rt.db, h.rt.ctx, ramps.funding_watch(h.rt.ctx), ramps.receive_deposit
    )
    assert [str(d.amount) for d in handed] == [str(r.json()["amount"])], handed
