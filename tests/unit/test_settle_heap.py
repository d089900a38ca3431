"""Long-running processes freeze the heap they start with (payoutd.bootstrap.settle_heap),
so a full garbage collection does not walk it while requests wait."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(code: str, tmp_path: Path) -> str:
    env = {**os.environ, "PAYOUTD_DATA_DIR": str(tmp_path), "PAYOUTD_LOG_LEVEL": "warning"}
    env.pop("PAYOUTD_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.split()[-1]


def test_an_api_process_made_by_the_factory_freezes_its_startup_heap(tmp_path: Path) -> None:
    frozen = _run(
        "import gc\nfrom payoutd.api.asgi import app\napp()\nprint(gc.get_freeze_count())", tmp_path
    )
    assert int(frozen) > 50_000
