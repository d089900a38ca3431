"""Webhook deliveries per second to a local receiver, against the receiver's own ceiling
measured in the same run with a plain HTTP load tool (wrk POSTing a webhook-sized body
at `webhook_concurrency` connections).

payoutd's side: N `payout.created` events already in the outbox (payouts created through
the services with approval=manual, so the worker has nothing else to do), M merchants
each with one endpoint subscribed to every event, then `payoutd serve --role worker` on
the default configuration (SQLite, worker interval 1 s, 16 concurrent deliveries). Timed
from the worker's start until the receiver has every event once: that includes the
fan-out from the outbox to deliveries, the attempts and their recording.

    .venv/bin/python -m bench.run --only webhooks
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import common as c


async def _events(data: Path, merchants: list[c.Merchant], n: int) -> None:
    from payoutd.bootstrap import build
    from payoutd.config import Settings
    from payoutd.services import payouts

    rt = build(Settings(data_dir=data))
    try:
        addresses = c.addresses("btc", 64)
        per_unit = 250
        for lo in range(0, n, per_unit):
            async with rt.db.unit() as uow:
                for i in range(lo, min(n, lo + per_unit)):
                    q = await payouts.quote(
                        rt.ctx,
                        {},
                        payouts.PayoutRequest(
                            amount=Decimal("0.001"),
                            currency="BTC",
                            network="BTC",
                            address=addresses[i % len(addresses)],
                            approval="manual",
                            order_id=f"wh-{i}",
                        ),
                    )
                    await payouts.place(uow, rt.ctx, merchants[i % len(merchants)].id, q)
    finally:
        await rt.close()


def deliver(
    n: int, endpoints: int, receiver_port: int, label: str, timeout: float
) -> dict[str, Any]:
    with c.temp_dir(f"webhooks-{endpoints}") as tmp:
        data = tmp / "data"
        merchants = c.seed(
            data_dir=data,
            merchants=endpoints,
            currencies=("BTC",),
            endpoint_url=f"http://127.0.0.1:{receiver_port}/hook/{label}",
        )
        asyncio.run(_events(data, merchants, n))
        c.receiver_reset(receiver_port)
        env = c.server_env(c.free_port(), data_dir=data, webhook_allow_private="true")
        started = time.time()
        worker = c.start_payoutd(f"webhooks-worker-{endpoints}", "worker", env)
        try:
            deadline = time.monotonic() + timeout
            stats = c.receiver_stats(receiver_port)
            while stats["unique"] < n and time.monotonic() < deadline:
                worker.sample_memory()
                if worker.proc is not None and worker.proc.poll() is not None:
                    raise RuntimeError(f"the worker exited: {worker.log_path.read_text()[-2000:]}")
                time.sleep(0.2)
                stats = c.receiver_stats(receiver_port)
            done = time.time()
            rss = worker.sample_memory()
        finally:
            worker.stop()
        delivered = c.sqlite_count(
            data / "payoutd.db",
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'",
        )
    if stats["unique"] < n:
        raise RuntimeError(f"only {stats['unique']} of {n} webhooks arrived in {timeout} s")
    first, last = float(stats["first"]), float(stats["last"])
    out = {
        "events": n,
        "endpoints": endpoints,
        "received": stats["unique"],
        "posts": stats["posts"],
        "delivered_in_db": delivered,
        "seconds_total": round(done - started, 2),
        "seconds_first_to_last": round(last - first, 2),
        "per_second": round(n / max(done - started, 1e-6), 1),
        "per_second_steady": round((n - 1) / max(last - first, 1e-6), 1),
        "first_after_s": round(first - started, 2),
        "worker_peak_rss_kb": rss,
    }
    c.log(
        f"webhooks {endpoints} endpoint(s): {n} in {out['seconds_total']} s "
        f"= {out['per_second']:,.0f}/s (steady {out['per_second_steady']:,.0f}/s)"
    )
    return out


def run(quick: bool) -> dict[str, Any]:
    n = 200 if quick else 5_000
    duration = 2 if quick else 10
    receiver, port = c.start_receiver("webhooks-receiver")
    try:
        url = f"http://127.0.0.1:{port}"
        c.run_wrk(url, connections=16, duration=1, script=c.WRK_DIR / "webhook_post.lua")
        ceiling = c.run_wrk(
            url, connections=16, duration=duration, script=c.WRK_DIR / "webhook_post.lua"
        )
        c.log(f"receiver ceiling: {ceiling.rps:,.0f} req/s at 16 connections")
        rows = [
            deliver(n, endpoints, port, f"e{endpoints}", 120 if quick else 1800)
            for endpoints in ((1, 4) if quick else (1, 16))
        ]
    finally:
        receiver.stop()
    for row in rows:
        row["ratio_ceiling"] = round(row["per_second"] / ceiling.rps, 4)
        row["ratio_ceiling_steady"] = round(row["per_second_steady"] / ceiling.rps, 4)
    return {
        "receiver_ceiling": ceiling.as_dict(),
        "rows": rows,
        "settings": {"worker_interval_seconds": 1.0, "webhook_concurrency": 16},
    }


def table(res: dict[str, Any]) -> str:
    ceil = res["receiver_ceiling"]["rps"]
    rows = [
        [
            r["endpoints"],
            c.fmt_num(r["events"]),
            f"{r['seconds_total']:.1f}",
            c.fmt_num(r["per_second"]),
            c.fmt_num(r["per_second_steady"]),
            c.fmt_num(ceil),
            f"{r['ratio_ceiling']:.3f}",
            c.fmt_num(r["worker_peak_rss_kb"] / 1024),
        ]
        for r in res["rows"]
    ]
    return c.md_table(
        [
            "endpoints",
            "events",
            "seconds",
            "deliveries/s (from worker start)",
            "deliveries/s (first→last)",
            "receiver ceiling (wrk, 16 conns) req/s",
            "÷ ceiling",
            "worker peak RSS MB",
        ],
        rows,
    )


if __name__ == "__main__":
    c.quiet_logging()
    result = run("--quick" in sys.argv)
    print(table(result))
    print(json.dumps(result)[:2000])
