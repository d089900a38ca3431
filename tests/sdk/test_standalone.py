"""The SDK stands alone: installed into an application, it brings httpx and nothing of
payoutd's (no import of payoutd, at import time or inside a function)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "clients" / "python" / "src" / "payoutd_client"


def test_no_module_of_the_sdk_imports_payoutd() -> None:
    modules = sorted(SDK.glob("*.py"))
    assert len(modules) > 5
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] != "payoutd", f"{path.name} imports {name}"


def test_the_sdk_imports_with_payoutd_unavailable() -> None:
    code = (
        "import sys; sys.modules['payoutd'] = None\n"
        "import payoutd_client\n"
        "from payoutd_client import client, async_client, webhooks, models, errors\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'payoutd')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['payoutd']", done.stdout  # only the blocked entry
