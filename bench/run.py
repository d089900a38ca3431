"""Runs payoutd's benchmarks, prints one markdown table per benchmark and a summary of the
must-show ratios (PASS/FAIL against their thresholds), writes results.json and
throughput.png (throughput against concurrency for payoutd and its references) and, after
a full run, the "Last results" section of bench/README.md.

    .venv/bin/python -m bench.run [--quick] [--only intake_pg,intake_sqlite,imports,compat,growth,
                                  e2e,webhooks,batching] [--out DIR] [--strict]

--quick runs everything tiny (seconds per benchmark, a few minutes in all) and writes to
bench/out/quick/ unless --out says otherwise; it never touches README.md. The exit status is
1 when a benchmark could not run, and with --strict also when a threshold is missed.
See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common as c

ALL = (
    "batching",
    "intake_sqlite",
    "intake_pg",
    "imports",
    "compat",
    "webhooks",
    "growth",
    "e2e",
)
README = c.BENCH / "README.md"
START, END = "<!-- bench:last-results:start -->", "<!-- bench:last-results:end -->"

THRESHOLDS = {
    "intake_pg_ratio": 0.75,
    "intake_pg_p99_ms": 50.0,
    "intake_sqlite_ratio": 0.5,
    "imports_ratio": 0.5,
    "compat_cpu_ratio": 1.25,
    "growth_ratio": 1.25,
    "e2e_paid_vs_accepted": 1.0,
    "e2e_rss_mb": 300.0,
}


# -- the benchmarks -----------------------------------------------------------------------


def run_batching(quick: bool) -> dict[str, Any]:
    from bench import batching

    sizes = (10, 100) if quick else batching.SIZES
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            import asyncio

            fee, unbatched = asyncio.run(batching.engine_batch(n, Path(tmp)))
        batched_vb, single_vb = batching.vsize(n), batching.vsize(1) * n
        rows.append(
            {
                "payouts": n,
                "batch_fee": str(fee),
                "unbatched_fee": str(unbatched),
                "saved": float(1 - fee / unbatched),
                "vsize_batched": int(batched_vb),
                "vsize_single": int(single_vb),
                "physical_limit": float(1 - batched_vb / single_vb),
                "ratio_to_limit": float((1 - fee / unbatched) / (1 - batched_vb / single_vb)),
            }
        )
    return {"rows": rows}


def batching_table(res: dict[str, Any]) -> str:
    rows = [
        [
            r["payouts"],
            r["batch_fee"],
            r["unbatched_fee"],
            f"{r['saved'] * 100:.1f}%",
            f"{r['vsize_batched']:,}",
            f"{r['vsize_single']:,}",
            f"{r['physical_limit'] * 100:.1f}%",
            f"{r['ratio_to_limit']:.3f}",
        ]
        for r in res["rows"]
    ]
    return c.md_table(
        [
            "payouts",
            "payoutd batch fee (BTC)",
            "one by one (BTC)",
            "payoutd saves",
            "1 tx of n outputs (vB)",
            "n txs of 1 output (vB)",
            "physical limit",
            "÷ limit",
        ],
        rows,
    )


# -- summary ------------------------------------------------------------------------------


def _check(
    name: str, value: float | None, ok: bool | None, shown: str, threshold: str
) -> dict[str, Any]:
    return {
        "check": name,
        "value": value,
        "shown": shown,
        "threshold": threshold,
        "result": "-" if ok is None else ("PASS" if ok else "FAIL"),
    }


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    t = THRESHOLDS
    checks: list[dict[str, Any]] = []
    pg = results.get("intake_pg")
    if pg and "rows" in pg:
        row = _row_at(pg["rows"], 32)
        if row:
            ratio, p99 = row["ratio_pgbench"], row["payoutd"]["p99_ms"]
            checks.append(
                _check(
                    "PostgreSQL intake ÷ pgbench TPC-B tps, 32 connections",
                    ratio,
                    ratio is not None and ratio >= t["intake_pg_ratio"],
                    f"{ratio:.3f}" if ratio is not None else "-",
                    f"≥ {t['intake_pg_ratio']}",
                )
            )
            checks.append(
                _check(
                    "PostgreSQL intake p99 at 32 connections (ms)",
                    p99,
                    p99 < t["intake_pg_p99_ms"],
                    f"{p99:.1f}",
                    f"< {t['intake_pg_p99_ms']:.0f}",
                )
            )
            ceil = row["ratio_http_ceiling"]
            checks.append(
                _check(
                    "PostgreSQL intake ÷ HTTP ceiling, 32 connections",
                    ceil,
                    None,
                    f"{ceil:.3f}" if ceil is not None else "-",
                    "(reported)",
                )
            )
    elif pg:
        checks.append(_check("PostgreSQL intake", None, False, "error", pg.get("error", "")))
    sq = results.get("intake_sqlite")
    if sq and "rows" in sq:
        row = _row_at(sq["rows"], 32)
        if row:
            ratio = row["ratio_http_ceiling"]
            checks.append(
                _check(
                    "SQLite intake ÷ HTTP ceiling, 32 connections",
                    ratio,
                    ratio is not None and ratio >= t["intake_sqlite_ratio"],
                    f"{ratio:.3f}" if ratio is not None else "-",
                    f"≥ {t['intake_sqlite_ratio']}",
                )
            )
            ref = row["ratio_sqlite3_loop"]
            checks.append(
                _check(
                    "SQLite intake ÷ plain sqlite3 loop, 32 connections",
                    ref,
                    None,
                    f"{ref:.4f}" if ref is not None else "-",
                    "(reported)",
                )
            )
        prag = sq["payoutd_sqlite"]
        durable = str(prag["journal_mode"]).lower() == "wal" and prag["synchronous"] in (
            "NORMAL",
            "FULL",
            "EXTRA",
        )
        checks.append(
            _check(
                "SQLite durability (payoutd's connections)",
                None,
                durable,
                f"journal_mode={prag['journal_mode']}, synchronous={prag['synchronous']}",
                "≥ WAL + NORMAL",
            )
        )
    elif sq:
        checks.append(_check("SQLite intake", None, False, "error", sq.get("error", "")))
    checks += imports_checks(results.get("imports"))
    checks += compat_checks(results.get("compat"))
    gr = results.get("growth")
    if gr and "ratios" in gr:
        stored = gr["grown"]["stored_payouts"]
        for key, label in (
            ("intake_p50", "intake p50"),
            ("list_p50", "list p50 (?status=paid)"),
            ("list_currency_p50", "list p50 (?status=paid&currency=BTC)"),
        ):
            value = gr["ratios"][key]
            checks.append(
                _check(
                    f"Growth ({gr['db']}): {label}, {stored:,} stored ÷ "
                    f"{gr['small']['stored_payouts']:,}",
                    value,
                    value <= t["growth_ratio"],
                    f"{value:.2f}",
                    f"≤ {t['growth_ratio']}",
                )
            )
    elif gr:
        checks.append(_check("Growth", None, False, "error", gr.get("error", "")))
    e2e = results.get("e2e")
    if e2e and "paid_vs_accepted" in e2e:
        if "error" in e2e.get("with_backlog", {}):
            checks.append(
                _check(
                    "End to end: paid/s ÷ accepted/s with a backlog",
                    None,
                    False,
                    "error",
                    e2e["with_backlog"]["error"],
                )
            )
        elif "with_backlog" in e2e:
            b = e2e["with_backlog"]
            v = b["paid_vs_accepted"]
            # (quick runs span too few batch cycles for a verdict: reported only)
            checks.append(
                _check(
                    f"End to end ({e2e['payouts']:,} payouts): paid/s ÷ accepted/s while both run, "
                    f"with a backlog of {b['backlog']:,} queued first",
                    v,
                    None if b.get("quick") else v >= t["e2e_paid_vs_accepted"],
                    f"{v:.3f} ({b['paid_per_s']:,.1f} vs {b['accepted_per_s']:,.1f}/s over "
                    f"{b['seconds']:.0f} s; {b['backlog_left']:,} of the backlog left)",
                    "(reported)" if b.get("quick") else f"≥ {t['e2e_paid_vs_accepted']:.1f}",
                )
            )
        if "steady_paid_vs_accepted" in e2e:
            v = e2e["steady_paid_vs_accepted"]
            growth = e2e.get("steady_backlog_growth_per_s")
            checks.append(
                _check(
                    "End to end: paid/s ÷ accepted/s while both run, steady part (10% to 90% "
                    "of payouts)",
                    v,
                    None if "with_backlog" in e2e else v >= t["e2e_paid_vs_accepted"],
                    f"{v:.3f} ({e2e['steady_paid_per_s']:,.1f} vs "
                    f"{e2e['steady_accepted_per_s']:,.1f}/s"
                    + ("" if growth is None else f"; backlog growth {growth:+.2f}/s")
                    + ")",
                    "(reported)" if "with_backlog" in e2e else f"≥ {t['e2e_paid_vs_accepted']:.1f}",
                )
            )
        v = e2e["paid_vs_accepted"]
        checks.append(
            _check(
                "End to end: paid/s ÷ accepted/s, first to last (with the pipeline's fill and "
                "drain)",
                v,
                None,
                f"{v:.3f} ({e2e['paid_per_s']:,.1f} vs "
                f"{e2e['accepted_per_s']:,.1f}/s; last paid "
                f"{e2e['last_paid_after_last_accepted_s']} s after last accepted)",
                "(reported)",
            )
        )
        rss = e2e["peak_rss_mb"]
        checks.append(
            _check(
                "End to end: peak RSS of payoutd's processes (MB)",
                rss["total"],
                rss["total"] < t["e2e_rss_mb"],
                f"{rss['total']:.0f} (one process)"
                if rss.get("one_process")
                else f"{rss['total']:.0f} ({rss['api']:.0f} + {rss['worker']:.0f})",
                f"< {t['e2e_rss_mb']:.0f}",
            )
        )
    elif e2e:
        checks.append(_check("End to end", None, False, "error", e2e.get("error", "")))
    wh = results.get("webhooks")
    if wh and "rows" in wh:
        best = max(wh["rows"], key=lambda r: r["per_second"])
        checks.append(
            _check(
                "Webhooks: deliveries/s ÷ receiver's ceiling (wrk)",
                best["ratio_ceiling"],
                None,
                f"{best['ratio_ceiling']:.3f} ({best['per_second']:,.0f} vs "
                f"{wh['receiver_ceiling']['rps']:,.0f}/s)",
                "(reported)",
            )
        )
    elif wh:
        checks.append(_check("Webhooks", None, False, "error", wh.get("error", "")))
    ba = results.get("batching")
    if ba and "rows" in ba:
        last = ba["rows"][-1]
        checks.append(
            _check(
                f"Batching {last['payouts']} payouts: fee saved ÷ physical limit",
                last["ratio_to_limit"],
                None,
                f"{last['ratio_to_limit']:.3f}",
                "(reported)",
            )
        )
    return checks


def imports_checks(res: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A mass payout's rows/s against the API's own intake req/s, same run (issue 22)."""
    if not res:
        return []
    if "ratio_api" not in res:
        return [_check("Mass payout import", None, False, "error", res.get("error", ""))]
    limit = THRESHOLDS["imports_ratio"]
    ratio = res["ratio_api"]
    return [
        _check(
            f"SQLite import of {res['rows']} rows (API + worker) ÷ API intake, rows/s per req/s",
            ratio,
            ratio is not None and ratio >= limit,
            f"{ratio:.3f} ({res['api']['rows_per_s']:,.0f} vs {res['intake']['rps']:,.0f})"
            if ratio is not None
            else "-",
            f"≥ {limit}",
        )
    ]


