"""/docs (Swagger UI) and /redoc, served with every asset from payoutd itself.

FastAPI's own pages load Swagger UI, ReDoc and a favicon from CDNs: on a host without
access to the internet (where a payout engine often runs) they stay blank. The same
pages here point at the copies the `fastapi-offline` package installs (Swagger UI 5,
which reads OpenAPI 3.1, and ReDoc 2), served under /docs/assets; Swagger UI's
validator badge, which would call validator.swagger.io, is off. Both pages are sent with
a Content-Security-Policy that keeps every fetch on this host: ReDoc's sidebar shows a
logo it loads from cdn.redoc.ly, which no option turns off; under the policy the browser
never asks for it (the image hides itself when it fails).
tests/browser/test_docs_offline.py loads both in Chromium with other hosts blocked."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS_PATH = "/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"
# inline: the pages' own start-up scripts and styles; blob: ReDoc's search worker
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' blob:",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
    )
)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["content-security-policy"] = CSP
    return page


def install(app: FastAPI) -> None:
    """Serve the pages on `app`, which was built with docs_url=None and redoc_url=None."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _local_only(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _local_only(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )
