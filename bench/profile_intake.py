"""Where the intake's time goes: payoutd's API served in this process (the same app and
uvicorn settings as `payoutd serve --role api`) while wrk drives POST /v1/payouts.

Two views, stdlib only (no profiler to install):

* a sampling profiler (default): a thread samples every thread's stack 500 times a
  second; for the event loop's thread it reports, over the samples where the loop was
  busy, the share of each library (by the innermost frame) and of each payoutd function
  (inclusive); for the other threads (each SQLite connection has one,
  payoutd.store.sqlite_driver) what they were doing. The process's CPU seconds per
  request come from /proc.
* `--cprofile`: cProfile on the event loop's thread, dumped to --out for pstats/snakeviz.
  Coroutine frames make its cumulative column hard to read; the sampler is the one to
  trust for proportions.

    .venv/bin/python -m bench.profile_intake [--db sqlite|postgres] [--seconds 5]
        [--connections 8] [--top 25] [--cprofile --out bench/out/intake.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from bench import common as c

IDLE = {
    ("selectors.py", "select"),
    ("threading.py", "wait"),
    ("queue.py", "get"),
    ("core.py", "_get_loop_future"),
    ("core.py", "run"),
}


def _library(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/payoutd/" in filename:
        return "payoutd"
    if "/lib/python3" in filename:
        return "stdlib:" + filename.rsplit("/", 1)[1].removesuffix(".py")
    return filename.rsplit("/", 1)[-1]


def watch_statements(engine: Any, seen: Counter[str], counting: threading.Event) -> None:
    """Counts every statement the engine sends (and pool checkouts), by its first words."""
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _stmt(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if counting.is_set():
            seen[" ".join(statement.split())[:70]] += 1

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        if counting.is_set():
            seen["(COMMIT)"] += 1

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Any) -> None:
        if counting.is_set():
            seen["(ROLLBACK)"] += 1

    @event.listens_for(engine.pool, "checkout")
    def _checkout(*args: Any) -> None:
        if counting.is_set():
            seen["(pool checkout)"] += 1

    @event.listens_for(engine.pool, "reset")
    def _reset(*args: Any) -> None:
        if counting.is_set():
            seen["(pool reset on return: ROLLBACK)"] += 1


def statement_report(seen: Counter[str], requests: int) -> str:
    n = max(1, requests)
    statements = sum(v for k, v in seen.items() if not k.startswith("("))
    lines = [
        f"## Database round trips per request ({requests} requests)",
        "",
        f"{statements / n:.1f} statements per request, plus what the pool does (the "
        "batch's writes sent on the driver's connection itself, SQLite's and "
        "PostgreSQL's one statement, are not seen here)",
        "",
        "| statement | per request |",
        "|---|---:|",
    ]
    lines += [f"| `{k}` | {v / n:.2f} |" for k, v in seen.most_common()]
    return "\n".join(lines) + "\n"


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of each thread of this process, by native thread id, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            stat = (task / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            found[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return found


class Sampler:
    """A statistical profiler on SIGPROF (ITIMER_PROF counts the process's CPU time): the
    handler runs on the event loop's thread and records where that thread is. Samples
    that find it in the selector are CPU spent by other threads while the loop waited."""

    def __init__(self, hz: float = 1000) -> None:
        self.interval = 1 / hz
        self.samples = 0
        self.idle = 0
        self.by_library: Counter[str] = Counter()
        self.by_function: Counter[str] = Counter()
        self.by_leaf: Counter[str] = Counter()
        self.threads_before: dict[int, tuple[str, float]] = {}
        self.threads: dict[str, float] = {}
        self.main_native = threading.get_native_id()

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.samples += 1
        if frame is None:
            return
        code = frame.f_code
        if (code.co_filename.rsplit("/", 1)[-1], code.co_name) in IDLE:
            self.idle += 1
            return
        self.by_library[_library(code.co_filename)] += 1
        leaf = f"{_library(code.co_filename)}:{code.co_name}"
        if code.co_filename == "<string>" and frame.f_back is not None:
            # generated code (dataclasses' __init__): name who called it
            back = frame.f_back.f_code
            leaf += f" <- {_library(back.co_filename)}:{back.co_name}"
        self.by_leaf[leaf] += 1
        seen = set()
        f: FrameType | None = frame
        while f is not None:
            if "/payoutd/" in f.f_code.co_filename:
                name = f"{f.f_code.co_filename.split('/payoutd/', 1)[1]}:{f.f_code.co_name}"
                if name not in seen:
                    seen.add(name)
                    self.by_function[name] += 1
            f = f.f_back

    def start(self, main: int) -> None:
        self.main_native = threading.get_native_id()
        self.threads_before = thread_cpu()
        signal.signal(signal.SIGPROF, self._handler)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
        after = thread_cpu()
        for tid, (name, cpu) in after.items():
            used = cpu - self.threads_before.get(tid, (name, 0.0))[1]
            kind = "event loop" if tid == self.main_native else name
            self.threads[kind] = self.threads.get(kind, 0.0) + used

    def report(self, top: int) -> str:
        busy = max(1, self.samples - self.idle)
        total_cpu = sum(self.threads.values()) or 1.0
        lines = ["## CPU by thread", "", "| thread | CPU s | share |", "|---|---:|---:|"]
        lines += [
            f"| {k} | {v:.2f} | {v / total_cpu * 100:.0f}% |"
            for k, v in sorted(self.threads.items(), key=lambda kv: -kv[1])
            if v > 0
        ]
        lines += [
            "",
            f"## Sampling profile of the event loop's thread: {self.samples} "
            f"samples, {self.idle} with the loop waiting in the selector",
            "",
            "### By library (innermost Python frame)",
            "",
            "| library | share |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {v / busy * 100:.1f}% |" for k, v in self.by_library.most_common(top)]
        lines += ["", "### Innermost Python frame", "", "| frame | share |", "|---|---:|"]
        lines += [f"| {k} | {v / busy * 100:.1f}% |" for k, v in self.by_leaf.most_common(top)]
        lines += [
            "",
            "### Inside each payoutd function (inclusive)",
            "",
            "| function | share |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {v / busy * 100:.1f}% |" for k, v in self.by_function.most_common(top)]
        return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--merchants", type=int, default=16)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--out", type=Path, default=c.OUT / "intake.prof")
    ap.add_argument("--cprofile", action="store_true")
    args = ap.parse_args()
    c.quiet_logging()

    with contextlib.ExitStack() as stack:
        port = c.free_port()
        _, targets, _ = c.seeded_in_process(stack, "profile", args.db, args.merchants, port)
        profiler = cProfile.Profile()
        ready = threading.Event()
        loops: list[asyncio.AbstractEventLoop] = []
        timer: dict[str, float] = {}

        def on_loop(fn: Callable[[], object]) -> None:
            done = threading.Event()

            def call() -> None:
                fn()
                done.set()

            loops[0].call_soon_threadsafe(call)
            done.wait(10)

        sampler = Sampler()
        statements: Counter[str] = Counter()
        counting = threading.Event()
        requests: list[int] = []

        def start_profiling() -> None:
            timer["cpu"] = time.thread_time()
            timer["proc"] = time.process_time()
            counting.set()
            if args.cprofile:
                profiler.enable()
            else:
                sampler.start(threading.get_ident())

        def stop_profiling() -> None:
            counting.clear()
            if args.cprofile:
                profiler.disable()
            else:
                sampler.stop()
            timer["cpu"] = time.thread_time() - timer["cpu"]
            timer["proc"] = time.process_time() - timer["proc"]

        def load() -> None:
            ready.wait(60)
            c.wait_http(f"http://127.0.0.1:{port}/metrics")
            c.run_wrk(
                f"http://127.0.0.1:{port}",
                connections=args.connections,
                duration=1,
                script=c.WRK_DIR / "payouts.lua",
                script_args=[str(targets), "warm"],
            )
            on_loop(start_profiling)
            started = time.monotonic()
            r = c.run_wrk(
                f"http://127.0.0.1:{port}",
                connections=args.connections,
                duration=args.seconds,
                script=c.WRK_DIR / "payouts.lua",
                script_args=[str(targets), "prof"],
            )
            on_loop(stop_profiling)
            requests.append(r.requests)
            wall = time.monotonic() - started
            c.log(
                f"under the profiler: {r.rps:,.0f} req/s, p50 {r.p50_ms:.1f} ms, "
                f"p99 {r.p99_ms:.1f} ms; the event loop's thread used "
                f"{timer['cpu']:.2f} s of CPU in {wall:.2f} s "
                f"({timer['cpu'] / wall * 100:.0f}% of a core); the whole process "
                f"{timer['proc'] / r.requests * 1000:.2f} ms of CPU per request"
            )
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=load, daemon=True).start()

        import uvicorn

        from payoutd.api.app import create_app
        from payoutd.bootstrap import build
        from payoutd.config import load_settings
        from payoutd.store.migrate import upgrade

        settings = load_settings()

        async def serve() -> None:
            loops.append(asyncio.get_running_loop())
            rt = build(settings)
            await upgrade(rt.db.engine)
            watch_statements(rt.db.engine.sync_engine, statements, counting)
            app = create_app(rt, run_worker=False)
            config = uvicorn.Config(
                app, host=settings.host, port=settings.port, log_level="warning", access_log=False
            )
            ready.set()
            try:
                await uvicorn.Server(config).serve()
            finally:
                await rt.close()

        started = time.monotonic()
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
        c.log(f"served {time.monotonic() - started:.1f} s")

    print(statement_report(statements, requests[0] if requests else 0))
    if not args.cprofile:
        print(sampler.report(args.top))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(args.out)
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats(key).print_stats(args.top)
        print(f"## by {key}\n")
        print(buf.getvalue())


if __name__ == "__main__":
    main()