def compat_checks(res: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The Cryptomus dialect's create against the native one, CPU per request."""
    if not res:
        return []
    if "ratio" not in res:
        return [_check("Cryptomus dialect CPU", None, False, "error", res.get("error", ""))]
    limit = THRESHOLDS["compat_cpu_ratio"]
    k = res["kinds"]
    out = []
    for key, label, over, under in (
        ("ratio", "", "compat", "native"),
        ("ratio_callback", ", both with a callback URL", "compat_callback", "native_callback"),
    ):
        value = res[key]
        lo, hi = res[f"{key}_range"]
        out.append(
            _check(
                f"Cryptomus signed `payout` create ÷ native create, CPU per request{label}",
                value,
                # quick runs are too short for a verdict: reported only
                None if res.get("quick") else value <= limit,
                f"{value:.3f} ({k[over]['cpu_us_median']:,.0f} vs "
                f"{k[under]['cpu_us_median']:,.0f} µs; rounds {lo:.3f}-{hi:.3f})",
                "(reported)" if res.get("quick") else f"≤ {limit}",
            )
        )
    return out


def _row_at(rows: list[dict[str, Any]], connections: int) -> dict[str, Any] | None:
    for row in rows:
        if row["connections"] == connections:
            return row
    return rows[-1] if rows else None


def summary_table(checks: list[dict[str, Any]]) -> str:
    return c.md_table(
        ["must show", "measured", "threshold", "result"],
        [[k["check"], k["shown"], k["threshold"], k["result"]] for k in checks],
        align="lrrl",
    )


# -- the plot -----------------------------------------------------------------------------


def plot(results: dict[str, Any], path: Path) -> Path | None:
    """throughput.png (when the run measured intake) and e2e.png (when it ran e2e)."""
    out_dir = path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        c.log("matplotlib is not installed: no plot (pip install matplotlib)")
        return None
    fig, ax = plt.subplots(figsize=(9, 5.5))
    series: list[tuple[str, list[int], list[float], dict[str, Any]]] = []
    ceiling = results.get("ceiling") or {}
    sq, pg = results.get("intake_sqlite") or {}, results.get("intake_pg") or {}

    def xy(
        rows: list[dict[str, Any]], get: Callable[[dict[str, Any]], float | None]
    ) -> tuple[list[int], list[float]]:
        pts = [(int(r["connections"]), y) for r in rows if (y := get(r))]
        return [p[0] for p in pts], [float(p[1]) for p in pts]

    for key, label, style in (
        (
            "payoutd_app",
            "HTTP ceiling: payoutd app, GET /v1/ping",
            {"color": "tab:gray", "marker": "s"},
        ),
        (
            "bare_fastapi",
            "bare FastAPI on the same server",
            {"color": "tab:gray", "marker": "x", "linestyle": ":"},
        ),
    ):
        pts = sorted((int(k), v["rps"]) for k, v in (ceiling.get(key) or {}).items())
        if pts:
            series.append((label, [p[0] for p in pts], [p[1] for p in pts], style))
    if sq.get("rows"):
        x, y = xy(sq["rows"], lambda r: r["payoutd"]["rps"])
        series.append(
            (
                "payoutd on SQLite, POST /v1/payouts",
                x,
                y,
                {"color": "tab:blue", "marker": "o", "linewidth": 2.5},
            )
        )
    if pg.get("rows"):
        x, y = xy(pg["rows"], lambda r: r["payoutd"]["rps"])
        series.append(
            (
                "payoutd on PostgreSQL, POST /v1/payouts",
                x,
                y,
                {"color": "tab:green", "marker": "o", "linewidth": 2.5},
            )
        )
        x, y = xy(pg["rows"], lambda r: r["pgbench"]["tps"])
        series.append(
            (
                "pgbench TPC-B on the same PostgreSQL (tps)",
                x,
                y,
                {"color": "tab:green", "marker": "^", "linestyle": "--"},
            )
        )
    if not series:
        plt.close(fig)  # nothing measured against concurrency in this run: keep the last plot
        _plot_e2e(results, out_dir, plt)
        return None
    for label, x, y, line_style in series:
        ax.plot(x, y, label=label, **line_style)
    if sq.get("sqlite3_loop"):
        ax.axhline(
            sq["sqlite3_loop"]["tps"],
            color="tab:blue",
            linestyle="--",
            label="plain sqlite3 loop, WAL + NORMAL (tx/s, one writer)",
        )
    ax.set_xscale("log", base=2)
    xs = sorted({x for _, xs_, _, _ in series for x in xs_})
    if xs:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
    ax.set_yscale("log")
    ax.set_xlabel("concurrent connections (wrk) / clients (pgbench)")
    ax.set_ylabel("requests or transactions per second (log)")
    meta = results.get("meta", {})
    ax.set_title(
        f"payoutd intake vs its references ({meta.get('cpus', '?')} CPUs, "
        f"{'quick' if meta.get('quick') else 'full'} run {meta.get('started', '')[:16]})",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    _plot_e2e(results, out_dir, plt)
    return path


def _plot_e2e(results: dict[str, Any], out_dir: Path, plt: Any) -> None:
    e2e = results.get("e2e") or {}
    if e2e.get("samples"):
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
        t = [s["t"] for s in e2e["samples"]]
        for key, label in (
            ("accepted", "accepted"),
            ("paid", "paid"),
            ("webhooks", "webhooks received"),
        ):
            ax1.plot(t, [s[key] for s in e2e["samples"]], label=label)
        ax1.set_ylabel("payouts / webhooks")
        ax1.legend(fontsize=8)
        ax1.grid(True, alpha=0.3)
        if (e2e.get("peak_rss_mb") or {}).get("one_process"):
            ax2.plot(
                t,
                [s["api_rss_kb"] / 1024 for s in e2e["samples"]],
                label="RSS, one process (API and worker)",
            )
        else:
            ax2.plot(t, [s["api_rss_kb"] / 1024 for s in e2e["samples"]], label="api RSS")
            ax2.plot(t, [s["worker_rss_kb"] / 1024 for s in e2e["samples"]], label="worker RSS")
        ax2.set_ylabel("MB")
        ax2.set_xlabel("seconds")
        ax2.legend(fontsize=8)
        ax2.grid(True, alpha=0.3)
        ax1.set_title(f"end to end: {e2e['payouts']:,} payouts", fontsize=10)
        fig.tight_layout()
        fig.savefig(out_dir / "e2e.png", dpi=110)
        plt.close(fig)


# -- the report ---------------------------------------------------------------------------


def report(results: dict[str, Any], plot_path: Path | None, link_base: str) -> str:
    from bench import compat, e2e, growth, imports, intake, webhooks

    meta = results["meta"]
    parts = [
        f"Run {meta['started']} ({'quick' if meta['quick'] else 'full'}), "
        f"{meta['wall_s']:.0f} s; {meta['cpus']} CPUs; load average "
        f"{meta['load_before']} before, {meta['load_after']} after; git "
        f"{meta['git']}.",
        "",
        "### Summary",
        "",
        summary_table(results["summary"]),
    ]
    if plot_path is not None:
        parts += ["", f"![throughput against concurrency]({link_base}{plot_path.name})"]
    sections: list[tuple[str, str, Callable[[dict[str, Any]], str]]] = [
        ("ceiling", "HTTP ceiling (same app and server, no database)", intake.ceiling_table),
        ("intake_sqlite", "Intake on SQLite (default configuration)", intake.sqlite_table),
        ("intake_pg", "Intake on PostgreSQL", intake.pg_table),
        ("imports", "Mass payouts: a CSV import against the API's intake (SQLite)", imports.table),
        ("compat", "Cryptomus dialect: CPU per create against the native API", compat.table),
        ("growth", "Growth", growth.table),
        ("e2e", "End to end", e2e.table),
        ("webhooks", "Webhook deliveries", webhooks.table),
        ("batching", "Fee saved by batching (sandbox chain vs Bitcoin vsize)", batching_table),
    ]
    for key, title, render in sections:
        res = results.get(key)
        if res is None:
            continue
        when = results["meta"].get("carried_over", {}).get(key)
        parts += ["", f"### {title}" + (f" (from an earlier run, {when})" if when else ""), ""]
        if "error" in res:
            parts.append(f"**not run:** {res['error']}")
        else:
            parts.append(render(res))
            if key == "e2e" and plot_path is not None and (plot_path.parent / "e2e.png").exists():
                parts += ["", f"![end to end over time]({link_base}e2e.png)"]
    return "\n".join(parts) + "\n"


def update_readme(text: str) -> None:
    if not README.exists():
        return
    body = README.read_text()
    if START not in body or END not in body:
        body += f"\n## Last results\n\n{START}\n{END}\n"
    head, rest = body.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}{END}{tail}")


def meta(quick: bool, only: list[str]) -> dict[str, Any]:
    def sh(*argv: str) -> str:
        with contextlib.suppress(Exception):
            return subprocess.run(
                argv, capture_output=True, text=True, cwd=c.ROOT, timeout=10
            ).stdout.strip()
        return ""

    dirty = bool(sh("git", "status", "--porcelain", "--untracked-files=no"))
    wrk = sh("wrk", "--version") or ""
    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "only": only,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_before": _load(),
        "git": (sh("git", "rev-parse", "--short", "HEAD") or "?") + ("+dirty" if dirty else ""),
        "wrk": re.sub(r"\s+", " ", wrk.splitlines()[0]) if wrk else None,
    }


