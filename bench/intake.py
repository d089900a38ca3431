"""Payout intake: POST /v1/payouts under wrk, against references measured in the same run.

Every payout is auto-approved, in crypto, paid from the merchant's own balance in that
currency, with a unique order_id; requests rotate over many merchants' API keys and
over currencies, networks and recipients (bench/wrk/payouts.lua).

* intake_pg: `payoutd serve --role api` on a fresh PostgreSQL database, next to
  `pgbench -b tpcb-like` on a database of its own on the same server, at the same client
  counts. A TPC-B transaction (three UPDATEs, a SELECT and an INSERT, committed) is about
  the work of accepting one payout, so pgbench's tps is the database's own ceiling.
* intake_sqlite: the same load against the default configuration (SQLite in a data dir,
  WAL, synchronous=NORMAL), next to (a) the HTTP stack's ceiling: the same application and
  server answering GET /v1/ping, which touches no database, and (b) a plain
  Python sqlite3 loop committing one balance UPDATE and one INSERT per transaction with
  payoutd's journal and sync settings.

The HTTP ceiling is measured once per `bench.run` and serves both benchmarks.

    .venv/bin/python -m bench.run --only intake_sqlite
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common as c


@dataclass(frozen=True)
class Plan:
    connections: tuple[int, ...]
    duration: float  # seconds of each measured wrk / pgbench run
    warmup: float  # seconds of load before the first measurement of each server
    merchants: int
    pgbench_scale: int

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            # BENCH_SECONDS lengthens a quick run's measurements (e.g. to profile a change)
            seconds = float(os.environ.get("BENCH_SECONDS", "2"))
            return cls(
                connections=(8, 32),
                duration=seconds,
                warmup=max(1.0, seconds / 2),
                merchants=8,
                pgbench_scale=4,
            )
        return cls(connections=(8, 32, 128), duration=20, warmup=3, merchants=64, pgbench_scale=128)


PG_API_PROCESSES = int(os.environ.get("BENCH_PG_PROCESSES", 0)) or os.cpu_count() or 1


def _base(port: int) -> str:
    return f"http://127.0.0.1:{port}"


# -- the HTTP ceiling ---------------------------------------------------------------------


def measure_ceiling(plan: Plan, *, minimal: bool = True) -> dict[str, Any]:
    """GET /v1/ping on `payoutd serve --role api` (the intake's own application and
    server, answering without touching the database) and, for context, on a bare FastAPI
    app on the same uvicorn settings (bench/ceiling_app.py), at every connection count."""
    results: dict[str, Any] = {"endpoint": "GET /v1/ping", "payoutd_app": {}, "bare_fastapi": {}}
    modes = ["payoutd"] + (["minimal"] if minimal else [])
    with c.temp_dir("ceiling") as tmp:
        for mode in modes:
            port = c.free_port()
            if mode == "payoutd":
                proc = c.start_payoutd(
                    "ceiling-payoutd", "api", c.server_env(port, data_dir=tmp / mode)
                )
            else:
                proc = c.Proc(
                    "ceiling-minimal",
                    [sys.executable, "-m", "bench.ceiling_app", "--port", str(port)],
                    c.server_env(port, data_dir=tmp / mode),
                    c.LOGS / "ceiling-minimal.log",
                ).start()
            try:
                url = f"{_base(port)}/v1/ping"
                c.wait_http(url, proc=proc.proc, log_path=proc.log_path)
                c.run_wrk(url, connections=plan.connections[0], duration=plan.warmup)
                key = "payoutd_app" if mode == "payoutd" else "bare_fastapi"
                for conns in plan.connections:
                    r = c.run_wrk(
                        url, connections=conns, duration=plan.duration, server_pid=proc.pid
                    )
                    c.log(f"ceiling {mode} c={conns}: {r.rps:,.0f} req/s p99 {r.p99_ms:.1f} ms")
                    results[key][str(conns)] = r.as_dict()
                results[f"{key}_peak_rss_kb"] = proc.sample_memory()
            finally:
                proc.stop()
    return results


# -- payoutd under wrk --------------------------------------------------------------------


def warm_up(port: int, targets: Path, plan: Plan, server_pid: int | None = None) -> None:
    c.run_wrk(
        _base(port),
        connections=plan.connections[0],
        duration=plan.warmup,
        script=c.WRK_DIR / "payouts.lua",
        script_args=[str(targets), f"warm{uuid.uuid4().hex[:6]}"],
    )


def drive_once(
    port: int,
    targets: Path,
    plan: Plan,
    conns: int,
    label: str,
    count_created: Any,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """One wrk run. `count_created(tag)` counts the payouts the database holds for the run's
    tag: the check that the answers were real payouts."""
    tag = f"r{conns}x{uuid.uuid4().hex[:6]}"
    r = c.run_wrk(
        _base(port),
        connections=conns,
        duration=plan.duration,
        script=c.WRK_DIR / "payouts.lua",
        script_args=[str(targets), tag],
        server_pid=server_pid,
    )
    row = r.as_dict()
    row["created"] = count_created(tag)
    c.log(
        f"{label} c={conns}: {r.rps:,.0f} req/s p50 {r.p50_ms:.1f} ms "
        f"p99 {r.p99_ms:.1f} ms, {row['created']} created, errors {r.errors}, "
        f"{row['cpu_ms_per_request']} ms CPU/request"
    )
    return row


def drive_payouts(
    port: int,
    targets: Path,
    plan: Plan,
    label: str,
    count_created: Any,
    server_pid: int | None = None,
) -> dict[str, dict[str, Any]]:
    warm_up(port, targets, plan)
    return {
        str(conns): drive_once(port, targets, plan, conns, label, count_created, server_pid)
        for conns in plan.connections
    }


# -- the sqlite3 reference ----------------------------------------------------------------


def sqlite3_reference(path: Path, duration: float, accounts: int = 384) -> dict[str, Any]:
    """One balance UPDATE and one INSERT per committed transaction, in a plain loop, with
    payoutd's settings (WAL, synchronous=NORMAL, foreign keys on, BEGIN IMMEDIATE)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
        ):
            conn.execute(f"PRAGMA {pragma}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = conn.execute("PRAGMA synchronous").fetchone()[0]
        conn.execute(
            "CREATE TABLE accounts (id TEXT PRIMARY KEY, balance TEXT NOT NULL, held TEXT NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE payouts (id TEXT PRIMARY KEY, account_id TEXT NOT NULL "
            "REFERENCES accounts(id), order_id TEXT NOT NULL, amount TEXT NOT NULL, "
            "status TEXT NOT NULL, created_at TEXT NOT NULL, "
            "UNIQUE (account_id, order_id))"
        )
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO accounts VALUES (?, '1000000000', '0')",
            [(f"merchant:{i}:BTC",) for i in range(accounts)],
        )
        conn.execute("COMMIT")
        held = [0] * accounts
        n = 0
        started = time.perf_counter()
        deadline = started + duration
        now = time.perf_counter
        while True:
            for _ in range(50):
                a = n % accounts
                held[a] += 1
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "UPDATE accounts SET held = ? WHERE id = ?",
                    (f"{held[a] / 1000:.3f}", f"merchant:{a}:BTC"),
                )
                conn.execute(
                    "INSERT INTO payouts VALUES (?, ?, ?, '0.001', 'queued', ?)",
                    (
                        f"{n:012d}-{uuid.uuid4().hex[:12]}",
                        f"merchant:{a}:BTC",
                        f"order-{n}",
                        "2025-01-01 00:00:00",
                    ),
                )
                conn.execute("COMMIT")
                n += 1
            if now() >= deadline:
                break
        elapsed = time.perf_counter() - started
        return {
            "transactions": n,
            "duration_s": round(elapsed, 3),
            "tps": round(n / elapsed, 1),
            "mean_ms": round(elapsed / n * 1000, 4),
            "journal_mode": mode,
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync, sync),
        }
    finally:
        conn.close()


