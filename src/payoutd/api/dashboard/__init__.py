"""The web dashboard at /dashboard: server-rendered pages for merchants and operators,
thin callers of the same service functions as the native API. No build step; its
stylesheet is served from the package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from payoutd.api.dashboard import account, imports, operator, payouts

HERE = Path(__file__).parent
UPLOAD_PATH = imports.PATH  # a mass payout's file: the import body limit applies


def install(app: FastAPI) -> None:
    app.state.dashboard_templates = Jinja2Templates(directory=HERE / "templates")
    for module in (account, payouts, imports, operator):
        app.include_router(module.router)
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
