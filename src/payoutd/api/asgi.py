"""The API as an ASGI application factory, for `payoutd serve --role api --processes N`:
each process builds its own runtime (engine, pools, chains, rates) from the PAYOUTD_*
environment when it starts; nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from payoutd.api.app import create_app
from payoutd.bootstrap import build, settle_heap
from payoutd.config import load_settings
from payoutd.logging import configure


def app() -> FastAPI:
    settings = load_settings()
    configure(settings.log_level, json=settings.log_json)
    app = create_app(build(settings), owns_runtime=True)
    settle_heap()
    return app
