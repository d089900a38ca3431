"""Rendering refusals: every 4xx is `{"error": {"code", "message", "fields"}}` with a code
from the catalogue in payoutd.domain.errors."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from payoutd.api.responses import JSONResponse
from payoutd.domain.errors import CATALOGUE, PayoutdError
from payoutd.services.ports import ChainUnavailable

log = structlog.get_logger("payoutd.api")


class ErrorBody(BaseModel):
    """What was refused and why."""

    code: str = Field(
        description="The stable code, from the catalogue (docs/errors.md): branch on it",
        examples=["insufficient_funds"],
    )
    message: str = Field(
        description="In words, for people; it may change: do not parse it",
        examples=["Not enough funds"],
    )
    fields: dict[str, list[str]] = Field(
        default={},
        description="The fields at fault, by name (dotted for nested ones), each with "
        "what is wrong; empty when no field is",
        examples=[{"amount": ["Not enough funds"]}],
    )


class ErrorResponse(BaseModel):
    """Every refusal (a 4xx), and 503 `network_unavailable`."""

    error: ErrorBody = Field(description="The refusal")


def error_json(err: PayoutdError) -> dict[str, Any]:
    return {"error": {"code": err.code, "message": err.message, "fields": err.fields}}


def render(err: PayoutdError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_json(err), status_code=err.status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        # not JSON at all: the request itself cannot be read (docs/errors.md)
        return render(PayoutdError("bad_request", "The request body is not valid JSON"))
    return render(validation_error(errors))


def validation_error(errors: Sequence[Any]) -> PayoutdError:
    """Pydantic's errors of a request's fields as the catalogue's refusal (the API's body
    and query, the dashboard's forms)."""
    fields: dict[str, list[str]] = {}
    only_bad_amounts = True
    for item in errors:
        msg = str(item.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        loc = tuple(item.get("loc", ()))
        path = _field_path(loc)
        fields.setdefault(path, []).append(msg)
        # an amount that is present but not a positive decimal string (a number, "-1",
        # "0") is the catalogue's `invalid_amount`; a missing one stays validation_error
        if not (item.get("type") == "value_error" and loc[-1:] == ("amount",)):
            only_bad_amounts = False
    first = next(iter(fields), "body")
    code = "invalid_amount" if fields and only_bad_amounts else "validation_error"
    return PayoutdError(code, f"{first}: {fields[first][0]}" if fields else None, fields=fields)


def _payoutd(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayoutdError)
    return render(exc, exc.headers or None)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthorized",
        413: "payload_too_large",
    }.get(exc.status_code, "bad_request")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # RFC 9110: a 405 lists every method the path takes. Starlette names only those
        # of the first route that matched the path, and several routes may share it.
        headers["Allow"] = allowed_methods(request.app.router.routes, request.scope)
    return JSONResponse(
        {"error": {"code": code, "message": str(exc.detail), "fields": {}}},
        status_code=exc.status_code,
        headers=headers or None,
    )


# the methods an `Allow` header may name: those a route can take (none takes OPTIONS)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: list[BaseRoute], scope: MutableMapping[str, Any]) -> str:
    """The methods the routes take at the scope's path, for an `Allow` header: each one
    that some route (or included router) would take in full."""
    allowed = [
        method
        for method in METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(allowed)


def _chain_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("api.network_unavailable", path=request.url.path, reason=str(exc))
    return render(PayoutdError("network_unavailable"), {"Retry-After": "30"})


HANDLERS: dict[type[Exception], Callable[[Request, Exception], JSONResponse]] = {
    ChainUnavailable: _chain_unavailable,
    RequestValidationError: _validation,
    PayoutdError: _payoutd,
    StarletteHTTPException: _http,
}


def install(app: FastAPI) -> None:
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)


def response_for(request: Request, exc: Exception) -> JSONResponse | None:
    """The answer the installed handlers give `exc`, for code that runs outside FastAPI's
    exception middleware (payoutd.api.payout_lane); None when it is no refusal."""
    for kind, handler in HANDLERS.items():
        if isinstance(exc, kind):
            return handler(request, exc)
    return None


def responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes an operation may answer with."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    return {
        status: {
            "model": ErrorResponse,
            "description": "; ".join(f"`{c}`: {CATALOGUE[c].doc}" for c in names),
        }
        for status, names in sorted(by_status.items())
    }


def catalogue_markdown() -> str:
    rows = ["| code | HTTP | message | when |", "|---|---|---|---|"]
    for spec in CATALOGUE.values():
        rows.append(f"| `{spec.code}` | {spec.status} | {spec.message} | {spec.doc} |")
    return "\n".join(rows)
