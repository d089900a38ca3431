"""The Cryptomus dialect's CPU per create against the native API's, in the same process.

One merchant pays thousands of payouts in USDT on TRON from one balance, 32 clients at a
time, each payout with its own order_id. Four kinds of request take turns, round after
round, in one process serving payoutd's ASGI application on the default configuration
(SQLite in a data dir, WAL, synchronous=NORMAL), without uvicorn or a socket (as
bench.lane_cpu does):

* native: `POST /v1/payouts` with the API key as a bearer token (the intake's lane);
* compat: `POST /compat/cryptomus/v1/payout`, headers `merchant` and
  `sign` = md5(base64(body) + payout key), signed here from the provider's rule, not
  with payoutd's dialect code;
* native_callback, compat_callback: the same with a callback_url (`url_callback`),
  for which the dialect also writes a payout_dialects row in the payout's transaction.

The process's CPU time (every thread) over a round divided by its requests is the
number compared. The order of the kinds turns every round, so a drift of the machine
falls on each of them in turn; the ratio shown is the median of the rounds' ratios.
uvicorn's own share of a request (what `GET /v1/ping` costs in bench.intake, the same
for both kinds) is left out, so the ratio here is the strictest form of it.

    .venv/bin/python -m bench.compat [--requests 3000] [--repeat 9] [--connections 32]
        [--cprofile-kind compat --cprofile F]

bench.run runs it in a process of its own (`--json`) and reads its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common as c

KINDS = ("native", "compat", "native_callback", "compat_callback")
CURRENCY, NETWORK, AMOUNT = "USDT", "TRON", "25"
CALLBACK_URL = "https://merchant.example/payouts/callback"
RESULT_PREFIX = "COMPAT_RESULT "


@dataclass(frozen=True)
class Call:
    path: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


def sign(body: bytes, payout_key: str) -> str:
    # the provider's rule (../shared/seeds/002_…): md5(base64(body) + payout key), hex
    return hashlib.md5(base64.b64encode(body) + payout_key.encode()).hexdigest()


def calls(
    kind: str, merchant: c.Merchant, recipients: Sequence[str], count: int, tag: str
) -> list[Call]:
    """`count` creates of one kind, each with an order_id of its own."""
    out = []
    for i in range(count):
        fields: dict[str, Any] = {
            "amount": AMOUNT,
            "currency": CURRENCY,
            "network": NETWORK,
            "address": recipients[i % len(recipients)],
            "order_id": f"{tag}-{kind}-{i}",
        }
        if kind.startswith("native"):
            if kind == "native_callback":
                fields["callback_url"] = CALLBACK_URL
            body = json.dumps(fields, separators=(",", ":")).encode()
            auth = [(b"authorization", f"Bearer {merchant.api_key}".encode())]
            out.append(Call(b"/v1/payouts", auth, body))
        else:
            fields["is_subtract"] = True  # the fee on top of the amount: native's default
            if kind == "compat_callback":
                fields["url_callback"] = CALLBACK_URL
            body = json.dumps(fields, separators=(",", ":")).encode()
            signed = [
                (b"merchant", merchant.id.encode()),
                (b"sign", sign(body, merchant.api_key).encode()),
            ]
            out.append(Call(b"/compat/cryptomus/v1/payout", signed, body))
    return out


def created(status: int, body: bytes) -> bool:
    """A new payout's answer: 201 natively, 200 with state 0 in the dialect."""
    return status == 201 or (status == 200 and body.startswith(b'{"state":0'))


