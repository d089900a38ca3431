"""`payoutd ...` on uvloop: an experiment for the benchmarks (BENCH_UVLOOP=1), not a way to
run payoutd. `payoutd serve` calls `asyncio.run()` and then `uvicorn.Server.serve()`, so
uvicorn's own loop selection never runs and payoutd serves on the stdlib event loop even
though uvloop is installed. Installing uvloop's policy first changes only that.

    BENCH_UVLOOP=1 .venv/bin/python -m bench.run --only intake_sqlite
"""

from __future__ import annotations

import asyncio
import sys

import uvloop


def main() -> None:
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from payoutd.cli import main as payoutd_main

    sys.argv[0] = "payoutd"
    payoutd_main()


if __name__ == "__main__":
    main()
