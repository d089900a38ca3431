"""Typed errors. Every refusal payoutd answers with carries a stable `code` from its error
catalogue (docs/errors.md); the SDK raises the class registered for that code, else the
class of the HTTP status, so `except InsufficientFunds` and `except ValidationError`
both work, and a code this version does not know still lands in the right family."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PayoutdError(Exception):
    """A call payoutd refused or that could not be completed.

    `code` is the API's stable error code, `message` its text, `fields` the request
    fields at fault (name -> messages), `status` the HTTP status (None when no answer
    came), `headers` the response's headers (e.g. Retry-After)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in (fields or {}).items()}
        self.headers: dict[str, str] = dict(headers or {})
        self.body = body

    def __str__(self) -> str:
        where = f" {self.fields}" if self.fields else ""
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r}, fields={self.fields!r})"
        )


class ConnectionFailed(PayoutdError):
    """No answer: the connection failed or timed out on every attempt."""


# by HTTP status
class BadRequest(PayoutdError):
    """400: the request could not be read, or a cursor that payoutd did not issue."""


class AuthenticationError(PayoutdError):
    """401: no API key, an unknown or revoked one, or a bad request signature."""


class PermissionDenied(PayoutdError):
    """403: the key may not do this (scope, IP allowlist, payout cooldown)."""


class NotFound(PayoutdError):
    """404: no such object for this merchant."""


class MethodNotAllowed(PayoutdError):
    """405: the path exists, not with this HTTP method (an SDK older than the API?)."""


class Conflict(PayoutdError):
    """409: the object's state or the Idempotency-Key does not allow this."""


class PayloadTooLarge(PayoutdError):
    """413: the body is longer than the server takes."""


class ValidationError(PayoutdError):
    """422: a field is missing, malformed or out of range, or the payout cannot be made
    (funds, limits, address); `fields` names the field at fault."""


class RateLimited(PayoutdError):
    """429: too many requests; `retry_after` is the wait payoutd asked for, in seconds."""

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class ServerError(PayoutdError):
    """5xx. Only 503 `network_unavailable` is expected (a chain node is unreachable);
    anything else is a payoutd bug worth reporting."""


# by code (payoutd's error catalogue)
class InvalidCursor(BadRequest):
    pass


class SignatureInvalid(AuthenticationError):
    pass


class ForbiddenScope(PermissionDenied):
    pass


class PayoutsForbidden(PermissionDenied):
    """Payouts are blocked for a while after a new payout key (cooldown)."""


class IpNotAllowed(PermissionDenied):
    pass


class InvalidTransition(Conflict):
    pass


class PayoutNotCancellable(Conflict):
    pass


class QuoteExpired(Conflict):
    """The offer was approved after its `expires_at`; it is now `expired`."""


class IdempotencyConflict(Conflict):
    """The Idempotency-Key was used before with another method, path or body."""


class IdempotencyInProgress(Conflict):
    """The first request with this Idempotency-Key has not finished yet."""


class InsufficientFunds(ValidationError):
    pass


class InvalidAmount(ValidationError):
    pass


class InvalidAddress(ValidationError):
    pass


class AmountTooSmall(ValidationError):
    pass


class AmountTooLarge(ValidationError):
    pass


class CurrencyNotFound(ValidationError):
    pass


class RateUnavailable(ValidationError):
    pass


class AddressNotAllowed(ValidationError):
    pass


class TotpRequired(ValidationError):
    pass


class TotpInvalid(ValidationError):
    pass


class NetworkUnavailable(ServerError):
    """A chain node payoutd needs cannot be reached; nothing changed, retry later."""


BY_CODE: Mapping[str, type[PayoutdError]] = {
    "invalid_cursor": InvalidCursor,
    "signature_invalid": SignatureInvalid,
    "forbidden_scope": ForbiddenScope,
    "payouts_forbidden": PayoutsForbidden,
    "ip_not_allowed": IpNotAllowed,
    "invalid_transition": InvalidTransition,
    "payout_not_cancellable": PayoutNotCancellable,
    "quote_expired": QuoteExpired,
    "idempotency_conflict": IdempotencyConflict,
    "idempotency_in_progress": IdempotencyInProgress,
    "insufficient_funds": InsufficientFunds,
    "invalid_amount": InvalidAmount,
    "invalid_address": InvalidAddress,
    "amount_too_small": AmountTooSmall,
    "amount_too_large": AmountTooLarge,
    "currency_not_found": CurrencyNotFound,
    "rate_unavailable": RateUnavailable,
    "address_not_allowed": AddressNotAllowed,
    "totp_required": TotpRequired,
    "totp_invalid": TotpInvalid,
    "network_unavailable": NetworkUnavailable,
    # `totp_locked` is a 429 with Retry-After, like `rate_limited`
    "totp_locked": RateLimited,
    "rate_limited": RateLimited,
}

BY_STATUS: Mapping[int, type[PayoutdError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
}


def error_class(status: int, code: str) -> type[PayoutdError]:
    """The class raised for an answer: the code's own, else the status's, else the base."""
    found = BY_CODE.get(code) or BY_STATUS.get(status)
    if found is not None:
        return found
    return ServerError if status >= 500 else PayoutdError


def from_response(status: int, headers: Mapping[str, str], body: Any) -> PayoutdError:
    """The error an HTTP answer of 400 or above stands for. payoutd answers
    `{"error": {"code", "message", "fields"}}`; anything else (a proxy's HTML page) keeps
    the status and a code made from it."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code: str = error["code"]
        message = str(error.get("message") or code)
        raw_fields = error.get("fields")
        fields = (
            {
                str(k): [str(m) for m in v] if isinstance(v, list) else [str(v)]
                for k, v in raw_fields.items()
            }
            if isinstance(raw_fields, dict)
            else None
        )
    else:
        code = f"http_{status}"
        message = f"HTTP {status}"
        fields = None
    cls = error_class(status, code)
    return cls(
        message,
        code=code,
        status=status,
        fields=fields,
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )
