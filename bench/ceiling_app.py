"""The HTTP stack's own ceiling: payoutd's application and server answering a trivial
endpoint that touches no database.

payoutd has no such endpoint (/healthz runs `SELECT 1`; /metrics touches no database but
renders every Prometheus series). Until it has one (a GET /v1/ping is recommended in
bench/README.md), this module builds the real application exactly as `payoutd serve
--role api` does (same `create_app`, same exception handlers and routers, same uvicorn
settings on the same event loop) and adds one route, GET /_bench/ping -> {"ok": true}.
`--mode minimal` serves a bare FastAPI app with only that route instead, for context.

    .venv/bin/python -m bench.ceiling_app --port 8123 [--mode payoutd|minimal]

Configuration comes from the same PAYOUTD_* variables as `payoutd serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any


async def ping() -> dict[str, Any]:
    return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("payoutd", "minimal"), default="payoutd")
    args = parser.parse_args()

    import uvicorn
    from fastapi import FastAPI

    from payoutd.api.app import create_app
    from payoutd.bootstrap import build
    from payoutd.config import load_settings
    from payoutd.logging import configure
    from payoutd.store.migrate import upgrade

    settings = load_settings(port=args.port)
    configure(settings.log_level, json=settings.log_json)

    async def serve() -> None:
        rt = None
        if args.mode == "payoutd":
            rt = build(settings)
            await upgrade(rt.db.engine)
            app = create_app(rt, run_worker=False)
        else:
            app = FastAPI()
        app.add_api_route("/_bench/ping", ping, methods=["GET"])
        # first in the routing table, as /v1/payouts is (its router is included first):
        # Starlette tries routes in order, and trying every one of payoutd's costs more
        # than the trivial endpoint itself
        app.router.routes.insert(0, app.router.routes.pop())
        # the same uvicorn settings as `payoutd serve` (payoutd/cli.py)
        config = uvicorn.Config(app, host=settings.host, port=settings.port,
                                log_level=settings.log_level, access_log=False)
        try:
            await uvicorn.Server(config).serve()
        finally:
            if rt is not None:
                await rt.close()

    if os.environ.get("BENCH_UVLOOP", "") == "1":
        import uvloop

        uvloop.run(serve())
    else:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
