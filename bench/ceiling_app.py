"""A bare FastAPI app on the same uvicorn settings and event loop as `payoutd serve`,
answering GET /v1/ping -> {"ok": true}: context for the HTTP ceiling, which is payoutd's
own GET /v1/ping (the same application and server as the intake, no database).

    .venv/bin/python -m bench.ceiling_app --port 8123
"""

from __future__ import annotations

import argparse
from typing import Any


async def ping() -> dict[str, Any]:
    return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    import uvicorn
    import uvloop
    from fastapi import FastAPI

    app = FastAPI()
    app.add_api_route("/v1/ping", ping, methods=["GET"])
    # the same uvicorn settings as `payoutd serve` (payoutd/cli.py)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )
    uvloop.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
