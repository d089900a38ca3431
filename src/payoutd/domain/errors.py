"""The one catalogue of error codes payoutd answers with.

Every 4xx the API returns comes from here, so the code is stable and the
documentation (OpenAPI, docs/errors.md) is generated from this table. Messages
use the seeds' wording where a provider has one (Cryptomus/Spark mostly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    code: str
    status: int
    message: str
    doc: str


_SPECS: tuple[ErrorSpec, ...] = (
    ErrorSpec(
        "validation_error",
        422,
        "The request is not valid",
        "A field is missing, malformed or out of range; `fields` names it.",
    ),
    ErrorSpec(
        "invalid_amount",
        422,
        "The amount is not valid",
        "Not a positive decimal string, or finer than the asset's decimals.",
    ),
    ErrorSpec(
        "invalid_address",
        422,
        "The address is not valid",
        "The address fails the network's own rules (checksum, version, length).",
    ),
    ErrorSpec(
        "invalid_memo",
        422,
        "The memo is not valid",
        "A memo on a network that takes none, or longer than 30 characters.",
    ),
    ErrorSpec(
        "currency_not_found",
        422,
        "The currency was not found",
        "The currency is not one payoutd pays out.",
    ),
    ErrorSpec(
        "service_not_found",
        422,
        "The service was not found",
        "No payout service for this currency and network.",
    ),
    ErrorSpec(
        "network_required",
        422,
        "The network is required",
        "The currency travels on several networks; say which one.",
    ),
    ErrorSpec(
        "priority_not_supported",
        422,
        "Priority is not supported on this network",
        "`priority` applies only where the network prices it (BTC, ETH, POLYGON, BSC).",
    ),
    ErrorSpec(
        "payout_currency_required",
        422,
        "The payout_currency is required for a fiat currency",
        "`currency` is fiat: say which crypto is sent in `payout_currency`.",
    ),
    ErrorSpec(
        "rate_unavailable",
        422,
        "Error convert to_currency",
        "The rate source has no (fresh) rate for this pair.",
    ),
    ErrorSpec(
        "rate_source_not_available",
        422,
        "The rate source is not available",
        "`rate_source` names a source this payoutd does not offer.",
    ),
    ErrorSpec(
        "amount_too_small",
        422,
        "Minimum amount {min} {currency}",
        "Below the asset's minimum payout.",
    ),
    ErrorSpec(
        "amount_too_large",
        422,
        "Maximum amount {max} {currency}",
        "Above the asset's maximum payout.",
    ),
    ErrorSpec(
        "withdrawal_too_small",
        422,
        "The withdrawal amount is too small",
        "What the recipient would get after fees is zero or less.",
    ),
    ErrorSpec(
        "insufficient_funds",
        422,
        "Not enough funds",
        "The available balance does not cover the debit.",
    ),
    ErrorSpec(
        "wallet_not_found", 422, "Wallet not found", "The merchant has no balance in this currency."
    ),
    ErrorSpec(
        "invalid_cursor",
        400,
        "The cursor is not valid",
        "The pagination cursor was not issued by this API (pass `next_cursor` as it came).",
    ),
    ErrorSpec(
        "unauthorized",
        401,
        "Unauthorized",
        "No API key, or a key that is unknown or revoked; `GET /metrics` without "
        "`PAYOUTD_METRICS_TOKEN` as its bearer token (when one is set).",
    ),
    ErrorSpec(
        "forbidden_scope",
        403,
        "This key may not do that",
        "The key lacks the scope this call needs.",
    ),
    ErrorSpec(
        "payouts_forbidden",
        403,
        "You are forbidden",
        "Payouts are blocked for a while after a new payout key (cooldown).",
    ),
    ErrorSpec(
        "ip_not_allowed",
        403,
        "This key may not be used from this address",
        "The request came from outside the key's IP allowlist.",
    ),
    ErrorSpec(
        "signature_invalid",
        401,
        "The request signature is not valid",
        "The key requires signed requests: the signature is missing, wrong, replayed "
        "or outside the time window.",
    ),
    ErrorSpec(
        "rate_limited",
        429,
        "Too many requests",
        "The key's request rate limit was reached; see Retry-After.",
    ),
    ErrorSpec(
        "totp_required",
        422,
        "A two-factor code is required",
        "This change needs a current TOTP code (`totp_code`); the operator enrols it.",
    ),
    ErrorSpec(
        "totp_invalid",
        422,
        "The two-factor code is not valid",
        "Wrong, expired or already used TOTP code.",
    ),
    ErrorSpec(
        "totp_locked",
        429,
        "Too many wrong two-factor codes; try again later",
        "Too many wrong TOTP codes for this merchant lately: every code, even a right "
        "one, is refused until Retry-After.",
    ),
    ErrorSpec(
        "totp_already_enrolled",
        409,
        "Two-factor authentication is already enrolled",
        "The merchant has a TOTP secret: the operator resets it (`payoutd merchant totp reset`).",
    ),
    ErrorSpec(
        "totp_enrolment_by_operator",
        403,
        "Two-factor authentication is enrolled and reset by the operator",
        "An API key cannot enrol or reset TOTP; the operator does "
        "(`payoutd merchant totp enrol|reset`, or the admin API).",
    ),
    ErrorSpec(
        "address_not_allowed",
        422,
        "The address is not in the allowlist",
        "The merchant's address allowlist is on and this address is not saved.",
    ),
    ErrorSpec(
        "invalid_routing_number",
        422,
        "The routing number is not valid",
        "A USD bank account's ABA routing number is not 9 digits or its check digit is wrong.",
    ),
    ErrorSpec(
        "invalid_account_number",
        422,
        "The account number is not valid",
        "A USD bank account's number is not 4 to 17 digits.",
    ),
    ErrorSpec(
        "invalid_iban",
        422,
        "The IBAN is not valid",
        "A EUR bank account's IBAN fails its check digits, length or country structure, "
        "or its country is not in SEPA.",
    ),
    ErrorSpec(
        "invalid_bic",
        422,
        "The BIC is not valid",
        "A EUR bank account's BIC is malformed, or its country is not the IBAN's.",
    ),
    ErrorSpec(
        "customer_not_found",
        422,
        "The customer was not found",
        "A bank account or wallet names a customer this merchant does not have.",
    ),
    ErrorSpec("not_found", 404, "Not found", "No such object for this merchant."),
    ErrorSpec(
        "payout_not_cancellable",
        409,
        "The payout can no longer be cancelled",
        "Only payouts that were not yet sent can be cancelled.",
    ),
    ErrorSpec(
        "invalid_txid",
        422,
        "The txid is not valid for the network",
        "A paid resolution's txid is not in the payout network's form (64 hex digits "
        "on UTXO chains and TRON, 0x and 64 hex on EVM chains, a base58 signature on "
        "Solana, a 32-byte hash on TON).",
    ),
    ErrorSpec(
        "invalid_transition",
        409,
        "The payout is not in a state that allows this",
        "The payout's status does not allow the requested change.",
    ),
    ErrorSpec(
        "quote_expired",
        409,
        "The offer has expired",
        "The offer was approved after `expires_at`; it is now `expired` (the same "
        "answer whether this approval or the worker expired it, and on every later "
        "approval).",
    ),
    ErrorSpec(
        "idempotency_conflict",
        409,
        "This Idempotency-Key was used with another request",
        "The same `Idempotency-Key` was sent with a different method, path or body.",
    ),
    ErrorSpec(
        "idempotency_in_progress",
        409,
        "A request with this Idempotency-Key is in progress",
        "The first request with this key has not finished; retry later.",
    ),
    ErrorSpec(
        "bad_request",
        400,
        "The request could not be read",
        "The HTTP request itself is malformed, e.g. a body that is not JSON.",
    ),
    ErrorSpec(
        "payload_too_large",
        413,
        "The request body is too large",
        "The body is longer than the server takes (`PAYOUTD_REQUEST_BODY_MAX_BYTES`, "
        "64 KiB unless the operator changed it).",
    ),
    ErrorSpec(
        "method_not_allowed",
        405,
        "Method not allowed",
        "The path exists but not with this HTTP method.",
    ),
    ErrorSpec(
        "statement_unreadable",
        422,
        "The bank statement could not be read",
        "The file is neither a camt.053 nor an MT940 statement, or it breaks the format "
        "(the message says where); nothing of it was imported.",
    ),
    # The one answer above 499 that is not a bug: a node payoutd needs to price a payout
    # cannot be reached. Nothing was changed; retry after the given time.
    ErrorSpec(
        "network_unavailable",
        503,
        "The network is temporarily unavailable",
        "The chain node cannot be reached to price the payout; retry later.",
    ),
    ErrorSpec(
        "customer_not_approved",
        422,
        "The customer is not approved",
        "Only customers whose KYC the operator approved can move money.",
    ),
    ErrorSpec(
        "party_mismatch",
        422,
        "The account does not match the payout",
        "The source or destination belongs to another customer, is disabled, or has "
        "another currency or network than the request names.",
    ),
    ErrorSpec(
        "review_item_resolved",
        409,
        "The review item is already resolved",
        "Another operator assigned or dismissed it first.",
    ),
    ErrorSpec(
        "bank_rail_unavailable",
        422,
        "No bank rail serves this",
        "The sandbox bank is not the configured rail, or no payment file writer or "
        "funding account serves the currency.",
    ),
    ErrorSpec(
        "merchant_not_found", 404, "Merchant not found", "Operator calls: no merchant with that id."
    ),
)

CATALOGUE: Mapping[str, ErrorSpec] = {spec.code: spec for spec in _SPECS}


class PayoutdError(Exception):
    """A refusal with a stable code; the API renders it as a 4xx and changes nothing."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **params: object,
    ) -> None:
        spec = CATALOGUE[code]
        self.code = code
        self.status = spec.status
        self.message = message if message is not None else spec.message.format(**params)
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in (fields or {}).items()}
        self.headers: dict[str, str] = dict(headers or {})  # e.g. Retry-After
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"PayoutdError({self.code!r}, {self.message!r}, fields={self.fields!r})"


def field_error(
    code: str, field: str, message: str | None = None, **params: object
) -> PayoutdError:
    """An error whose fault lies in one request field; the field repeats the message."""
    err = PayoutdError(code, message, fields=None, headers=None, **params)
    err.fields = {field: [err.message]}
    return err
