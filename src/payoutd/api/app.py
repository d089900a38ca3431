"""The FastAPI application. Built by `create_app`, never at import time."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from payoutd import __version__
from payoutd.api import dashboard, docs, errors, inputs, openapi_defs, reads, webhook_events
from payoutd.api.body_limit import BodyLimit
from payoutd.api.compat import bitclear as compat_bitclear
from payoutd.api.compat import calypso as compat_calypso
from payoutd.api.compat import cryptomus as compat_cryptomus
from payoutd.api.compat import sphere as compat_sphere
from payoutd.api.compat import sphere_payouts as compat_sphere_payouts
from payoutd.api.intake import Intake
from payoutd.api.payout_lane import PayoutLane
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import (
    access,
    accounts,
    admin,
    batches,
    imports,
    parties,
    payouts,
    quotes,
    ramps,
    sandbox,
    webhooks,
)
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import PayoutdError
from payoutd.worker.runner import Worker

DEFAULT_ANSWER = "Successful Response"

DESCRIPTION = """Self-hosted crypto payouts. Amounts are decimal strings in one spelling
(digits and an optional fraction: no JSON number, sign, exponent, spaces or leading zeros);
`execute_at` is an RFC 3339 date-time with its offset; `metadata` is at most 50 pairs of
strings (keys up to 40 characters, values up to 500); a body is JSON of at most
{max_bytes} bytes (else 413). Every error is `{{"error": {{"code", "message", "fields"}}}}`
with a stable code:

"""


def _validation_in_own_shape(router: APIRouter) -> None:
    """A parameter or body that does not validate is answered 422 in payoutd's own shape
    (errors._validation): OpenAPI says so, instead of FastAPI's default `detail` list."""
    for route in router.routes:
        if isinstance(route, APIRoute) and (
            route.dependant.path_params
            or route.dependant.query_params
            or route.dependant.header_params
            or route.body_field is not None
        ):
            route.responses.setdefault(422, errors.responses("validation_error")[422])


def _answers_described(router: APIRouter) -> None:
    """A success answer's description, unless the route says its own: its model's
    (FastAPI's default, "Successful Response", says nothing); 204: nothing is sent."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.response_description != DEFAULT_ANSWER:
            continue
        if route.status_code == 204:
            route.response_description = "Done; no body"
        elif isinstance(route.response_model, type) and route.response_model.__doc__:
            route.response_description = " ".join(route.response_model.__doc__.split())


def create_app(
    runtime: Runtime, *, run_worker: bool = False, owns_runtime: bool = False
) -> FastAPI:
    """The application on `runtime`; with `owns_runtime` it closes the runtime when it
    shuts down (a process that serves only this application)."""
    worker = Worker(runtime.db, runtime.ctx, runtime.sender) if run_worker else None
    # SQLite has one writer. PostgreSQL takes a second transaction while one commits: a
    # lone API process writes two at a time; with several processes one each does better
    # (larger batches, fewer lock waits; bench/README.md, "Where the time goes").
    writers = 2 if runtime.db.is_postgres and runtime.settings.api_processes == 1 else 1
    intake = Intake(
        runtime.db.unit,
        runtime.ctx,
        writers=writers,
        autocommit=runtime.db.autocommit if runtime.db.on_asyncpg else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if worker:
            worker.start()
        try:
            yield
        finally:
            await intake.drain()
            if worker:
                await worker.stop()
            if owns_runtime:
                await runtime.close()

    app = FastAPI(
        title="payoutd",
        version=__version__,
        lifespan=lifespan,
        description=DESCRIPTION.format(max_bytes=runtime.settings.request_body_max_bytes)
        + errors.catalogue_markdown(),
        dependencies=[Depends(inputs.storable_input)],
        # served by payoutd.api.docs, without a CDN
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry hooks look up the global providers on
        # every request; payoutd reports through /metrics instead
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    app.state.intake = intake
    reads.install(app, runtime)
    app.state.touched = {}  # key id -> when this process last wrote its last_used_at
    errors.install(app)
    docs.install(app)
    webhook_events.install(app)
    openapi_defs.install(app)
    app.add_middleware(PayoutLane)
    app.add_middleware(compat_cryptomus.Lane)
    # outermost: the lane and the routes only ever see a body within the limit
    app.add_middleware(
        BodyLimit,
        max_bytes=runtime.settings.request_body_max_bytes,
        paths={
            imports.PATH: runtime.settings.import_body_max_bytes,
            dashboard.UPLOAD_PATH: runtime.settings.import_body_max_bytes,
        },
    )
    routers = [
        m.router
        for m in (payouts, batches, imports, quotes, accounts, webhooks, access, admin, sandbox)
    ]
    for router in (
        *routers,
        parties.router,
        parties.admin_router,
        ramps.router,
        ramps.admin_router,
        ramps.sandbox_router,
    ):
        _validation_in_own_shape(router)
        _answers_described(router)
        for route in router.routes:
            # a JSON body that cannot be decoded at all is answered 400 `bad_request`, one
            # over the size limit 413 `payload_too_large`
            if isinstance(route, APIRoute) and route.body_field is not None:
                for status, response in errors.responses(
                    "bad_request", "payload_too_large"
                ).items():
                    route.responses.setdefault(status, response)
        app.include_router(router)
    for router in (
        *compat_cryptomus.routers(),
        compat_bitclear.router,
        compat_calypso.router,
        compat_sphere.router,
        compat_sphere_payouts.router,
    ):
        _validation_in_own_shape(router)
        _answers_described(router)
        app.include_router(router)
    dashboard.install(app)

    @app.get(
        "/v1/ping",
        tags=["operations"],
        summary="200 from the API process itself; touches no database",
        response_description='`{"ok": true}`',
    )
    async def ping() -> dict[str, bool]:
        """For load balancers' liveness checks (use /healthz for readiness), and the
        benchmarks' HTTP ceiling: the same application answering without any work."""
        return {"ok": True}

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="200 when the database answers",
        response_description='`{"status": "ok"}`; 503 `{"status": "unavailable"}` when the '
        "database does not answer",
    )
    async def healthz(request: Request) -> Any:
        if await runtime.db.ping():
            return {"status": "ok"}
        return JSONResponse({"status": "unavailable"}, status_code=503)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={
            200: {
                "description": "The Prometheus text format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **errors.responses("unauthorized"),
        },
        summary="Prometheus metrics (with PAYOUTD_METRICS_TOKEN set: send it as "
        "`Authorization: Bearer <token>`)",
    )
    async def metrics(request: Request) -> Response:
        token = runtime.settings.metrics_token
        if token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), token.get_secret_value().encode()
            ):
                raise PayoutdError(
                    "unauthorized", "Send the metrics token: Authorization: Bearer <token>"
                )
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
