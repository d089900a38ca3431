"""What every dashboard page shares: who is signed in (`viewer`), the CSRF check of every
form (`form`), rendering, and answering a refusal as a page rather than JSON."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from payoutd.api import inputs, reads
from payoutd.api.auth import Principal, admit
from payoutd.api.dashboard import session
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.payout import Status
from payoutd.services import merchants

# What a page may say after a redirect, named in its query string (`?notice=created`):
# only these texts, so a link cannot make the dashboard say anything else.
NOTICES: dict[str, str] = {
    "signed-out": "Signed out",
    "session-ended": "The key of this session no longer works: sign in again",
    "own-key-revoked": "This session's key was revoked",
    "created": "Payout created",
    "redelivered": "Delivery queued again",
    "endpoint-deleted": "Endpoint deleted",
    "key-revoked": "Key revoked",
    **{f"status-{s.value}": f"Payout {s.value}" for s in Status},
    "review-assigned": "Assigned: the ramp payout is funded",
    "review-dismissed": "Dismissed: nothing moved",
}


def notice(request: Request, name: str = "notice") -> str | None:
    return NOTICES.get(request.query_params.get(name, ""))


class SignInRequired(Exception):
    """No session, or its key no longer works: the sign-in page, saying why."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


class Forged(Exception):
    """A form without this session's CSRF token: refused, nothing done."""


@dataclass(frozen=True, slots=True)
class Viewer:
    principal: Principal
    session: session.Session

    @property
    def operator(self) -> bool:
        return "admin" in self.principal.key.scopes

    @property
    def can_write(self) -> bool:
        """A `payouts` key acts; a `read` key only looks (and its posts are refused by
        the same scope check as the API's)."""
        return "payouts" in self.principal.key.scopes

    @property
    def csrf(self) -> str:
        return self.session.csrf


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def templates(request: Request) -> Jinja2Templates:
    found: Jinja2Templates = request.app.state.dashboard_templates
    return found


def render(
    request: Request,
    name: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("error", None)
    context.setdefault("notice", notice(request))
    return templates(request).TemplateResponse(
        request,
        name,
        {"viewer": viewer, "csrf": viewer.csrf if viewer else None, **context},
        status_code=status_code,
    )


async def authenticate(request: Request, api_key: str, scope: str) -> Principal:
    """The key checked as `Authorization: Bearer` would be (payoutd.api.auth.require)."""
    prefix, secret = merchants.key_prefix(api_key.strip())
    row = await reads.key_row(request, prefix) if secret else None
    key, policy = merchants.verify_key(None if row is None else (row.key, row.policy), secret)
    return await admit(request, key, policy, row, scope)


async def viewer(request: Request, scope: str = "read") -> Viewer:
    """Who is signed in, with `scope` (a page that changes something asks for `payouts`,
    an operator page for `admin`)."""
    found = session.read(request)
    if found is None or found.api_key is None:
        raise SignInRequired()
    try:
        principal = await authenticate(request, found.api_key, scope)
    except PayoutdError as err:
        if err.code == "unauthorized":
            raise SignInRequired("session-ended") from None
        raise
    return Viewer(principal, found)


def scope_of(request: Request, write_scope: str = "payouts") -> str:
    return write_scope if request.method == "POST" else "read"


async def form(request: Request, viewer_session: session.Session | None) -> FormData:
    """The posted form, once its CSRF token is this session's; every value storable
    text (the API's rule for JSON bodies)."""
    data = await request.form()
    if viewer_session is None or not viewer_session.csrf_matches(data.get(session.CSRF_FIELD)):
        raise Forged()
    for name, value in data.multi_items():
        if isinstance(value, str) and not (inputs.storable(name) and inputs.storable(value)):
            raise field_error("validation_error", name, f"{name}: {inputs.MESSAGE}")
    return data


def text(data: Mapping[str, Any], name: str) -> str | None:
    """A form field, None when left empty."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def redirect(path: str, **query: str | None) -> RedirectResponse:
    wanted = {k: v for k, v in query.items() if v}
    return RedirectResponse(path + (f"?{urlencode(wanted)}" if wanted else ""), status_code=303)


def _error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    found = session.read(request)
    # the error page shows the navigation only to someone signed in; it never
    # authenticates again (the failure may be the authentication itself)
    return templates(request).TemplateResponse(
        request,
        "error.html",
        {
            "viewer": None,
            "signed_in": found is not None and found.api_key is not None,
            "csrf": found.csrf if found else None,
            "title": title,
            "message": message,
            "error": None,
            "notice": None,
        },
        status_code=status_code,
    )


# Every dashboard answer: never framed by another site (clickjacking), scripts and styles
# from payoutd only (htmx adds its indicator style inline), forms posted only to payoutd,
# not kept in a shared cache (a page may show a new key or secret once).
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class DashboardRoute(APIRoute):
    """Answers the dashboard's refusals as pages: no session → the sign-in page; a form
    without its CSRF token → 403; a PayoutdError → its status and message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            response = await answer(request)
            response.headers.update(HEADERS)
            return response

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired as need:
                response = redirect("/dashboard/sign-in", reason=need.reason)
                if need.reason:
                    session.clear(response)
                return response
            except Forged:
                return _error_page(
                    request,
                    403,
                    "Refused",
                    "This form did not carry the session's CSRF token: nothing was changed.",
                )
            except PayoutdError as err:
                fields = "; ".join(m for msgs in (err.fields or {}).values() for m in msgs)
                message = err.message + (f" ({fields})" if fields and fields != err.message else "")
                return _error_page(request, err.status, err.code, message)

        return guarded
