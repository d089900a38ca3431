"""A local webhook receiver for the benchmarks: answers every POST with 200 at once and
counts deliveries (distinct `webhook-id`s, and all POSTs); GET /stats reports the counts
and the times of the first and last delivery (time.time()).

    .venv/bin/python -m bench.receiver --port 8124

It runs on aiohttp with uvloop: it is the receiver, not what is measured, and its own
ceiling is measured with wrk in the same run (bench/webhooks.py).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import web

state: dict[str, float | int | None] = {"posts": 0, "first": None, "last": None}
ids: set[str] = set()


async def hook(request: web.Request) -> web.Response:
    await request.read()
    now = time.time()
    state["posts"] = int(state["posts"] or 0) + 1
    if state["first"] is None:
        state["first"] = now
    state["last"] = now
    webhook_id = request.headers.get("webhook-id")
    if webhook_id:
        ids.add(webhook_id)
    return web.Response(status=200)


async def stats(request: web.Request) -> web.Response:
    return web.json_response({**state, "unique": len(ids)})


async def reset(request: web.Request) -> web.Response:
    state.update(posts=0, first=None, last=None)
    ids.clear()
    return web.json_response({"ok": True})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    app.router.add_post("/{tail:.*}", hook)
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
