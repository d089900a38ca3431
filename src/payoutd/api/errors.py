"""Rendering refusals: every 4xx is `{"error": {"code", "message", "fields"}}` with a code
from the catalogue in payoutd.domain.errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from payoutd.api.responses import JSONResponse
from payoutd.domain.errors import CATALOGUE, PayoutdError
from payoutd.services.ports import ChainUnavailable

log = structlog.get_logger("payoutd.api")


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, list[str]] = {}


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_json(err: PayoutdError) -> dict[str, Any]:
    return {"error": {"code": err.code, "message": err.message, "fields": err.fields}}


def render(err: PayoutdError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_json(err), status_code=err.status, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, list[str]] = {}
    only_bad_amounts = True
    for item in exc.errors():
        msg = str(item.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        loc = tuple(item.get("loc", ()))
        # a JSON decode error's loc ends in a character offset, which names no field
        path = "body" if item.get("type") == "json_invalid" else _field_path(loc)
        fields.setdefault(path, []).append(msg)
        # an amount that is present but not a positive decimal string (a float, "-1",
        # "0") is the catalogue's `invalid_amount`; a missing one stays validation_error
        if not (item.get("type") == "value_error" and loc[-1:] == ("amount",)):
            only_bad_amounts = False
    first = next(iter(fields), "body")
    code = "invalid_amount" if fields and only_bad_amounts else "validation_error"
    err = PayoutdError(code, f"{first}: {fields[first][0]}" if fields else None,
                       fields=fields)
    return render(err)


def _payoutd(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayoutdError)
    return render(exc, exc.headers or None)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
        exc.status_code, "bad_request")
    return JSONResponse({"error": {"code": code, "message": str(exc.detail), "fields": {}}},
                        status_code=exc.status_code, headers=getattr(exc, "headers", None))


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