def _load() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="tiny runs (seconds each)")
    ap.add_argument(
        "--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}"
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where results.json and the plots go (bench/out, or bench/out/quick)",
    )
    ap.add_argument("--strict", action="store_true", help="exit 1 when a threshold is missed")
    ap.add_argument("--no-readme", action="store_true", help="leave bench/README.md alone")
    ap.add_argument("--e2e-payouts", type=int, default=None, help="default 100,000 (quick 300)")
    ap.add_argument("--e2e-db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument(
        "--e2e-events",
        choices=("paid", "all"),
        default="paid",
        help="the receiver's subscription: payout.paid+failed, or every event",
    )
    ap.add_argument("--growth-db", choices=("sqlite", "postgres"), default="sqlite")
    args = ap.parse_args(argv)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    out = args.out or (c.OUT / "quick" if args.quick else c.OUT)
    out.mkdir(parents=True, exist_ok=True)
    c.quiet_logging()
    if c.wrk_bin() is None and set(only) - {"batching", "compat"}:
        c.log("wrk is not installed (apt-get install -y wrk): only batching and compat can run")

    merge_previous = not args.quick and out.resolve() == c.OUT.resolve()
    previous: dict[str, Any] = {}
    if merge_previous and (out / "results.json").exists():
        with contextlib.suppress(ValueError, OSError):
            previous = json.loads((out / "results.json").read_text())
    results: dict[str, Any] = {"meta": meta(args.quick, only), "thresholds": THRESHOLDS}
    started = time.monotonic()
    failed = False

    def attempt(key: str, job: Callable[[], dict[str, Any]]) -> None:
        nonlocal failed
        t0 = time.monotonic()
        c.log(f"== {key}")
        try:
            results[key] = job()
        except Exception as exc:  # one benchmark failing must not lose the others
            failed = True
            traceback.print_exc()
            results[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        results[key]["seconds"] = round(time.monotonic() - t0, 1)
        results[key]["ran_at"] = datetime.now(UTC).isoformat(timespec="seconds")

    from bench import compat, e2e, growth, imports, intake, webhooks

    if "batching" in only:
        attempt("batching", lambda: run_batching(args.quick))
    if {"intake_sqlite", "intake_pg"} & set(only):
        attempt("ceiling", lambda: intake.measure_ceiling(intake.Plan.make(args.quick)))
        ceiling = (
            results["ceiling"]
            if "error" not in results["ceiling"]
            else {"payoutd_app": {}, "bare_fastapi": {}}
        )
        if "intake_sqlite" in only:
            attempt("intake_sqlite", lambda: intake.run_sqlite(args.quick, ceiling))
        if "intake_pg" in only:
            attempt("intake_pg", lambda: intake.run_pg(args.quick, ceiling))
    if "imports" in only:
        attempt("imports", lambda: imports.run(args.quick))
    if "compat" in only:
        attempt("compat", lambda: compat.run(args.quick))
    if "webhooks" in only:
        attempt("webhooks", lambda: webhooks.run(args.quick))
    if "growth" in only:
        attempt("growth", lambda: growth.run(args.quick, args.growth_db))
    if "e2e" in only:
        attempt(
            "e2e",
            lambda: e2e.run(
                args.quick, payouts=args.e2e_payouts, db_kind=args.e2e_db, events=args.e2e_events
            ),
        )

    # a partial run into bench/out keeps the other benchmarks' last results (each with its
    # own ran_at), so results.json and README.md always show every benchmark
    carried: dict[str, str] = {}
    if merge_previous:
        for key in (
            "batching",
            "ceiling",
            "intake_sqlite",
            "intake_pg",
            "imports",
            "compat",
            "webhooks",
            "growth",
            "e2e",
        ):
            old = previous.get(key)
            if key not in results and isinstance(old, dict) and "error" not in old:
                results[key] = old
                carried[key] = str(old.get("ran_at", previous.get("meta", {}).get("started")))
    results["meta"]["carried_over"] = carried
    results["meta"]["wall_s"] = round(time.monotonic() - started, 1)
    results["meta"]["load_after"] = _load()
    results["summary"] = summary(results)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    plot(results, out / "throughput.png")
    png = (
        out / "throughput.png"
        if (out / "throughput.png").exists() and ({"intake_sqlite", "intake_pg"} & set(results))
        else None
    )
    link_base = "out/" if out.resolve() == c.OUT.resolve() else f"{out}/"
    text = report(results, png, link_base)
    sys.stdout.write(text)
    if not args.quick and not args.no_readme and out.resolve() == c.OUT.resolve():
        update_readme(text)
    c.log(f"results: {out / 'results.json'}" + (f", plot: {png}" if png else ""))
    missed = any(k["result"] == "FAIL" for k in results["summary"])
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
