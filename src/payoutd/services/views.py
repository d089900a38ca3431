"""The JSON shape of a payout: the same for the API and for the events in the outbox."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from payoutd.domain.assets import ASSETS, CURRENCIES, FIAT_DECIMALS
from payoutd.domain.money import ROUND_CREDIT, fmt, quantize
from payoutd.domain.parties import BankAccount, Customer, Wallet
from payoutd.domain.payout import Payout


def amount(value: Decimal | None, currency: str, network: str | None = None) -> str | None:
    """Shown at the precision of what it is denominated in, so the same payout reads the
    same on SQLite and PostgreSQL."""
    return _shown(currency, network)(value)


@functools.cache
def _shown(currency: str, network: str | None) -> Callable[[Decimal | None], str | None]:
    """`amount` for one currency and network, its precision looked up once (a payout's
    view shows seven amounts: it was most of an intake request's view)."""
    decimals = _shown_decimals(currency, network)

    def show(value: Decimal | None) -> str | None:
        return None if value is None else fmt(quantize(value, decimals, ROUND_CREDIT))

    return show


def _shown_decimals(currency: str, network: str | None) -> int:
    asset = ASSETS.get((currency, network or ""))
    cur = CURRENCIES.get(currency)
    # a currency payoutd does not list is a fiat the rates file prices (Context.currency)
    decimals = asset.decimals if asset else (cur.decimals if cur else FIAT_DECIMALS)
    if cur:
        decimals = max(decimals, cur.decimals)
    return decimals


def ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def payout_view(p: Payout) -> dict[str, Any]:
    pc, net = p.payout_currency, p.network
    shown = _shown(pc, net)
    return {
        "id": p.id,
        "object": "payout",
        "order_id": p.order_id,
        "status": p.status.value,
        "is_final": p.is_final,
        "amount": amount(p.amount, p.currency, net),
        "currency": p.currency,
        "payout_amount": shown(p.payout_amount),
        "payout_currency": pc,
        "network": net,
        "address": p.address,
        "memo": p.memo,
        "priority": p.priority,
        "fee_mode": p.fee_mode,
        "fees": {
            "network": shown(p.fee_network),
            "service": shown(p.fee_service),
            "total": shown(p.fee_total),
            "currency": pc,
        },
        "final_amount": shown(p.final_amount),
        "debit": {"amount": amount(p.debit_amount, p.debit_currency), "currency": p.debit_currency},
        "rate": {
            "value": fmt(p.rate_value.normalize()) if p.rate_value is not None else None,
            "base": pc if p.rate_value is not None else None,
            "quote": (p.debit_currency if p.debit_currency != pc else p.currency)
            if p.rate_value is not None
            else None,
            "source": p.rate_source,
            "expires_at": ts(p.rate_expires_at),
        },
        "approval": p.approval,
        "txid": p.txid,
        "confirmations": p.confirmations,
        "batch_id": p.batch_id,
        "failure_reason": p.failure_reason,
        "execute_at": ts(p.execute_at),
        "expires_at": ts(p.expires_at),
        "callback_url": p.callback_url,
        "comment": p.comment,
        "metadata": p.metadata,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
    }


# -- the parties of ramp payouts (native API and CLI) --------------------------------


def customer_view(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "type": c.type.value,
        "name": c.name,
        "email": c.email,
        "kyc_status": c.kyc_status.value,
        "meta": c.meta,
        "lookup_key": c.lookup_key,
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
    }


def bank_account_view(a: BankAccount) -> dict[str, Any]:
    """A customer's account number and IBAN are shown by their last four digits only (the
    merchant gave them; nothing needs them back in full). A funding account is shown in
    full: customers need it to pay in."""
    return {
        "id": a.id,
        "customer": a.customer_id,
        "currency": a.currency.value,
        "networks": [n.value for n in a.networks],
        "status": a.status.value,
        "holder_name": a.holder_name,
        "bank_name": a.bank_name,
        "bank_address": a.bank_address,
        "account_type": a.account_type,
        "routing_number": a.routing_number,
        "account_number": a.account_number
        if a.funding or not a.account_number
        else a.masked_number,
        "iban": a.iban if a.funding or not a.iban else a.masked_number,
        "bic": a.bic,
        "last4": a.last4,
        "funding": a.funding,
        "meta": a.meta,
        "lookup_key": a.lookup_key,
        "created_at": ts(a.created_at),
        "updated_at": ts(a.updated_at),
    }


def wallet_view(w: Wallet) -> dict[str, Any]:
    return {
        "id": w.id,
        "customer": w.customer_id,
        "network": w.network.value,
        "currency": w.currency.value,
        "address": w.address,
        "status": w.status.value,
        "funding": w.funding,
        "meta": w.meta,
        "lookup_key": w.lookup_key,
        "created_at": ts(w.created_at),
        "updated_at": ts(w.updated_at),
    }
