"""CPU per intake request inside the application, without uvicorn, wrk or a socket.

`--connections` clients call the ASGI application in this process in a loop, each
sending `POST /v1/payouts` as bench/wrk/payouts.lua does (rotating merchants' keys and
targets, unique order_ids), and the process's CPU time is divided by the requests
answered. On this shared machine the wall clock drifts, but a fixed amount of work in
one process mostly does not: this is the number to compare two versions of the intake
back to back (the HTTP server's own share is what `GET /v1/ping` costs in bench.intake).

    .venv/bin/python -m bench.lane_cpu [--db sqlite|postgres] [--requests 6000]
        [--connections 32] [--repeat 3] [--cprofile F]

The CPU time itself drifts by ±10% from one run to the next on these machines. For a
count that does not, run it under callgrind with instrumentation off until the measured
rounds (`--callgrind`; valgrind from Debian's packages): it prints the instructions per
request of each round, the same to a fraction of a percent run after run.

    valgrind --tool=callgrind --instr-atstart=no --cache-sim=no \
        --callgrind-out-file=/tmp/lane.%p .venv/bin/python -m bench.lane_cpu \
        --callgrind --requests 1000 --repeat 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import common as c


async def _drive(
    app: Any, bodies: list[tuple[bytes, bytes]], connections: int, statuses: dict[int, int]
) -> None:
    feed = iter(bodies)

    async def client() -> None:
        for auth, body in feed:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/v1/payouts",
                "raw_path": b"/v1/payouts",
                "root_path": "",
                "query_string": b"",
                "headers": [
                    (b"host", b"127.0.0.1"),
                    (b"authorization", auth),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            sent = False

            async def receive(body: bytes = body) -> dict[str, Any]:
                nonlocal sent
                if sent:
                    await asyncio.Event().wait()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] = statuses.get(message["status"], 0) + 1

            await app(scope, receive, send)

    await asyncio.gather(*(client() for _ in range(connections)))


def _bodies(
    merchants: list[c.Merchant], targets: Path, count: int, tag: str
) -> list[tuple[bytes, bytes]]:
    rows = [line.split() for line in targets.read_text().splitlines() if line.startswith("T ")]
    keys = itertools.cycle(f"Bearer {m.api_key}".encode() for m in merchants)
    shapes = itertools.cycle(rows)
    out = []
    for i in range(count):
        _, currency, network, amount, address = next(shapes)
        out.append(
            (
                next(keys),
                json.dumps(
                    {
                        "amount": amount,
                        "currency": currency,
                        "network": network,
                        "address": address,
                        "order_id": f"{tag}-{i}",
                    },
                    separators=(",", ":"),
                ).encode(),
            )
        )
    return out


def _instructions() -> int:
    """Instructions callgrind has counted in this process so far (instrumentation is
    switched on at the first call)."""
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
    out = subprocess.run(
        ["callgrind_control", "-e", pid], check=True, capture_output=True, text=True
    ).stdout
    # "Totals: Ir" and then a line per thread: "Th 1  495,396"
    counts = re.findall(r"^\s*Th\s+\d+\s+([\d,]+)", out, re.M)
    if not counts:
        raise RuntimeError(f"no instruction count in callgrind_control's answer: {out}")
    return sum(int(n.replace(",", "")) for n in counts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--merchants", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--cprofile",
        type=Path,
        default=None,
        help="profile the last round with cProfile and dump it here",
    )
    ap.add_argument(
        "--callgrind",
        action="store_true",
        help="running under callgrind: count instructions per request",
    )
    args = ap.parse_args()
    c.quiet_logging()

    with contextlib.ExitStack() as stack:
        merchants, targets, _ = c.seeded_in_process(
            stack, "lane-cpu", args.db, args.merchants, c.free_port()
        )

        from payoutd.api.app import create_app
        from payoutd.bootstrap import build, settle_heap
        from payoutd.config import load_settings

        async def run() -> None:
            rt = build(load_settings())
            app = create_app(rt, run_worker=False, owns_runtime=True)
            async with app.router.lifespan_context(app):
                settle_heap()
                warm = _bodies(merchants, targets, 1000, "warm")
                await _drive(app, warm, args.connections, {})
                for round_no in range(args.repeat):
                    bodies = _bodies(merchants, targets, args.requests, f"r{round_no}")
                    statuses: dict[int, int] = {}
                    profiler = (
                        cProfile.Profile()
                        if args.cprofile and round_no == args.repeat - 1
                        else None
                    )
                    counted = _instructions() if args.callgrind else 0
                    cpu, wall = time.process_time(), time.monotonic()
                    if profiler:
                        profiler.enable()
                    await _drive(app, bodies, args.connections, statuses)
                    if profiler:
                        profiler.disable()
                        profiler.dump_stats(args.cprofile)
                    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                    counted = _instructions() - counted if args.callgrind else 0
                    print(
                        f"round {round_no}: {cpu / args.requests * 1e6:.0f} µs CPU per "
                        f"request ({args.requests / wall:,.0f} req/s), statuses {statuses}"
                        + (
                            f", {counted / args.requests / 1e3:,.0f}k instructions per request"
                            if args.callgrind
                            else ""
                        ),
                        flush=True,
                    )

        asyncio.run(run())


if __name__ == "__main__":
    main()
