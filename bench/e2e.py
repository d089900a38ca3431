"""End to end: N payouts created through the API, batched, paid on the sandbox chain and
their webhooks delivered to a local receiver.

On SQLite (the default) one `payoutd serve` process, the embedded defaults' shape: the API
and the worker in one process, whose writers then queue in memory instead of polling the
file lock against each other. On PostgreSQL (--e2e-db postgres) `payoutd serve --role api`
and `--role worker` as two processes, as production runs them. The worker has fast intervals
(a pass every 0.25 s, a sandbox block every second, a 1 s batch window; 2 confirmations).
wrk creates exactly N payouts at 32 connections (each thread stops after its share of
2xx answers; many merchants, currencies and recipients as in the intake benchmark). Every
merchant has one webhook endpoint on a local receiver (bench/receiver.py), subscribed to
`payout.paid` and `payout.failed` by default (--e2e-events all: every event, five per
payout).

Reported, from the database's own timestamps: payouts accepted per second (first to
last created_at), payouts paid per second (first to last paid), how long after the last
acceptance the last payout was paid, webhook deliveries per second, the total time until
every payout was paid and every webhook delivered, the largest backlog seen and how it
grew over the steady part, and the peak resident memory (VmHWM) of each payoutd process.
`payoutd ledger check` must pass.

Then the same with a backlog (`_with_backlog`): 20,000 payouts queued by an API process
with no worker, then the run's server shape started while wrk sends 30,000 more; paid
against accepted over the span in which those were accepted. While the worker keeps up,
the main run's paid/s is its accepted/s (the worker can pay no faster than payouts
arrive), so that ratio lands either side of 1.0 by noise and cannot show the worker is
not the bottleneck; with work always waiting, paid ÷ accepted can.

    .venv/bin/python -m bench.run --only e2e [--e2e-payouts 100000]
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import common as c

WORKER_SETTINGS = {
    "worker_interval_seconds": "0.25",
    "sandbox_block_seconds": "1.0",
    "sandbox_batch_window_seconds": "1.0",
}
EVENTS_DEFAULT = ["payout.paid", "payout.failed"]


def _when(value: Any) -> float | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    dt = datetime.fromisoformat(
        text if ("+" in text[10:] or text.endswith("Z")) else text + "+00:00"
    )
    return dt.timestamp()


def run(
    quick: bool, *, payouts: int | None = None, db_kind: str = "sqlite", events: str = "paid"
) -> dict[str, Any]:
    n = payouts or (300 if quick else 100_000)
    subscribed = None if events == "all" else EVENTS_DEFAULT
    connections = 32
    timeout = 300 if quick else 4 * 3600
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(c.temp_dir("e2e"))
        receiver, rport = c.start_receiver("e2e-receiver")
        stack.callback(receiver.stop)
        url = None
        pg_db = None
        if db_kind == "postgres":
            pg_db = stack.enter_context(c.pg_database("e2e"))
            url = c.pg_url(pg_db)
        data = tmp / "data"
        merchants = c.seed(
            data_dir=data,
            database_url=url,
            merchants=16,
            endpoint_url=f"http://127.0.0.1:{rport}/hook",
            endpoint_events=subscribed,
        )
        targets = c.write_wrk_targets(tmp / "targets.txt", merchants)

        def one(sql: str) -> str:
            if pg_db:
                return c.psql(sql, pg_db)
            import sqlite3

            conn = sqlite3.connect(f"file:{data / 'payoutd.db'}?mode=ro", uri=True, timeout=30)
            try:
                row = conn.execute(sql).fetchone()
                return "" if row[0] is None else str(row[0])
            finally:
                conn.close()

        def count(sql: str) -> int:
            return int(one(sql) or 0)

        port = c.free_port()
        env = c.server_env(
            port, data_dir=data, database_url=url, webhook_allow_private="true", **WORKER_SETTINGS
        )
        together = url is None  # SQLite: one process, the default `payoutd serve`
        api = c.start_payoutd(
            "e2e-serve" if together else "e2e-api", "all" if together else "api", env
        )
        stack.callback(api.stop)
        worker = api if together else c.start_payoutd("e2e-worker", "worker", env)
        stack.callback(worker.stop)

        samples: list[dict[str, Any]] = []
        stop = threading.Event()
        started = time.time()

        def monitor() -> None:
            while not stop.is_set():
                with contextlib.suppress(Exception):
                    samples.append(
                        {
                            "t": round(time.time() - started, 2),
                            "accepted": count("SELECT count(*) FROM payouts"),
                            "paid": count("SELECT count(*) FROM payouts WHERE status = 'paid'"),
                            "webhooks": int(c.receiver_stats(rport)["unique"]),
                            "api_rss_kb": c.memory_kb(api.pid).get("VmRSS", 0),
                            "worker_rss_kb": c.memory_kb(worker.pid).get("VmRSS", 0),
                        }
                    )
                    api.sample_memory()
                    worker.sample_memory()
                stop.wait(1.0)

        watcher = threading.Thread(target=monitor, daemon=True)
        watcher.start()
        try:
            tag = f"e2e{uuid.uuid4().hex[:6]}"
            per_thread = math.ceil(n / 2)
            c.log(f"e2e: creating {n:,} payouts through the API ...")
            intake = c.run_wrk(
                f"http://127.0.0.1:{port}",
                connections=connections,
                duration=timeout,
                script=c.WRK_DIR / "payouts.lua",
                script_args=[str(targets), tag, str(per_thread)],
                stop_after=_every(
                    1.0, _done_or_stalled(lambda: count("SELECT count(*) FROM payouts"), n)
                ),
            )
            accepted_at = time.time()
            created = count("SELECT count(*) FROM payouts")
            c.log(
                f"e2e: {created:,} accepted in {accepted_at - started:.0f} s; "
                "waiting for payments and webhooks ..."
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                paid = count("SELECT count(*) FROM payouts WHERE status = 'paid'")
                final = count(
                    "SELECT count(*) FROM payouts WHERE status IN "
                    "('paid', 'failed', 'cancelled', 'expired', 'needs_review')"
                )
                undispatched = count("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL")
                pending = count("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
                if final >= created and undispatched == 0 and pending == 0:
                    break
                for p in (api, worker):
                    if p.proc is not None and p.proc.poll() is not None:
                        raise RuntimeError(f"{p.name} exited: {p.log_path.read_text()[-2000:]}")
                time.sleep(1.0)
            else:
                raise RuntimeError(f"e2e: not done after {timeout} s ({paid} of {created} paid)")
            finished = time.time()
            # the receiver may still be acknowledging the last attempt's answer
            time.sleep(0.5)
            received = c.receiver_stats(rport)
        finally:
            stop.set()
            watcher.join(timeout=5)
        api_rss, worker_rss = api.sample_memory(), worker.sample_memory()
        api.stop()
        worker.stop()  # the same process on SQLite: stopping twice is a no-op
        stats = {
            "created_first": _when(one("SELECT min(created_at) FROM payouts")),
            "created_last": _when(one("SELECT max(created_at) FROM payouts")),
            "paid_first": _when(one("SELECT min(updated_at) FROM payouts WHERE status='paid'")),
            "paid_last": _when(one("SELECT max(updated_at) FROM payouts WHERE status='paid'")),
            "hook_first": _when(one("SELECT min(delivered_at) FROM webhook_deliveries")),
            "hook_last": _when(one("SELECT max(delivered_at) FROM webhook_deliveries")),
        }
        # the steady part of the run: from the 10% to the 90% payout, accepted and paid
        # (the first-to-last rates also hold the pipeline's fill and drain: the first payout
        # is paid on an idle engine, the last one behind a loaded pipeline)
        low, high = int(0.1 * created), int(0.9 * created) - 1
        for name, sql in (
            ("created", "SELECT created_at FROM payouts ORDER BY created_at"),
            ("paid", "SELECT updated_at FROM payouts WHERE status = 'paid' ORDER BY updated_at"),
        ):
            for tag, k in (("p10", low), ("p90", high)):
                stats[f"{name}_{tag}"] = _when(one(f"{sql} LIMIT 1 OFFSET {k}"))
        steady_n = high - low
        statuses = {}
        for status in ("paid", "failed", "needs_review"):
            statuses[status] = count(f"SELECT count(*) FROM payouts WHERE status = '{status}'")
        deliveries = count("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
        failed_deliveries = count(
            "SELECT count(*) FROM webhook_deliveries WHERE status != 'delivered'"
        )
        batch_count = count("SELECT count(*) FROM batches")
        # after everything above is read: these payouts are not the run's
        try:
            with_backlog = _with_backlog(
                env,
                port,
                targets,
                count,
                one,
                together,
                backlog=min(n, BACKLOG_PAYOUTS),
                more=min(n, UNDER_LOAD_PAYOUTS),
                timeout=timeout,
            )
            with_backlog["quick"] = quick  # a span shorter than a few batch cycles
        except Exception as exc:  # the main run's results stand; the summary shows FAIL
            c.log(f"e2e: the run with a backlog failed: {exc}")
            with_backlog = {"error": str(exc)}
        check = c.cli_json(env, "ledger", "check")

    def span(a: str, b: str) -> float:
        return max(1e-6, (stats[b] or 0) - (stats[a] or 0))

    accepted_rate = (created - 1) / span("created_first", "created_last")
    paid_rate = (statuses["paid"] - 1) / span("paid_first", "paid_last")
    steady_accepted = steady_n / span("created_p10", "created_p90")
    steady_paid = steady_n / span("paid_p10", "paid_p90")
    hooks_rate = (deliveries - 1) / span("hook_first", "hook_last") if deliveries > 1 else 0.0
    backlog = max((s["accepted"] - s["paid"] for s in samples), default=0)
    growth = _backlog_growth(
        samples,
        (stats["created_p10"] or started) - started,
        (stats["created_p90"] or started) - started,
    )
    result = {
        "db": db_kind,
        "payouts": created,
        "requested": n,
        "connections": connections,
        "events_subscribed": subscribed or ["*"],
        "worker_settings": WORKER_SETTINGS,
        "intake": intake.as_dict(),
        "statuses": statuses,
        "batches": batch_count,
        "webhooks_delivered": deliveries,
        "webhooks_not_delivered": failed_deliveries,
        "receiver_unique": received["unique"],
        "receiver_posts": received["posts"],
        "total_s": round(finished - started, 1),
        "accept_s": round(span("created_first", "created_last"), 1),
        "accepted_per_s": round(accepted_rate, 1),
        "paid_per_s": round(paid_rate, 1),
        "paid_vs_accepted": round(paid_rate / accepted_rate, 3),
        "steady_accepted_per_s": round(steady_accepted, 1),
        "steady_paid_per_s": round(steady_paid, 1),
        "steady_paid_vs_accepted": round(steady_paid / steady_accepted, 3),
        "last_paid_after_last_accepted_s": round(span("created_last", "paid_last"), 1),
        "webhooks_per_s": round(hooks_rate, 1),
        "last_webhook_after_last_paid_s": round(span("paid_last", "hook_last"), 1),
        "max_backlog": backlog,
        "steady_backlog_growth_per_s": None if growth is None else round(growth, 2),
        "with_backlog": with_backlog,
        "peak_rss_mb": {
            "api": round(api_rss / 1024, 1),
            "worker": round(worker_rss / 1024, 1),
            "total": round((api_rss + (0 if together else worker_rss)) / 1024, 1),
            "one_process": together,
        },
        "ledger_check_ok": bool(check.get("ok")),
        "samples": samples,
    }
    c.log(
        f"e2e: {created:,} payouts in {result['total_s']} s; accepted {accepted_rate:,.0f}/s, "
        f"paid {paid_rate:,.0f}/s, webhooks {hooks_rate:,.0f}/s; peak RSS api "
        f"{result['peak_rss_mb']['api']} MB, worker {result['peak_rss_mb']['worker']} MB"
    )
    if not check.get("ok"):
        raise RuntimeError(f"ledger check failed after e2e: {check}")
    return result


BACKLOG_PAYOUTS = 20_000  # queued before the phase (quick runs: as many as the main run)
UNDER_LOAD_PAYOUTS = 30_000  # accepted during it


def _with_backlog(
    env: dict[str, str],
    port: int,
    targets: Path,
    count: Callable[[str], int],
    one: Callable[[str], str],
    together: bool,
    *,
    backlog: int,
    more: int,
    timeout: float,
) -> dict[str, Any]:
    """Paid against accepted while both run, with the worker never short of work: `backlog`
    payouts are queued by an API process with no worker, then the run's server shape
    starts while wrk sends `more` at 32 connections. Counted from the first payment of
    the phase to the last acceptance: how many of those were accepted, and how many
    payouts of either kind reached `paid`. `backlog_left` says how many of the queued
    ones were still unpaid at the end: when none, the worker ran out of waiting work
    within the span and the ratio understates what it had to spare.

    In the main run the worker can pay no faster than payouts arrive, so while it keeps
    up paid/s and accepted/s are the same rate and their ratio falls either side of 1.0
    by noise. Here arrivals do not limit it: paid ÷ accepted is above 1.0 by the capacity
    the worker has to spare (while the backlog lasts), and below it when the worker is
    the bottleneck. Both share the machine (on SQLite the process) as in the main run."""
    tag, extra = f"bkl{uuid.uuid4().hex[:6]}", f"ldx{uuid.uuid4().hex[:6]}"

    def of(t: str) -> str:
        return f"order_id LIKE '{t}-%'"

    def send(t: str, k: int) -> None:
        c.run_wrk(
            f"http://127.0.0.1:{port}",
            connections=32,
            duration=timeout,
            script=c.WRK_DIR / "payouts.lua",
            script_args=[str(targets), t, str(math.ceil(k / 2))],
            stop_after=_every(
                1.0,
                _done_or_stalled(lambda: count(f"SELECT count(*) FROM payouts WHERE {of(t)}"), k),
            ),
        )

    api = c.start_payoutd("e2e-backlog-api", "api", env)
    try:
        c.log(f"e2e: queueing {backlog:,} payouts with no worker running ...")
        send(tag, backlog)
    finally:
        api.stop()
    queued = count(f"SELECT count(*) FROM payouts WHERE {of(tag)}")
    server = c.start_payoutd("e2e-under-load", "all" if together else "api", env)
    worker = server if together else c.start_payoutd("e2e-under-load-worker", "worker", env)
    try:
        c.log(f"e2e: {queued:,} queued; the worker starts while {more:,} more are sent ...")
        send(extra, more)
        # From the first payment of this phase (the server's start-up and the first
        # batch's whole cycle lie before it, and that first batch's payouts, paid at that
        # instant, count as work done before it) to the last acceptance.
        start = (
            f"(SELECT min(updated_at) FROM payouts WHERE status = 'paid' "
            f"AND ({of(tag)} OR {of(extra)}))"
        )
        end = f"(SELECT max(created_at) FROM payouts WHERE {of(extra)})"
        accepted = count(
            f"SELECT count(*) FROM payouts WHERE {of(extra)} "
            f"AND created_at > {start} AND created_at <= {end}"
        )
        paid = count(
            f"SELECT count(*) FROM payouts WHERE status = 'paid' "
            f"AND updated_at > {start} AND updated_at <= {end}"
        )
        left = count(f"SELECT count(*) FROM payouts WHERE {of(tag)} AND status != 'paid'")
        began, ended = _when(one(f"SELECT {start}")), _when(one(f"SELECT {end}"))
        seconds = (ended or 0.0) - (began or 0.0)
    finally:
        worker.stop()
        server.stop()
    ratio = paid / accepted if accepted else 0.0
    c.log(
        f"e2e: with a backlog of {queued:,}: {accepted:,} accepted and {paid:,} paid in "
        f"{seconds:.1f} s (paid ÷ accepted {ratio:.3f}); {left:,} of the backlog unpaid "
        "when the last was accepted"
    )
    return {
        "backlog": queued,
        "accepted": accepted,
        "paid": paid,
        "seconds": round(seconds, 1),
        "accepted_per_s": round(accepted / seconds, 1) if seconds > 0 else 0.0,
        "paid_per_s": round(paid / seconds, 1) if seconds > 0 else 0.0,
        "paid_vs_accepted": round(ratio, 3),
        "backlog_left": left,
    }


def _backlog_growth(samples: list[dict[str, Any]], t0: float, t1: float) -> float | None:
    """Least-squares slope of the backlog (accepted, not yet paid) over [t0, t1], in payouts
    per second: about 0 when the worker keeps up (the backlog rises and falls with each
    batch), the difference of the two rates when it does not."""
    points = [(s["t"], s["accepted"] - s["paid"]) for s in samples if t0 <= s["t"] <= t1]
    if len(points) < 3:
        return None
    mt = sum(t for t, _ in points) / len(points)
    mb = sum(b for _, b in points) / len(points)
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (b - mb) for t, b in points) / var if var else None


def _done_or_stalled(
    counter: Callable[[], int], target: int, stall: float = 30.0
) -> Callable[[], bool]:
    """True once `counter()` reaches `target`, or has not moved for `stall` seconds (the
    requests that are left were refused: wrk counts them)."""
    seen = [-1, time.monotonic()]

    def check() -> bool:
        value = counter()
        if value >= target:
            return True
        if value != seen[0]:
            seen[0], seen[1] = value, time.monotonic()
        return time.monotonic() - seen[1] > stall

    return check


def _every(seconds: float, check: Callable[[], bool]) -> Callable[[], bool]:
    last = [0.0]

    def poll() -> bool:
        now = time.monotonic()
        if now - last[0] < seconds:
            return False
        last[0] = now
        return check()

    return poll


def table(res: dict[str, Any]) -> str:
    rss = res["peak_rss_mb"]
    rows = [
        ["payouts created (wrk, 32 connections)", f"{res['payouts']:,}"],
        ["database", res["db"]],
        [
            "paid / failed / needs_review",
            f"{res['statuses']['paid']:,} / "
            f"{res['statuses']['failed']:,} / {res['statuses']['needs_review']:,}",
        ],
        ["batches", f"{res['batches']:,}"],
        [
            "total time (first request → last payout paid and last webhook delivered)",
            f"{res['total_s']:,.1f} s",
        ],
        ["accepted per second", f"{res['accepted_per_s']:,.1f}"],
        ["paid per second", f"{res['paid_per_s']:,.1f}"],
        ["paid ÷ accepted (first to last)", f"{res['paid_vs_accepted']:.3f}"],
        [
            "steady part, the 10% to the 90% payout: accepted / paid per second",
            f"{res.get('steady_accepted_per_s', 0):,.1f} / {res.get('steady_paid_per_s', 0):,.1f}",
        ],
        ["steady part: paid ÷ accepted", f"{res.get('steady_paid_vs_accepted', 0):.3f}"],
        ["last paid after last accepted", f"{res['last_paid_after_last_accepted_s']:,.1f} s"],
        ["largest backlog (accepted, not yet paid)", f"{res['max_backlog']:,}"],
        [
            "steady part: the backlog's growth (least squares)",
            "-"
            if res.get("steady_backlog_growth_per_s") is None
            else f"{res['steady_backlog_growth_per_s']:+,.2f} payouts/s",
        ],
        *(
            [
                [
                    f"with a backlog of {res['with_backlog']['backlog']:,} queued first: "
                    "accepted / paid per second while both run",
                    f"{res['with_backlog']['accepted_per_s']:,.1f} / "
                    f"{res['with_backlog']['paid_per_s']:,.1f}",
                ],
                [
                    "with a backlog: paid ÷ accepted",
                    f"{res['with_backlog']['paid_vs_accepted']:.3f}",
                ],
                [
                    "with a backlog: queued payouts still unpaid at the last acceptance",
                    f"{res['with_backlog']['backlog_left']:,}",
                ],
            ]
            if "paid_vs_accepted" in res.get("with_backlog", {})
            else []
        ),
        [
            f"webhooks delivered ({', '.join(res['events_subscribed'])})",
            f"{res['webhooks_delivered']:,} (receiver saw {res['receiver_unique']:,})",
        ],
        ["webhook deliveries per second", f"{res['webhooks_per_s']:,.1f}"],
        ["last webhook after last paid", f"{res['last_webhook_after_last_paid_s']:,.1f} s"],
        [
            "peak RSS: one process (API and worker)"
            if rss.get("one_process")
            else "peak RSS: api / worker",
            f"{rss['api']:,.0f} MB"
            if rss.get("one_process")
            else f"{rss['api']:,.0f} MB / {rss['worker']:,.0f} MB",
        ],
        ["ledger check", "clean" if res["ledger_check_ok"] else "NOT CLEAN"],
    ]
    return c.md_table(["", "value"], rows, align="lr")


if __name__ == "__main__":
    c.quiet_logging()
    out = run("--quick" in sys.argv)
    print(table(out))
    Path(c.OUT).mkdir(parents=True, exist_ok=True)
    print(json.dumps({k: v for k, v in out.items() if k != "samples"}))
