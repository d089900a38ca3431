"""The dashboard's session: an authenticated-encrypted cookie (Fernet, under a key derived
from the master keys for this use alone) holding the API key the user signed in with and
the session's CSRF token. The key is never in the cookie in clear, and every request
verifies it again as a bearer token would be (a revoked key signs the session out at
once; its scopes, IP allowlist and rate limit apply to every page).

Before signing in, the cookie holds only a CSRF token, so the sign-in form is protected
too (login CSRF)."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from fastapi import Request, Response

from payoutd.bootstrap import Runtime

COOKIE = "payoutd_dashboard"
PATH = "/dashboard"
PURPOSE = "payoutd dashboard session v1"
# A signed-in session lasts a working day; then the key is asked for again.
LIFETIME_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    api_key: str | None = None  # None: not signed in

    @classmethod
    def fresh(cls, api_key: str | None = None) -> Session:
        return cls(secrets.token_urlsafe(32), api_key)

    def csrf_matches(self, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(), self.csrf.encode())


def read(request: Request) -> Session | None:
    """The request's session, if its cookie is one this payoutd made and not too old."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    rt: Runtime = request.app.state.runtime
    try:
        raw = rt.secrets.derived(PURPOSE).decrypt(token.encode(), ttl=LIFETIME_SECONDS)
        data = json.loads(raw)
        csrf, key = data["c"], data.get("k")
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None
    if not isinstance(csrf, str) or not (key is None or isinstance(key, str)):
        return None
    return Session(csrf, key)


def write(request: Request, response: Response, session: Session) -> None:
    rt: Runtime = request.app.state.runtime
    token = rt.secrets.derived(PURPOSE).encrypt(
        json.dumps({"c": session.csrf, "k": session.api_key}).encode()
    )
    response.set_cookie(
        COOKIE,
        token.decode(),
        max_age=LIFETIME_SECONDS,
        path=PATH,
        httponly=True,
        samesite="lax",
        # behind a TLS proxy the scheme comes from X-Forwarded-Proto, believed only from
        # PAYOUTD_FORWARDED_ALLOW_IPS
        secure=request.url.scheme == "https",
    )


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="lax")