async def drive(app: Any, work: list[Call], connections: int) -> dict[str, int]:
    """Sends every call through the ASGI app, `connections` at a time; returns the
    answers by status, plus "created" for the new payouts among them."""
    feed = iter(work)
    counts: dict[str, int] = {}

    async def client() -> None:
        for call in feed:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": call.path.decode(),
                "raw_path": call.path,
                "root_path": "",
                "query_string": b"",
                "headers": [
                    (b"host", b"127.0.0.1"),
                    *call.headers,
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(call.body)).encode()),
                ],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            sent = False
            status, answer = 0, b""

            async def receive(body: bytes = call.body) -> dict[str, Any]:
                nonlocal sent
                if sent:
                    await asyncio.Event().wait()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                nonlocal status, answer
                if message["type"] == "http.response.start":
                    status = message["status"]
                elif message["type"] == "http.response.body":
                    answer += message.get("body", b"")

            await app(scope, receive, send)
            counts[str(status)] = counts.get(str(status), 0) + 1
            if created(status, answer):
                counts["created"] = counts.get("created", 0) + 1

    await asyncio.gather(*(client() for _ in range(connections)))
    return counts


def measure(args: argparse.Namespace) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(c.temp_dir("compat"))
        data = tmp / "data"
        [merchant] = c.seed(data_dir=data, merchants=1, currencies=(CURRENCY,))
        recipients = c.addresses("tron", 16)
        # one key sends them all: its rate limit (default 6,000 a minute) raised out of
        # the way; the limiter still runs for every request of either kind
        os.environ.update(
            c.server_env(c.free_port(), data_dir=data, api_rate_limit_per_minute=10**9)
        )

        from payoutd.api.app import create_app
        from payoutd.bootstrap import build, settle_heap
        from payoutd.config import load_settings

        cpu: dict[str, list[float]] = {k: [] for k in KINDS}
        wall: dict[str, list[float]] = {k: [] for k in KINDS}
        answers: dict[str, dict[str, int]] = {k: {} for k in KINDS}
        sent = 0

        async def run() -> None:
            nonlocal sent
            rt = build(load_settings())
            app = create_app(rt, run_worker=False, owns_runtime=True)
            async with app.router.lifespan_context(app):
                settle_heap()
                for kind in KINDS:  # imports, caches and the first statements of each
                    await drive(app, calls(kind, merchant, recipients, args.warmup, "w"), 32)
                    sent += args.warmup
                for round_no in range(args.repeat):
                    turn = round_no % len(KINDS)
                    for kind in KINDS[turn:] + KINDS[:turn]:
                        work = calls(kind, merchant, recipients, args.requests, f"r{round_no}")
                        profiler = (
                            cProfile.Profile()
                            if args.cprofile and kind == args.cprofile_kind
                            else None
                        )
                        t_cpu, t_wall = time.process_time(), time.monotonic()
                        if profiler:
                            profiler.enable()
                        got = await drive(app, work, args.connections)
                        if profiler:
                            profiler.disable()
                            profiler.dump_stats(f"{args.cprofile}.{round_no}")
                        cpu[kind].append((time.process_time() - t_cpu) / args.requests)
                        wall[kind].append(args.requests / (time.monotonic() - t_wall))
                        sent += args.requests
                        for status, n in got.items():
                            answers[kind][status] = answers[kind].get(status, 0) + n
                        if got.get("created", 0) != args.requests:
                            raise RuntimeError(f"{kind}, round {round_no}: answers {got}")

        asyncio.run(run())
        db = data / "payoutd.db"
        stored = c.sqlite_count(db, "SELECT count(*) FROM payouts")
        callbacks = c.sqlite_count(db, "SELECT count(*) FROM payout_dialects")
    # every create made its payout, and every dialect create with url_callback (only
    # those) its payout_dialects row
    expected_callbacks = args.warmup + args.requests * args.repeat
    if stored != sent or callbacks != expected_callbacks:
        raise RuntimeError(
            f"{sent} creates stored {stored} payouts and {callbacks} payout_dialects rows "
            f"(expected {expected_callbacks})"
        )
    return summarise(args, cpu, wall, answers, sent, stored, callbacks)


