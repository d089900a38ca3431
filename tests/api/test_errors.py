"""Every error code of the catalogue, triggered through the native API, on SQLite and
PostgreSQL: the status and code are the catalogue's, the body is the documented envelope,
`fields` names the field at fault, the seeds' wording is kept, and a refusal changes
nothing (balances and payouts are the same before and after)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as default
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from starlette.requests import Request

from payoutd.api import idempotency
from payoutd.chains import sandbox
from payoutd.domain.errors import CATALOGUE
from payoutd.rates.static import SAMPLE_RATES_FILE
from payoutd.services import merchants, parties
from payoutd.services.ports import ChainUnavailable
from tests import support
from tests.support import Harness, Merchant

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
REVIEW_ADDR = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"  # the sandbox drops what pays it
TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH_ADDR = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
TON_ADDR = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"
DOGE_ADDR = "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE"

USDT_TRON = {"amount": "25", "currency": "USDT", "network": "TRON", "address": TRON_ADDR}
BTC_PAYOUT = {"amount": "0.01", "currency": "BTC", "address": BTC_ADDR}
USD_ACCOUNT = {
    "currency": "usd",
    "holder_name": "Ada",
    "routing_number": "101206101",
    "account_number": "1000682035",
}
EUR_ACCOUNT = {
    "currency": "eur",
    "holder_name": "Ada",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
}


def usdt(**changes: Any) -> dict[str, Any]:
    body = dict(USDT_TRON, **changes)
    return {k: v for k, v in body.items() if v is not None}


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    method: str
    path: str  # may name payouts made by `setup`: {queued} {paid} {other}
    body: Any = None  # JSON-encoded, unless `raw` is given
    raw: bytes | None = None
    params: dict[str, Any] = default(default_factory=dict)
    # merchant | none | wrong | basic | read | admin, or a key of the merchant's own with
    # its restrictions: far (an IP allowlist the client is outside), signing (signs
    # requests), limited (a rate limit already reached)
    auth: str = "merchant"
    headers: dict[str, str] = default(default_factory=dict)
    field: str | None = None  # the field `fields` must name (and only it)
    message: str | None = None  # the exact message, where the seeds have a wording
    setup: tuple[str, ...] = ()
    unpriced: str | None = None  # a currency the operator's rates file leaves out
    expires: str | None = None  # the offer the refusal (by design) marks `expired`
    settings: dict[str, Any] = default(default_factory=dict)  # operator settings for the case
    expect_headers: tuple[str, ...] = ()  # response headers the refusal must carry

    def content(self) -> bytes | None:
        if self.raw is not None:
            return self.raw
        return None if self.body is None else json.dumps(self.body).encode()


CREATE = "/v1/payouts"
ANY_ID = "01a1f000-0000-7000-8000-000000000000"


def _cursor(position: str) -> str:
    """A cursor as payoutd spells one, for a position of the caller's choosing."""
    return base64.urlsafe_b64encode(f"v1:{position}".encode()).decode().rstrip("=")