def payoutd_sqlite_pragmas(db: Path) -> dict[str, Any]:
    """What a payoutd connection runs with, read back from a live connection made the way
    payoutd makes them (its engine and its connect hook), so the comparison is honest."""
    import asyncio

    from sqlalchemy import text

    from payoutd.bootstrap import build_database
    from payoutd.config import Settings

    async def read() -> dict[str, Any]:
        database = build_database(Settings(data_dir=db.parent))
        try:
            async with database.engine.connect() as conn:
                mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
                sync = (await conn.execute(text("PRAGMA synchronous"))).scalar()
            levels: dict[Any, str] = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            return {"journal_mode": mode, "synchronous": levels.get(sync, sync)}
        finally:
            await database.dispose()

    return asyncio.run(read())


# -- pgbench ------------------------------------------------------------------------------


def pgbench_init(db: str, scale: int) -> float:
    started = time.monotonic()
    done = subprocess.run(
        ["pgbench", "-i", "-q", "-I", "dtGvp", "-s", str(scale), db],
        env=c.pg_env(),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench -i failed: {done.stderr[-2000:]}")
    return time.monotonic() - started


def settle_disk() -> None:
    """A CHECKPOINT, then the kernel's dirty pages written out: before each measured run
    (and after `pgbench -i`, about 2 GB at scale 128), so that no run pays for the one
    before it. A checkpoint that one run's WAL requested is spread over the next run and
    ends with an fsync; TPC-B's random updates on a 2 GB table write a full page image
    per first touch of a page after a checkpoint (about 1 GB of WAL in 20 s here), so
    pgbench's runs left their checkpoints to payoutd's next run, and the initialisation
    left its own to payoutd's first: p99 140 ms at 8 connections where quick runs, at
    scale 4, had 31 ms."""
    c.psql("CHECKPOINT")
    os.sync()


def pgbench_run(db: str, clients: int, duration: float) -> dict[str, Any]:
    jobs = max(1, min(2, clients))
    argv = [
        "pgbench",
        "-b",
        "tpcb-like",
        "-c",
        str(clients),
        "-j",
        str(jobs),
        "-T",
        str(max(1, round(duration))),
        "-n",
        "-r",
        db,
    ]
    done = subprocess.run(
        argv, env=c.pg_env(), capture_output=True, text=True, timeout=duration + 600
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr[-2000:]}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    txs = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    if tps is None:
        raise RuntimeError(f"could not read pgbench's tps:\n{done.stdout}")
    return {
        "clients": clients,
        "tps": float(tps.group(1)),
        "latency_avg_ms": float(lat.group(1)) if lat else None,
        "transactions": int(txs.group(1)) if txs else None,
        "command": " ".join(argv),
    }


# -- the benchmarks -----------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def run_sqlite(quick: bool, ceiling: dict[str, Any]) -> dict[str, Any]:
    plan = Plan.make(quick)
    with c.temp_dir("intake-sqlite") as tmp:
        data = tmp / "data"
        merchants = c.seed(data_dir=data, merchants=plan.merchants)
        targets = c.write_wrk_targets(tmp / "targets.txt", merchants)
        db = data / "payoutd.db"
        pragmas = payoutd_sqlite_pragmas(db)
        port = c.free_port()
        api = c.start_payoutd("intake-sqlite-api", "api", c.server_env(port, data_dir=data))
        try:
            runs = drive_payouts(
                port,
                targets,
                plan,
                "sqlite intake",
                lambda tag: c.sqlite_count(
                    db, f"SELECT count(*) FROM payouts WHERE order_id LIKE '{tag}-%'"
                ),
                api.pid,
            )
            rss = api.sample_memory()
        finally:
            api.stop()
        ref = sqlite3_reference(tmp / "reference.db", plan.duration)
        c.log(
            f"sqlite3 loop: {ref['tps']:,.0f} tx/s ({ref['journal_mode']}, "
            f"synchronous={ref['synchronous']})"
        )
    rows = []
    for conns, run in runs.items():
        ceil = ceiling["payoutd_app"].get(conns, {}).get("rps")
        rows.append(
            {
                "connections": int(conns),
                "payoutd": run,
                "ceiling_rps": ceil,
                "bare_fastapi_rps": ceiling["bare_fastapi"].get(conns, {}).get("rps"),
                "ratio_http_ceiling": _ratio(run["rps"], ceil),
                "ratio_sqlite3_loop": _ratio(run["rps"], ref["tps"]),
            }
        )
    return {
        "plan": plan.__dict__,
        "merchants": plan.merchants,
        "currencies": list(c.CURRENCIES),
        "payoutd_sqlite": pragmas,
        "sqlite3_loop": ref,
        "rows": rows,
        "api_peak_rss_kb": rss,
    }


def run_pg(quick: bool, ceiling: dict[str, Any]) -> dict[str, Any]:
    plan = Plan.make(quick)
    if not c.pg_available():
        raise RuntimeError(f"PostgreSQL does not answer on {c.PG_HOST}:{c.PG_PORT}")
    settings = {
        k: c.psql(f"SHOW {k}")
        for k in (
            "server_version",
            "max_connections",
            "shared_buffers",
            "synchronous_commit",
            "fsync",
            "wal_level",
        )
    }
    with c.pg_database("intake") as app_db, c.pg_database("pgbench") as bench_db:
        url = c.pg_url(app_db)
        merchants = c.seed(database_url=url, merchants=plan.merchants)
        with c.temp_dir("intake-pg") as tmp:
            targets = c.write_wrk_targets(tmp / "targets.txt", merchants)
            c.log(f"pgbench -i -s {plan.pgbench_scale} ...")
            init_s = pgbench_init(bench_db, plan.pgbench_scale)
            c.log(f"pgbench -i took {init_s:.0f} s")
            settle_disk()
            port = c.free_port()
            env = c.server_env(port, data_dir=tmp / "data", database_url=url)
            # one API process per core: on PostgreSQL the processes share the database
            env["PAYOUTD_API_PROCESSES"] = str(PG_API_PROCESSES)
            api = c.start_payoutd("intake-pg-api", "api", env)
            try:

                def created(tag: str) -> int:
                    return int(
                        c.psql(
                            f"SELECT count(*) FROM payouts WHERE order_id LIKE '{tag}-%'", app_db
                        )
                    )

                # payoutd and pgbench back to back at each client count; payoutd stays up
                # (idle, holding its pooled connections) while pgbench runs
                warm_up(port, targets, plan)
                runs: dict[str, Any] = {}
                pgb: dict[str, Any] = {}
                for conns in plan.connections:
                    settle_disk()
                    runs[str(conns)] = drive_once(
                        port, targets, plan, conns, "pg intake", created, api.pid
                    )
                    free = c.pg_free_connections() - 5
                    clients = max(1, min(conns, free))
                    settle_disk()
                    r = pgbench_run(bench_db, clients, plan.duration)
                    r["requested_clients"] = conns
                    r["capped_by_max_connections"] = clients < conns
                    c.log(f"pgbench c={clients}: {r['tps']:,.0f} tps")
                    pgb[str(conns)] = r
                rss = api.sample_memory()
            finally:
                api.stop()
    rows = []
    for key, run in runs.items():
        ref = pgb[key]
        ceil = ceiling["payoutd_app"].get(key, {}).get("rps")
        rows.append(
            {
                "connections": int(key),
                "payoutd": run,
                "pgbench": ref,
                "ceiling_rps": ceil,
                "ratio_pgbench": _ratio(run["rps"], ref["tps"]),
                "ratio_http_ceiling": _ratio(run["rps"], ceil),
            }
        )
    return {
        "plan": plan.__dict__,
        "merchants": plan.merchants,
        "currencies": list(c.CURRENCIES),
        "postgres": settings,
        "pgbench_scale": plan.pgbench_scale,
        "pgbench_init_s": round(init_s, 1),
        "rows": rows,
        "api_peak_rss_kb": rss,
    }


def ceiling_table(ceiling: dict[str, Any]) -> str:
    rows = []
    for conns, r in ceiling["payoutd_app"].items():
        bare = ceiling["bare_fastapi"].get(conns, {})
        rows.append(
            [
                conns,
                c.fmt_num(r["rps"]),
                f"{r['p50_ms']:.2f}",
                f"{r['p99_ms']:.2f}",
                _cpu(r),
                c.fmt_num(bare.get("rps")),
                _cpu(bare),
            ]
        )
    return c.md_table(
        [
            "connections",
            "payoutd app, GET /v1/ping (req/s)",
            "p50 (ms)",
            "p99 (ms)",
            "server CPU ms/request",
            "bare FastAPI, same server (req/s)",
            "its CPU ms/request",
        ],
        rows,
    )


def sqlite_table(res: dict[str, Any]) -> str:
    ref = res["sqlite3_loop"]
    rows = []
    for row in res["rows"]:
        p = row["payoutd"]
        rows.append(
            [
                row["connections"],
                c.fmt_num(p["rps"]),
                f"{p['p50_ms']:.1f}",
                f"{p['p99_ms']:.1f}",
                _cpu(p),
                c.fmt_num(p["created"]),
                _errors(p),
                c.fmt_num(row["ceiling_rps"]),
                _fmt_ratio(row["ratio_http_ceiling"]),
                c.fmt_num(ref["tps"]),
                _fmt_ratio(row["ratio_sqlite3_loop"], 4),
            ]
        )
    return c.md_table(
        [
            "connections",
            "payoutd req/s",
            "p50 ms",
            "p99 ms",
            "CPU ms/request",
            "created",
            "errors",
            "HTTP ceiling req/s",
            "÷ ceiling",
            "sqlite3 loop tx/s",
            "÷ sqlite3 loop",
        ],
        rows,
    )


def pg_table(res: dict[str, Any]) -> str:
    rows = []
    for row in res["rows"]:
        p, g = row["payoutd"], row["pgbench"]
        clients = f"{g['clients']}" + (" (capped)" if g["capped_by_max_connections"] else "")
        rows.append(
            [
                row["connections"],
                c.fmt_num(p["rps"]),
                f"{p['p50_ms']:.1f}",
                f"{p['p99_ms']:.1f}",
                _cpu(p),
                c.fmt_num(p["created"]),
                _errors(p),
                clients,
                c.fmt_num(g["tps"]),
                _fmt_ratio(row["ratio_pgbench"]),
                c.fmt_num(row["ceiling_rps"]),
                _fmt_ratio(row["ratio_http_ceiling"]),
            ]
        )
    return c.md_table(
        [
            "connections",
            "payoutd req/s",
            "p50 ms",
            "p99 ms",
            "CPU ms/request",
            "created",
            "errors",
            "pgbench clients",
            "pgbench tps",
            "÷ pgbench",
            "HTTP ceiling req/s",
            "÷ ceiling",
        ],
        rows,
    )


def _cpu(r: dict[str, Any]) -> str:
    value = r.get("cpu_ms_per_request")
    return "-" if value is None else f"{value:.2f}"


def _errors(p: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in p["errors"].items()) or "0"


def _fmt_ratio(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        quick = "--quick" in sys.argv
        ceil = measure_ceiling(Plan.make(quick))
        print(ceiling_table(ceil))
        print(sqlite_table(run_sqlite(quick, ceil)))