def summarise(
    args: argparse.Namespace,
    cpu: dict[str, list[float]],
    wall: dict[str, list[float]],
    answers: dict[str, dict[str, int]],
    sent: int,
    stored: int,
    callbacks: int,
) -> dict[str, Any]:
    def ratios(over: str, under: str) -> list[float]:
        return [a / b for a, b in zip(cpu[over], cpu[under], strict=True)]

    plain, with_callback = ratios("compat", "native"), ratios("compat_callback", "native_callback")
    return {
        "requests": args.requests,
        "repeat": args.repeat,
        "connections": args.connections,
        "merchants": 1,
        "payout": f"{AMOUNT} {CURRENCY} on {NETWORK}",
        "kinds": {
            kind: {
                "cpu_us_per_request": [round(s * 1e6, 1) for s in cpu[kind]],
                "cpu_us_median": round(statistics.median(cpu[kind]) * 1e6, 1),
                "req_per_s": [round(r) for r in wall[kind]],
                "answers": answers[kind],
            }
            for kind in KINDS
        },
        "ratio": round(statistics.median(plain), 3),
        "ratio_range": [round(min(plain), 3), round(max(plain), 3)],
        "ratio_callback": round(statistics.median(with_callback), 3),
        "ratio_callback_range": [round(min(with_callback), 3), round(max(with_callback), 3)],
        # the creates sent, warm-up included, against the payouts and callback rows stored
        "sent": sent,
        "stored_payouts": stored,
        "payout_dialects": callbacks,
    }


def run(quick: bool) -> dict[str, Any]:
    """For bench.run: the measurement in a fresh process (its CPU time is the app's
    alone), its result read from the last line it prints."""
    argv = [sys.executable, "-m", "bench.compat", "--json"]
    argv += ["--requests", "300", "--repeat", "2", "--warmup", "100"] if quick else []
    env = c.server_env(0)
    done = subprocess.run(argv, cwd=c.ROOT, env=env, capture_output=True, text=True, timeout=1800)
    lines = [x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"bench.compat failed ({done.returncode}): {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    result["quick"] = quick
    return result


def table(res: dict[str, Any]) -> str:
    k = res["kinds"]
    labels = {
        "native": "native `POST /v1/payouts`",
        "compat": "Cryptomus `POST /compat/cryptomus/v1/payout`, signed",
        "native_callback": "native, with callback_url",
        "compat_callback": "Cryptomus, with url_callback (+ payout_dialects row)",
    }
    rows = [
        [
            labels[kind],
            f"{k[kind]['cpu_us_median']:,.0f}",
            " / ".join(f"{v:,.0f}" for v in k[kind]["cpu_us_per_request"]),
            " / ".join(f"{v:,}" for v in k[kind]["req_per_s"]),
        ]
        for kind in KINDS
    ]
    text = c.md_table(
        ["create", "CPU µs/request (median)", "each round", "req/s, each round (in-process)"],
        rows,
    )
    lo, hi = res["ratio_range"]
    clo, chi = res["ratio_callback_range"]
    return (
        f"{text}\n\n{res['repeat']} rounds of {res['requests']:,} creates per kind, "
        f"{res['connections']} clients, one merchant paying {res['payout']} from one "
        f"balance; {res['stored_payouts']:,} payouts stored for {res['sent']:,} creates sent, "
        f"{res['payout_dialects']:,} payout_dialects rows. Cryptomus ÷ native, median of "
        f"the rounds: {res['ratio']:.3f} ({lo:.3f}-{hi:.3f}); with a callback URL "
        f"{res['ratio_callback']:.3f} ({clo:.3f}-{chi:.3f})."
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000, help="creates per kind per round")
    ap.add_argument("--repeat", type=int, default=9, help="rounds")
    ap.add_argument("--warmup", type=int, default=500, help="creates per kind first")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    ap.add_argument("--cprofile", type=Path, default=None, help="profile into F.<round>")
    ap.add_argument("--cprofile-kind", choices=KINDS, default="compat")
    args = ap.parse_args()
    c.quiet_logging()
    result = measure(args)
    print(table(result))
    if args.json:
        print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