CASES: list[Case] = [
    # -- validation_error: the request's shape
    Case(
        "missing-amount",
        "validation_error",
        "POST",
        CREATE,
        without(USDT_TRON, "amount"),
        field="amount",
    ),
    Case(
        "missing-address",
        "validation_error",
        "POST",
        CREATE,
        without(USDT_TRON, "address"),
        field="address",
    ),
    Case(
        "unknown-fee-mode",
        "validation_error",
        "POST",
        CREATE,
        usdt(fee_mode="free"),
        field="fee_mode",
    ),
    Case(
        "unknown-priority",
        "validation_error",
        "POST",
        CREATE,
        dict(BTC_PAYOUT, priority="turbo"),
        field="priority",
    ),
    Case(
        "unknown-approval",
        "validation_error",
        "POST",
        CREATE,
        usdt(approval="maybe"),
        field="approval",
    ),
    Case(
        "unknown-field",
        "validation_error",
        "POST",
        CREATE,
        usdt(amount_usd="1"),
        field="amount_usd",
    ),
    Case(
        "bad-order-id", "validation_error", "POST", CREATE, usdt(order_id="a b"), field="order_id"
    ),
    Case(
        "callback-not-http",
        "validation_error",
        "POST",
        CREATE,
        usdt(callback_url="ftp://x.example"),
        field="callback_url",
    ),
    Case("body-not-object", "validation_error", "POST", CREATE, [USDT_TRON], field="body"),
    # an instant without its offset, or a year no payout waits for (500s before: naive and
    # aware datetimes compared in the domain)
    Case(
        "execute-at-no-offset",
        "validation_error",
        "POST",
        CREATE,
        usdt(execute_at="2030-01-01T00:00:00"),
        field="execute_at",
    ),
    Case(
        "execute-at-bare-date",
        "validation_error",
        "POST",
        CREATE,
        usdt(execute_at="2030-01-01"),
        field="execute_at",
    ),
    Case(
        "execute-at-year-1",
        "validation_error",
        "POST",
        CREATE,
        usdt(execute_at="0001-01-01T00:00:00Z"),
        field="execute_at",
    ),
    Case(
        "execute-at-year-9999",
        "validation_error",
        "POST",
        CREATE,
        usdt(execute_at="9999-12-31T23:59:59+00:00"),
        field="execute_at",
    ),
    Case(
        "execute-at-unix-time",
        "validation_error",
        "POST",
        CREATE,
        usdt(execute_at=1893456000),
        field="execute_at",
    ),
    # metadata: flat pairs of strings, Stripe's limits (a value nested 300 deep was stored,
    # then every read of it answered 500)
    Case(
        "metadata-nested",
        "validation_error",
        "POST",
        CREATE,
        usdt(metadata={"a": json.loads('{"b": ' * 300 + '"x"' + "}" * 300)}),
        field="metadata.a",
    ),
    Case(
        "metadata-number",
        "validation_error",
        "POST",
        CREATE,
        usdt(metadata={"n": 1}),
        field="metadata.n",
    ),
    Case(
        "metadata-51-keys",
        "validation_error",
        "POST",
        CREATE,
        usdt(metadata={f"k{i}": "v" for i in range(51)}),
        field="metadata",
    ),
    Case(
        "metadata-long-key",
        "validation_error",
        "POST",
        CREATE,
        usdt(metadata={"k" * 41: "v"}),
        field=f"metadata.{'k' * 41}.[key]",
    ),
    Case(
        "metadata-long-value",
        "validation_error",
        "POST",
        CREATE,
        usdt(metadata={"k": "v" * 501}),
        field="metadata.k",
    ),
    # booleans are not numbers, numbers are not booleans
    Case(
        "rotation-overlap-boolean",
        "validation_error",
        "POST",
        "/v1/webhook-endpoints/{endpoint}/rotate-secret",
        {"overlap_seconds": False},
        setup=("endpoint",),
        field="overlap_seconds",
    ),
    Case(
        "sandbox-rule-blocks-boolean",
        "validation_error",
        "POST",
        "/v1/sandbox/rules",
        {"address": BTC_ADDR, "action": "delay", "blocks": True},
        auth="admin",
        field="blocks",
    ),
    Case(
        "allowlist-enabled-number",
        "validation_error",
        "PUT",
        "/v1/address-allowlist",
        {"enabled": 1},
        field="enabled",
    ),
    Case("limit-zero", "validation_error", "GET", CREATE, params={"limit": 0}, field="limit"),
    Case("limit-too-big", "validation_error", "GET", CREATE, params={"limit": 201}, field="limit"),
    # a date-time filter is RFC 3339 text: not Unix time, not a bare date
    Case(
        "created-to-a-number",
        "validation_error",
        "GET",
        CREATE,
        params={"created_to": "0.5"},
        field="created_to",
    ),
    Case(
        "created-from-a-date",
        "validation_error",
        "GET",
        CREATE,
        params={"created_from": "2026-12-01"},
        field="created_from",
    ),
    Case(
        "idempotency-key-too-long",
        "validation_error",
        "POST",
        CREATE,
        USDT_TRON,
        headers={"Idempotency-Key": "k" * 256},
        field="Idempotency-Key",
    ),
    # text no database stores (PostgreSQL refuses NUL; neither takes a lone surrogate)
    Case(
        "nul-in-address",
        "validation_error",
        "POST",
        CREATE,
        usdt(address="TR7\x00"),
        field="address",
    ),
    Case(
        "nul-in-metadata",
        "validation_error",
        "POST",
        CREATE,
        usdt(metadata={"note": ["ok", "n\x00"]}),
        field="metadata.note.1",
    ),
    Case(
        "lone-surrogate",
        "validation_error",
        "POST",
        CREATE,
        raw=b'{"amount": "25", "currency": "USDT", "network": "TRON", "address": "\\ud800"}',
        field="address",
    ),
    Case(
        "nul-in-query",
        "validation_error",
        "GET",
        CREATE,
        params={"order_id": "a\x00"},
        field="order_id",
    ),
    Case("nul-in-path", "not_found", "GET", "/v1/payouts/a%00b"),
    # ten characters, twenty once upper-cased
    Case(
        "sandbox-rule-unknown-network",
        "validation_error",
        "POST",
        "/v1/sandbox/rules",
        {"address": BTC_ADDR, "action": "drop", "network": "ß" * 10},
        auth="admin",
        field="network",
    ),
    # more than the store's NUMERIC(38, 18) holds
    Case(
        "service-fee-overflows",
        "validation_error",
        "PUT",
        "/v1/admin/merchants/{merchant}/fees/BTC",
        {"fixed": "1" + "0" * 30},
        auth="admin",
        field="fixed",
    ),
    # fees are decimal strings as amounts are
    Case(
        "service-fee-number",
        "validation_error",
        "PUT",
        "/v1/admin/merchants/{merchant}/fees/BTC",
        {"percent": 1},
        auth="admin",
        field="percent",
    ),
    Case(
        "service-fee-trailing-point",
        "validation_error",
        "PUT",
        "/v1/admin/merchants/{merchant}/fees/BTC",
        {"fixed": "1."},
        auth="admin",
        field="fixed",
    ),
    # -- invalid_amount: present, but not a positive decimal string the asset can express
    Case("float-amount", "invalid_amount", "POST", CREATE, usdt(amount=0.1), field="amount"),
    Case(
        "float-integral-amount", "invalid_amount", "POST", CREATE, usdt(amount=5.0), field="amount"
    ),
    Case("negative-amount", "invalid_amount", "POST", CREATE, usdt(amount="-1"), field="amount"),
    Case("zero-amount", "invalid_amount", "POST", CREATE, usdt(amount="0"), field="amount"),
    Case("zero-integer-amount", "invalid_amount", "POST", CREATE, usdt(amount=0), field="amount"),
    Case("exponent-amount", "invalid_amount", "POST", CREATE, usdt(amount="1e3"), field="amount"),
    Case("empty-amount", "invalid_amount", "POST", CREATE, usdt(amount=""), field="amount"),
    # only the canonical spelling: the OpenAPI pattern, the README and the API agree
    Case("integer-amount", "invalid_amount", "POST", CREATE, usdt(amount=30), field="amount"),
    Case("padded-amount", "invalid_amount", "POST", CREATE, usdt(amount=" 0.3 "), field="amount"),
    Case(
        "trailing-point-amount", "invalid_amount", "POST", CREATE, usdt(amount="1."), field="amount"
    ),
    Case(
        "leading-point-amount", "invalid_amount", "POST", CREATE, usdt(amount=".5"), field="amount"
    ),
    Case(
        "leading-zeros-amount",
        "invalid_amount",
        "POST",
        CREATE,
        usdt(amount="00000.3"),
        field="amount",
    ),
    Case(
        "quote-integer-amount",
        "invalid_amount",
        "POST",
        "/v1/quotes",
        usdt(amount=30),
        field="amount",
    ),
    Case(
        "deposit-leading-zeros",
        "invalid_amount",
        "POST",
        "/v1/admin/deposits",
        {"merchant_id": "{merchant}", "currency": "BTC", "amount": "01"},
        auth="admin",
        field="amount",
    ),
    Case("boolean-amount", "invalid_amount", "POST", CREATE, usdt(amount=True), field="amount"),
    Case(
        "usdt-7-decimals",
        "invalid_amount",
        "POST",
        CREATE,
        usdt(amount="1.1234567"),
        field="amount",
    ),
    Case(
        "btc-9-decimals",
        "invalid_amount",
        "POST",
        CREATE,
        dict(BTC_PAYOUT, amount="0.123456789"),
        field="amount",
    ),
    Case(
        "deposit-zero",
        "invalid_amount",
        "POST",
        "/v1/admin/deposits",
        {"merchant_id": "{merchant}", "currency": "BTC", "amount": "0"},
        auth="admin",
        field="amount",
    ),
    # -- currency_not_found / service_not_found / network_required
    Case(
        "unknown-currency",
        "currency_not_found",
        "POST",
        CREATE,
        usdt(currency="XYZ"),
        field="currency",
        message="The currency was not found",
    ),
    Case(
        "fiat-to-fiat",
        "service_not_found",
        "POST",
        CREATE,
        usdt(currency="USD", payout_currency="EUR", network=None),
        field="payout_currency",
    ),
    Case(
        "unknown-network", "service_not_found", "POST", CREATE, usdt(network="FOO"), field="network"
    ),
    Case(
        "currency-not-on-network",
        "service_not_found",
        "POST",
        CREATE,
        dict(BTC_PAYOUT, network="TRON"),
        field="network",
    ),
    Case(
        "conversion",
        "service_not_found",
        "POST",
        CREATE,
        usdt(payout_currency="BTC"),
        field="payout_currency",
    ),
    Case(
        # any balance may pay (BTC or USD for a USDT payout), but only one payoutd knows
        "unknown-balance",
        "currency_not_found",
        "POST",
        CREATE,
        usdt(balance_currency="XYZ"),
        field="balance_currency",
        message="The currency was not found",
    ),
    Case(
        "fiat-without-payout-currency",
        "payout_currency_required",
        "POST",
        CREATE,
        usdt(currency="USD", network=None),
        field="payout_currency",
    ),
    Case(
        "fiat-to-usdt-without-network",
        "network_required",
        "POST",
        CREATE,
        usdt(currency="EUR", payout_currency="USDT", network=None),
        field="network",
    ),
    Case(
        "usdt-without-network",
        "network_required",
        "POST",
        CREATE,
        usdt(network=None),
        field="network",
    ),
    # -- invalid_address / invalid_memo / priority_not_supported
    Case(
        "btc-bad-checksum",
        "invalid_address",
        "POST",
        CREATE,
        dict(BTC_PAYOUT, address=BTC_ADDR[:-1] + "b"),
        field="address",
    ),
    Case(
        "tron-bad-checksum",
        "invalid_address",
        "POST",
        CREATE,
        usdt(address=TRON_ADDR[:-1] + "u"),
        field="address",
    ),
    Case(
        "eip55-bad-checksum",
        "invalid_address",
        "POST",
        CREATE,
        usdt(network="ETH", address="0xdac17F958D2ee523a2206206994597C13D831ec7"),
        field="address",
    ),
    Case(
        "eth-address-on-tron",
        "invalid_address",
        "POST",
        CREATE,
        usdt(address=ETH_ADDR),
        field="address",
    ),
    Case("memo-on-tron", "invalid_memo", "POST", CREATE, usdt(memo="12345"), field="memo"),
    Case(
        "memo-too-long",
        "invalid_memo",
        "POST",
        CREATE,
        usdt(network="TON", address=TON_ADDR, memo="m" * 31),
        field="memo",
    ),
    Case(
        "priority-on-tron",
        "priority_not_supported",
        "POST",
        CREATE,
        usdt(priority="high"),
        field="priority",
    ),
    # -- rates
    Case(
        "unknown-rate-source",
        "rate_source_not_available",
        "POST",
        CREATE,
        usdt(rate_source="nope"),
        field="rate_source",
    ),
    Case(
        "cryptomus-only-rate-source",
        "rate_source_not_available",
        "POST",
        CREATE,
        usdt(rate_source="Exmo"),
        field="rate_source",
    ),
    # the operator's rates file does not price DOGE: no conversion, no 20 EUR floor check
    Case(
        "unpriced-conversion",
        "rate_unavailable",
        "POST",
        CREATE,
        {"amount": "50", "currency": "EUR", "payout_currency": "DOGE", "address": DOGE_ADDR},
        field="payout_currency",
        unpriced="DOGE",
    ),
    Case(
        "unpriced-floor",
        "rate_unavailable",
        "POST",
        CREATE,
        {"amount": "500", "currency": "DOGE", "address": DOGE_ADDR},
        field="amount",
        unpriced="DOGE",
        settings={"min_payout_eur": 20},
    ),
    # -- limits and fees
    Case(
        "below-min",
        "amount_too_small",
        "POST",
        CREATE,
        usdt(amount="0.4"),
        field="amount",
        message="Minimum amount 0.5 USDT",
    ),
    Case(
        "below-worth-20-eur",
        "amount_too_small",
        "POST",
        CREATE,
        usdt(amount="5"),
        field="amount",
        settings={"min_payout_eur": 20},
    ),
    Case(
        "above-max",
        "amount_too_large",
        "POST",
        CREATE,
        usdt(amount="10000000.000001"),
        field="amount",
        message="Maximum amount 10000000 USDT",
    ),
    Case(
        "fees-eat-amount",
        "withdrawal_too_small",
        "POST",
        CREATE,
        usdt(amount="0.5", fee_mode="from_amount"),
        field="amount",
    ),
    Case(
        "fees-equal-amount",
        "withdrawal_too_small",
        "POST",
        CREATE,
        usdt(amount="1", fee_mode="from_amount"),
        field="amount",
    ),
    # -- the money
    Case(
        "more-than-balance",
        "insufficient_funds",
        "POST",
        CREATE,
        usdt(amount="1000"),
        field="amount",
        message="Not enough funds",
    ),
    # the balance covers the amount but not the network fee on top
    Case(
        "fee-on-top-overdraws",
        "insufficient_funds",
        "POST",
        CREATE,
        usdt(amount="100"),
        field="amount",
        message="Not enough funds",
    ),
    Case(
        "no-wallet",
        "wallet_not_found",
        "POST",
        CREATE,
        {"amount": "500", "currency": "TRX", "address": TRON_ADDR},
        field="amount",
        message="Wallet not found",
    ),
    # -- cursors
    Case(
        "cursor-garbage", "invalid_cursor", "GET", CREATE, params={"cursor": "!!!"}, field="cursor"
    ),
    Case(
        "cursor-not-base64",
        "invalid_cursor",
        "GET",
        CREATE,
        params={"cursor": "abc"},
        field="cursor",
    ),
    Case(
        "cursor-other-version",
        "invalid_cursor",
        "GET",
        CREATE,
        params={"cursor": "djI6eHl6"},
        field="cursor",
    ),  # base64 of "v2:xyz"
    Case(
        "sandbox-cursor-not-a-position",
        "invalid_cursor",
        "GET",
        "/v1/sandbox/transactions",
        params={"cursor": "djE6eHl6"},
        field="cursor",
    ),  # base64 of "v1:xyz"
    # forged positions: beyond a BIGINT (500 before), not an id, text no database stores
    Case(
        "sandbox-cursor-beyond-bigint",
        "invalid_cursor",
        "GET",
        "/v1/sandbox/transactions",
        params={"cursor": _cursor("9223372036854775808")},
        field="cursor",
    ),
    Case(
        "sandbox-cursor-padded",
        "invalid_cursor",
        "GET",
        "/v1/sandbox/transactions",
        params={"cursor": _cursor("007")},
        field="cursor",
    ),
    Case(
        "payouts-cursor-number",
        "invalid_cursor",
        "GET",
        CREATE,
        params={"cursor": _cursor("9223372036854775808")},
        field="cursor",
    ),
    Case(
        "payouts-cursor-nul",
        "invalid_cursor",
        "GET",
        CREATE,
        params={"cursor": _cursor("\x00")},
        field="cursor",
    ),
    Case(
        "payouts-cursor-padding",
        "invalid_cursor",
        "GET",
        CREATE,
        params={"cursor": _cursor(ANY_ID) + "=="},
        field="cursor",
    ),
    Case(
        "batches-cursor-number",
        "invalid_cursor",
        "GET",
        "/v1/batches",
        params={"cursor": _cursor("9223372036854775808")},
        field="cursor",
    ),
    Case(
        "endpoints-cursor-number",
        "invalid_cursor",
        "GET",
        "/v1/webhook-endpoints",
        params={"cursor": _cursor("1")},
        field="cursor",
    ),
    Case(
        "deliveries-cursor-number",
        "invalid_cursor",
        "GET",
        "/v1/webhook-endpoints/{endpoint}/deliveries",
        params={"cursor": _cursor("1")},
        setup=("endpoint",),
        field="cursor",
    ),
    # -- keys and scopes
    Case("no-key", "unauthorized", "POST", CREATE, USDT_TRON, auth="none"),
    Case("no-key-read", "unauthorized", "GET", "/v1/balances", auth="none"),
    Case("wrong-key", "unauthorized", "POST", CREATE, USDT_TRON, auth="wrong"),
    Case("basic-auth", "unauthorized", "GET", CREATE, auth="basic"),
    Case("read-key-creates", "forbidden_scope", "POST", CREATE, USDT_TRON, auth="read"),
    Case(
        "read-key-cancels",
        "forbidden_scope",
        "POST",
        "/v1/payouts/{queued}/cancel",
        auth="read",
        setup=("queued",),
    ),
    Case(
        "merchant-key-deposits",
        "forbidden_scope",
        "POST",
        "/v1/admin/deposits",
        {"merchant_id": "{merchant}", "currency": "BTC", "amount": "1"},
    ),
    Case("operator-key-creates", "forbidden_scope", "POST", CREATE, USDT_TRON, auth="admin"),
    # -- another merchant's payout does not exist for this one (404, never 403)
    Case("unknown-payout", "not_found", "GET", f"/v1/payouts/{ANY_ID}"),
    Case("other-merchant-get", "not_found", "GET", "/v1/payouts/{other}", setup=("other",)),
    Case(
        "other-merchant-cancel", "not_found", "POST", "/v1/payouts/{other}/cancel", setup=("other",)
    ),
    Case(
        "other-merchant-approve",
        "not_found",
        "POST",
        "/v1/payouts/{other}/approve",
        setup=("other",),
    ),
    # -- HTTP itself
    Case("wrong-method", "method_not_allowed", "DELETE", CREATE, expect_headers=("Allow",)),
    Case(
        "options",
        "method_not_allowed",
        "OPTIONS",
        "/v1/webhook-endpoints/{endpoint}",
        setup=("endpoint",),
        expect_headers=("Allow",),
    ),
    Case("malformed-json", "bad_request", "POST", CREATE, raw=b'{"amount": "1",'),
    Case(
        "not-json",
        "bad_request",
        "POST",
        CREATE,
        raw=b"not json",
        headers={"Content-Type": "application/json"},
    ),
    Case("body-too-large", "payload_too_large", "POST", CREATE, usdt(comment="c" * 70_000)),
    Case(
        "status-filter-unknown",
        "validation_error",
        "GET",
        CREATE,
        params={"status": "bogus"},
        field="status",
    ),
    Case(
        "undecodable-body",
        "bad_request",
        "POST",
        CREATE,
        raw=b'{"amount": "\xff\xfe"}',
        headers={"Content-Type": "application/json"},
    ),
    # -- the lifecycle
    Case(
        "cancel-paid",
        "payout_not_cancellable",
        "POST",
        "/v1/payouts/{paid}/cancel",
        setup=("paid",),
    ),
    Case(
        "approve-queued",
        "invalid_transition",
        "POST",
        "/v1/payouts/{queued}/approve",
        setup=("queued",),
    ),
    Case(
        "approve-paid", "invalid_transition", "POST", "/v1/payouts/{paid}/approve", setup=("paid",)
    ),
    Case(
        "resolve-with-another-networks-txid",
        "invalid_txid",
        "POST",
        "/v1/admin/payouts/{review}/resolve",
        {"outcome": "paid", "txid": "0x" + "ab" * 32},
        auth="admin",
        setup=("review",),
        field="txid",
    ),
    # the refusal is a result: the offer is committed as `expired`
    Case(
        "approve-stale-offer",
        "quote_expired",
        "POST",
        "/v1/payouts/{offer}/approve",
        setup=("stale_offer",),
        expires="offer",
    ),
    # -- Idempotency-Key
    Case(
        "same-key-other-body",
        "idempotency_conflict",
        "POST",
        CREATE,
        usdt(amount="30"),
        headers={"Idempotency-Key": "retry-1"},
        setup=("keyed",),
    ),
    Case(
        "same-key-other-path",
        "idempotency_conflict",
        "POST",
        "/v1/payouts/{queued}/cancel",
        headers={"Idempotency-Key": "retry-1"},
        setup=("keyed", "queued"),
    ),
    Case(
        "same-key-in-flight",
        "idempotency_in_progress",
        "POST",
        CREATE,
        USDT_TRON,
        headers={"Idempotency-Key": "in-flight-1"},
        setup=("in_flight",),
    ),
    # -- access: key restrictions, two-factor, the payout-key cooldown, address allowlist
    Case("ip-not-allowed", "ip_not_allowed", "GET", "/v1/balances", auth="far"),
    Case("ip-not-allowed-creates", "ip_not_allowed", "POST", CREATE, USDT_TRON, auth="far"),
    Case("unsigned-request", "signature_invalid", "GET", "/v1/balances", auth="signing"),
    Case(
        "rate-limited",
        "rate_limited",
        "GET",
        "/v1/balances",
        auth="limited",
        expect_headers=("Retry-After",),
    ),
    Case(
        "new-payout-key-cooldown",
        "payouts_forbidden",
        "POST",
        CREATE,
        USDT_TRON,
        setup=("payout_key",),
        message="You are forbidden",
    ),
    Case(
        "cooldown-approve",
        "payouts_forbidden",
        "POST",
        "/v1/payouts/{offer}/approve",
        setup=("fresh_offer", "payout_key"),
        message="You are forbidden",
    ),
    Case(
        "payout-key-not-enrolled",
        "totp_required",
        "POST",
        "/v1/api-keys",
        {"scopes": ["payouts"], "totp_code": "123456"},
        field="totp_code",
    ),
    Case(
        "payout-key-no-code",
        "totp_required",
        "POST",
        "/v1/api-keys",
        {"scopes": ["payouts"]},
        setup=("totp",),
        field="totp_code",
    ),
    Case(
        "address-no-code",
        "totp_required",
        "POST",
        "/v1/addresses",
        {"network": "TRON", "address": TRON_ADDR},
        setup=("totp",),
        field="totp_code",
    ),
    Case(
        "payout-key-wrong-code",
        "totp_invalid",
        "POST",
        "/v1/api-keys",
        {"scopes": ["payouts"], "totp_code": "{wrong_code}"},
        setup=("totp",),
        field="totp_code",
    ),
    Case(
        "payout-key-expired-code",
        "totp_invalid",
        "POST",
        "/v1/api-keys",
        {"scopes": ["payouts"], "totp_code": "{expired_code}"},
        setup=("totp",),
        field="totp_code",
    ),
    Case(
        "totp-enrolled-twice",
        "totp_already_enrolled",
        "POST",
        "/v1/admin/merchants/{merchant}/totp",
        setup=("totp",),
        auth="admin",
    ),
    Case(
        "totp-locked",
        "totp_locked",
        "POST",
        "/v1/api-keys",
        {"scopes": ["payouts"], "totp_code": "{code}"},
        setup=("totp_locked",),
        field="totp_code",
        expect_headers=("Retry-After",),
    ),
    Case("totp-by-merchant-key", "totp_enrolment_by_operator", "POST", "/v1/totp"),
    Case(
        "key-delete-no-code",
        "totp_required",
        "DELETE",
        "/v1/api-keys/{key}",
        setup=("totp", "read_key"),
        field="totp_code",
    ),
    Case(
        "address-not-saved",
        "address_not_allowed",
        "POST",
        CREATE,
        USDT_TRON,
        setup=("allowlist",),
        field="address",
    ),
    # -- the one 5xx that is no bug: the chain node is out of reach
    Case(
        "node-down",
        "network_unavailable",
        "POST",
        CREATE,
        BTC_PAYOUT,
        setup=("node_down",),
        expect_headers=("Retry-After",),
    ),
    # -- the parties of ramp payouts: a bank account's numbers, its customer
    Case(
        "routing-number-check-digit",
        "invalid_routing_number",
        "POST",
        "/v1/bank-accounts",
        {"customer": "{customer}", **USD_ACCOUNT, "routing_number": "101206102"},
        field="routing_number",
        setup=("customer",),
    ),
    Case(
        "account-number-too-short",
        "invalid_account_number",
        "POST",
        "/v1/bank-accounts",
        {"customer": "{customer}", **USD_ACCOUNT, "account_number": "123"},
        field="account_number",
        setup=("customer",),
    ),
    Case(
        "iban-check-digits",
        "invalid_iban",
        "POST",
        "/v1/bank-accounts",
        {"customer": "{customer}", **EUR_ACCOUNT, "iban": "DE89370400440532013001"},
        field="iban",
        setup=("customer",),
    ),
    Case(
        "bic-of-another-country",
        "invalid_bic",
        "POST",
        "/v1/bank-accounts",
        {"customer": "{customer}", **EUR_ACCOUNT, "bic": "BNPAFRPPXXX"},
        field="bic",
        setup=("customer",),
    ),
    Case(
        "bank-account-unknown-customer",
        "customer_not_found",
        "POST",
        "/v1/bank-accounts",
        {"customer": "customer_" + "0" * 32, **EUR_ACCOUNT},
        field="customer",
    ),
    # -- ramp payouts and the operator's bank
    Case(
        "ramp-customer-kyc-pending",
        "customer_not_approved",
        "POST",
        "/v1/ramp-payouts",
        {
            "customer": "{customer}",
            "amount": "10.00",
            "source": {"id": "{usd_account}", "currency": "usd", "network": "wire"},
            "destination": {"id": "{wallet}", "currency": "usdc", "network": "sol"},
        },
        field="customer",
        setup=("ramp_parties",),
    ),
    Case(
        "ramp-source-of-another-currency",
        "party_mismatch",
        "POST",
        "/v1/ramp-payouts",
        {
            "customer": "{customer}",
            "amount": "10.00",
            "source": {"id": "{eur_account}", "currency": "usd", "network": "wire"},
            "destination": {"id": "{wallet}", "currency": "usdc", "network": "sol"},
        },
        field="source.currency",
        setup=("ramp_parties", "kyc_approved"),
    ),
    Case(
        "bank-review-resolved-twice",
        "review_item_resolved",
        "POST",
        "/v1/admin/bank/review/{review_item}/resolve",
        {"action": "dismiss"},
        auth="admin",
        setup=("review_item",),
    ),
    Case(
        "statement-not-a-statement",
        "statement_unreadable",
        "POST",
        "/v1/admin/bank/statements",
        raw=b"Dear operator, this is no bank statement.",
        headers={"Content-Type": "text/plain"},
        auth="admin",
    ),
    Case(
        "sandbox-bank-off",
        "bank_rail_unavailable",
        "POST",
        "/v1/sandbox/bank/transfers",
        {"amount": "10.00", "currency": "usd", "memo": "x", "network": "wire"},
        auth="admin",
        settings={"bank_rail": "files"},
    ),
    # -- operator side
    Case(
        "deposit-unknown-merchant",
        "merchant_not_found",
        "POST",
        "/v1/admin/deposits",
        {"merchant_id": "no-such-merchant", "currency": "BTC", "amount": "1"},
        auth="admin",
    ),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def test_every_catalogue_code_has_a_case() -> None:
    assert {c.code for c in CASES} == set(CATALOGUE)
    assert len({c.id for c in CASES}) == len(CASES)


# -- helpers -----------------------------------------------------------------------


def _guard(h: Harness, allowed: frozenset[int] = frozenset()) -> None:
    """Check every response of the harness's client: a 5xx is a bug, whatever the test
    (but for the one the case is about: 503 `network_unavailable`)."""

    async def no_server_errors(response: Any) -> None:
        assert response.status_code < 500 or response.status_code in allowed, (
            f"{response.request.method} {response.request.url} -> {response.status_code}"
        )

    h.client.event_hooks["response"].append(no_server_errors)


@pytest.fixture
async def api(h: Harness) -> AsyncIterator[Harness]:
    _guard(h)
    yield h
    assert (await h.ledger_check())["ok"]


async def read_key(h: Harness, merchant: Merchant) -> dict[str, str]:
    """A key of `merchant` with the `read` scope only."""
    async with h.rt.db.unit() as uow:
        issued = merchants.issue_key(merchant.id, frozenset({"read"}), "read only", h.rt.ctx)
        await uow.merchants.add_key(issued.key)
    return {"Authorization": f"Bearer {issued.plaintext}"}


async def fingerprint(method: str, path: str, body: bytes) -> str:
    """What the API stores for a request under an Idempotency-Key."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    return await idempotency.request_hash(Request(scope, receive))


async def snapshot(h: Harness, *ms: Merchant) -> list[Any]:
    state = []
    for m in ms:
        r = await h.client.get("/v1/payouts", headers=m.headers, params={"limit": 200})
        assert r.status_code == 200, r.text
        state.append((await h.balances(m), r.json()))
    return state


async def create(
    h: Harness, m: Merchant, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    r = await h.client.post(CREATE, headers={**m.headers, **(headers or {})}, json=body)
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


@dataclass
class World:
    h: Harness
    m: Merchant
    other: Merchant
    ids: dict[str, str]


Setup = Callable[[World, Case], Awaitable[None]]


async def _queued(w: World, case: Case) -> None:
    w.ids["queued"] = (await create(w.h, w.m, BTC_PAYOUT))["id"]


async def _paid(w: World, case: Case) -> None:
    payout = await create(w.h, w.m, BTC_PAYOUT)
    await w.h.settle()
    r = await w.h.client.get(f"/v1/payouts/{payout['id']}", headers=w.m.headers)
    assert r.json()["status"] == "paid", r.text
    w.ids["paid"] = payout["id"]


async def _review(w: World, case: Case) -> None:
    """A payout whose transaction the chain dropped: it waits for an operator."""
    await sandbox.add_rule(w.h.rt.db, address=REVIEW_ADDR, action="drop")
    payout = await create(w.h, w.m, {**BTC_PAYOUT, "address": REVIEW_ADDR})
    await w.h.settle()
    r = await w.h.client.get(f"/v1/payouts/{payout['id']}", headers=w.m.headers)
    assert r.json()["status"] == "needs_review", r.text
    w.ids["review"] = payout["id"]


async def _other(w: World, case: Case) -> None:
    w.ids["other"] = (await create(w.h, w.other, BTC_PAYOUT))["id"]


async def _keyed(w: World, case: Case) -> None:
    await create(w.h, w.m, USDT_TRON, headers={"Idempotency-Key": "retry-1"})


async def _in_flight(w: World, case: Case) -> None:
    # The first request with the key has claimed it and not finished (a client retrying
    # while its first attempt is still running): claim it as that request would.
    content = case.content()
    assert content is not None
    digest = await fingerprint(case.method, case.path, content)
    now = w.h.clock.now()
    async with w.h.rt.db.unit() as uow:
        assert await uow.idempotency.claim(
            w.m.id, "in-flight-1", digest, now, now + timedelta(hours=1)
        )


async def _customer(w: World, case: Case) -> None:
    r = await w.h.client.post(
        "/v1/customers", headers=w.m.headers, json={"type": "individual", "name": "Ada"}
    )
    assert r.status_code == 201, r.text
    w.ids["customer"] = r.json()["id"]


async def _ramp_parties(w: World, case: Case) -> None:
    """A customer (KYC pending) with a USD and a EUR bank account and a Solana wallet."""
    await _customer(w, case)
    for name, body in (("usd_account", USD_ACCOUNT), ("eur_account", EUR_ACCOUNT)):
        r = await w.h.client.post(
            "/v1/bank-accounts",
            headers=w.m.headers,
            json={"customer": w.ids["customer"], **body},
        )
        assert r.status_code == 201, r.text
        w.ids[name] = r.json()["id"]
    r = await w.h.client.post(
        "/v1/wallets",
        headers=w.m.headers,
        json={
            "customer": w.ids["customer"],
            "network": "sol",
            "currency": "usdc",
            "address": "7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx",
        },
    )
    assert r.status_code == 201, r.text
    w.ids["wallet"] = r.json()["id"]


async def _kyc_approved(w: World, case: Case) -> None:
    async with w.h.rt.db.unit() as uow:
        await parties.set_kyc(uow, w.h.rt.ctx, w.ids["customer"], "approved", actor="tests")


async def _review_item(w: World, case: Case) -> None:
    """A sandbox transfer no ramp payout carries the memo of, dismissed by the operator."""
    admin = {"Authorization": f"Bearer {w.h.operator_key}"}
    r = await w.h.client.post(
        "/v1/sandbox/bank/transfers",
        headers=admin,
        json={"amount": "5.00", "currency": "usd", "memo": "unknown", "network": "wire"},
    )
    assert r.json()["outcome"] == "review", r.text
    [item] = (await w.h.client.get("/v1/admin/bank/review", headers=admin)).json()["data"]
    r = await w.h.client.post(
        f"/v1/admin/bank/review/{item['id']}/resolve", headers=admin, json={"action": "dismiss"}
    )
    assert r.status_code == 200, r.text
    w.ids["review_item"] = item["id"]


async def _stale_offer(w: World, case: Case) -> None:
    offer = await create(w.h, w.m, dict(BTC_PAYOUT, approval="manual"))
    assert offer["status"] == "pending_approval" and offer["expires_at"], offer
    w.h.clock.advance(w.h.rt.settings.quote_ttl_seconds + 1)
    w.ids["offer"] = offer["id"]


async def _fresh_offer(w: World, case: Case) -> None:
    offer = await create(w.h, w.m, dict(BTC_PAYOUT, approval="manual"))
    w.ids["offer"] = offer["id"]


async def _totp(w: World, case: Case) -> None:
    r = await w.h.client.post(f"/v1/admin/merchants/{w.m.id}/totp", headers=w.h.admin)
    assert r.status_code == 201, r.text
    w.ids["secret"] = r.json()["secret"]
    totp = pyotp.TOTP(w.ids["secret"])
    now = w.h.clock.now()
    window = {totp.at(now, counter_offset=step) for step in (-1, 0, 1)}
    w.ids["wrong_code"] = next(c for c in ("000000", "111111", "222222") if c not in window)
    w.ids["expired_code"] = next(
        c for c in (totp.at(now, counter_offset=-step) for step in range(2, 10)) if c not in window
    )
    w.ids["code"] = totp.at(now)


async def _payout_key(w: World, case: Case) -> None:
    """A new payout key: the merchant's payouts wait out the cooldown."""
    await _totp(w, case)
    r = await w.h.client.post(
        "/v1/api-keys",
        headers=w.m.headers,
        json={"scopes": ["payouts"], "totp_code": w.ids["code"]},
    )
    assert r.status_code == 201 and r.json()["payouts_blocked_until"], r.text


async def _read_key(w: World, case: Case) -> None:
    r = await w.h.client.post("/v1/api-keys", headers=w.m.headers, json={"scopes": ["read"]})
    assert r.status_code == 201, r.text
    w.ids["key"] = r.json()["id"]


async def _totp_locked(w: World, case: Case) -> None:
    """As many wrong codes as the window allows: every code is refused for a while."""
    await _totp(w, case)
    totp = pyotp.TOTP(w.ids["secret"])
    near = {totp.at(w.h.clock.now(), counter_offset=step) for step in (-1, 0, 1)}
    wrong = [c for c in (f"{n}" * 6 for n in range(10)) if c not in near]
    for code in wrong[: w.h.rt.settings.totp_max_failures]:
        r = await w.h.client.post(
            "/v1/api-keys", headers=w.m.headers, json={"scopes": ["payouts"], "totp_code": code}
        )
        assert r.status_code == 422, r.text


async def _allowlist(w: World, case: Case) -> None:
    r = await w.h.client.put("/v1/address-allowlist", headers=w.m.headers, json={"enabled": True})
    assert r.status_code == 200, r.text


async def _endpoint(w: World, case: Case) -> None:
    r = await w.h.client.post(
        "/v1/webhook-endpoints", headers=w.m.headers, json={"url": "https://merchant.example/hooks"}
    )
    assert r.status_code == 201, r.text
    w.ids["endpoint"] = r.json()["id"]


async def _node_down(w: World, case: Case) -> None:
    """The BTC node stops answering: pricing a payout cannot get the network fee."""

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ChainUnavailable("connection refused")

    # this world's BTC chain only
    w.h.rt.ctx.chains["BTC"].estimate_fee = unreachable  # type: ignore[method-assign]


SETUPS: dict[str, Setup] = {
    "queued": _queued,
    "paid": _paid,
    "other": _other,
    "review": _review,
    "keyed": _keyed,
    "in_flight": _in_flight,
    "stale_offer": _stale_offer,
    "fresh_offer": _fresh_offer,
    "totp": _totp,
    "payout_key": _payout_key,
    "allowlist": _allowlist,
    "node_down": _node_down,
    "read_key": _read_key,
    "totp_locked": _totp_locked,
    "endpoint": _endpoint,
    "customer": _customer,
    "ramp_parties": _ramp_parties,
    "kyc_approved": _kyc_approved,
    "review_item": _review_item,
}


async def restricted_key(h: Harness, merchant: Merchant, **restrictions: Any) -> dict[str, str]:
    """A read key of `merchant` with an IP allowlist, a rate limit or request signing."""
    async with h.rt.db.unit() as uow:
        issued = merchants.issue_key(
            merchant.id, frozenset({"read"}), "restricted", h.rt.ctx, **restrictions
        )
        await uow.merchants.add_key(issued.key)
    return {"Authorization": f"Bearer {issued.plaintext}"}


async def _headers(w: World, case: Case) -> dict[str, str]:
    if case.auth == "read":
        auth = await read_key(w.h, w.m)
    elif case.auth == "far":
        auth = await restricted_key(w.h, w.m, ip_allowlist=["10.0.0.0/8"])
    elif case.auth == "signing":
        auth = await restricted_key(w.h, w.m, signed_requests=True)
    elif case.auth == "limited":
        auth = await restricted_key(w.h, w.m, rate_limit_per_minute=1)
        r = await w.h.client.get("/v1/assets", headers=auth)  # the minute's one request
        assert r.status_code == 200, r.text
    else:
        auth = {
            "merchant": w.m.headers,
            "none": {},
            "wrong": {"Authorization": "Bearer pk_000000000000_not-a-real-secret"},
            "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
            "admin": w.h.admin,
        }[case.auth]
    headers = {**auth, **case.headers}
    if case.content() is not None:
        headers["Content-Type"] = "application/json"
    return headers


# -- the table ---------------------------------------------------------------------


def _rates_without(currency: str, directory: Path) -> Path:
    """The shipped sample rates file minus every pair that names `currency`."""
    lines = [
        line
        for line in SAMPLE_RATES_FILE.read_text().splitlines()
        if not line.startswith((f'"{currency}/', f'"{currency.lower()}/'))
        and f'/{currency}"' not in line
    ]
    path = directory / "rates.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _expired(state: list[Any], payout_id: str) -> list[Any]:
    """`state` with the offer `payout_id` expired (status and timestamps set aside)."""
    out = []
    for balances, page in state:
        data = []
        for p in page["data"]:
            if p["id"] == payout_id:
                p = {**p, "status": "expired", "is_final": True, "updated_at": None}
            data.append(p)
        out.append((balances, {**page, "data": data}))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_refusal(case: Case, database_url: str | None, tmp_path: Path) -> None:
    overrides: dict[str, Any] = dict(case.settings)
    if case.unpriced:
        overrides["rates_file"] = _rates_without(case.unpriced, tmp_path)
    settings = support.test_settings(tmp_path, database_url, **overrides)
    async with support.harness(settings, truncate=database_url is not None) as h:
        _guard(h, frozenset({CATALOGUE[case.code].status}))
        await _refusal(h, case)
        assert (await h.ledger_check())["ok"]


async def _refusal(h: Harness, case: Case) -> None:
    m = await h.merchant("Acme", USDT="100", BTC="1", TON="5")
    other = await h.merchant("Other", BTC="1")
    world = World(h, m, other, {"merchant": m.id})
    for name in case.setup:
        await SETUPS[name](world, case)
    headers = await _headers(world, case)
    content = case.content()
    if case.body is not None and case.raw is None:
        content = json.dumps(_fill(case.body, world.ids)).encode()
    before = await snapshot(h, m, other)

    r = await h.client.request(
        case.method,
        case.path.format(**world.ids),
        content=content,
        params=case.params,
        headers=headers,
    )

    spec = CATALOGUE[case.code]
    assert r.status_code == spec.status, r.text
    for name in case.expect_headers:
        assert r.headers.get(name), (name, r.headers)
    body = r.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert error["code"] == case.code, error
    assert isinstance(error["message"], str) and error["message"], error
    if case.message is not None:
        assert error["message"] == case.message
    if case.field is not None:
        assert list(error["fields"]) == [case.field], error
        messages = error["fields"][case.field]
        assert messages and all(isinstance(x, str) and x for x in messages), error
    else:
        assert error["fields"] == {}, error
    # a refusal changes nothing, for this merchant or any other
    after = await snapshot(h, m, other)
    if case.expires:
        offer = world.ids[case.expires]
        assert _expired(after, offer) == _expired(before, offer)
        r = await h.client.get(f"/v1/payouts/{offer}", headers=m.headers)
        assert r.json()["status"] == "expired"
        return
    assert after == before
    # and the same request again gets the same answer (no half-done state)
    if "in_flight" not in case.setup:
        again = await h.client.request(
            case.method,
            case.path.format(**world.ids),
            content=content,
            params=case.params,
            headers=headers,
        )
        assert (again.status_code, again.json()) == (r.status_code, body)
        assert await snapshot(h, m, other) == before


async def test_an_error_replayed_under_its_idempotency_key(api: Harness) -> None:
    """A refusal is a result too: replayed as it was, even once it would now succeed."""
    h = api
    m = await h.merchant(BTC="0.001")
    body = dict(BTC_PAYOUT, amount="0.5")
    key = {"Idempotency-Key": "refused-1"}
    first = await h.client.post(CREATE, headers={**m.headers, **key}, json=body)
    assert first.status_code == 422 and first.json()["error"]["code"] == "insufficient_funds"
    await h.deposit(m, "BTC", "1")
    before = await snapshot(h, m)
    again = await h.client.post(CREATE, headers={**m.headers, **key}, json=body)
    assert (again.status_code, again.json()) == (422, first.json())
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await snapshot(h, m) == before


async def test_a_read_key_reads(api: Harness) -> None:
    h = api
    m = await h.merchant(BTC="1")
    headers = await read_key(h, m)
    assert (await h.client.get(CREATE, headers=headers)).status_code == 200
    assert (await h.client.get("/v1/balances", headers=headers)).status_code == 200


async def test_openapi_documents_every_code(api: Harness) -> None:
    r = await api.client.get("/openapi.json")
    assert r.status_code == 200
    documented: dict[str, set[int]] = {}
    for operations in r.json()["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                for code in CATALOGUE:
                    if f"`{code}`" in response.get("description", ""):
                        documented.setdefault(code, set()).add(int(status))
    assert set(documented) == set(CATALOGUE), set(CATALOGUE) - set(documented)
    # and each under the HTTP status it is answered with
    for code, statuses in documented.items():
        assert statuses == {CATALOGUE[code].status}, (code, statuses)
