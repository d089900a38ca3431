"""The layers: the contracts of [tool.importlinter] (pyproject.toml) hold on the real
tree, each one breaks when a copy of the tree gains one import it forbids (a contract
that cannot fail would let the layers drift unnoticed), and the edges (routes, worker,
CLI) write only through services."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# (contract id, a module of the copy, the import added to it)
VIOLATIONS = [
    ("layers", "domain/money.py", "import payoutd.services.views"),
    ("layers", "services/views.py", "import payoutd.api.errors"),
    ("services", "services/views.py", "import payoutd.store.tables"),
    ("services", "services/context.py", "import payoutd.chains.sandbox"),
    ("adapters", "store/audit.py", "import payoutd.services.payouts"),
    ("adapters", "webhooks/signing.py", "import payoutd.api.errors"),
    ("ports", "services/ports.py", "import payoutd.services.context"),
    ("adapters-apart", "webhooks/signing.py", "import payoutd.store.tables"),
    ("adapters", "rails/files.py", "import payoutd.services.payouts"),
    ("adapters-apart", "rails/files.py", "import payoutd.chains.sandbox"),
    ("services", "services/webhooks.py", "import payoutd.dialects.cryptomus"),
    ("dialects", "dialects/cryptomus.py", "import payoutd.services.views"),
    ("dialects", "dialects/cryptomus.py", "import fastapi"),
    ("domain", "domain/money.py", "import payoutd.ids"),
    ("domain", "domain/payout.py", "import sqlalchemy"),
]


def _lint(src: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """lint-imports on the payoutd package found under `src`."""
    args = [str(LINT_IMPORTS), "--no-logo", "--no-cache", str(ROOT / "pyproject.toml")]
    for contract in contracts:
        args += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        args, cwd=src, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_every_contract_is_shown_to_break() -> None:
    config = (ROOT / "pyproject.toml").read_text()
    ids = {line.split('"')[1] for line in config.splitlines() if line.startswith("id = ")}
    assert ids == {contract for contract, _, _ in VIOLATIONS}


def test_the_tree_keeps_every_contract() -> None:
    done = _lint(ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("contract", "module", "line"),
    VIOLATIONS,
    ids=[f"{c}:{m}:{line.split()[-1]}" for c, m, line in VIOLATIONS],
)
def test_each_contract_breaks_on_a_forbidden_import(
    contract: str, module: str, line: str, tmp_path: Path
) -> None:
    shutil.copytree(
        ROOT / "src" / "payoutd", tmp_path / "payoutd", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = tmp_path / "payoutd" / module
    target.write_text(target.read_text() + f"\n{line}  # the violation\n")

    done = _lint(tmp_path, contract)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 broken" in done.stdout, done.stdout
    # the copy was linted, not the installed package
    assert line.split()[-1] in done.stdout, done.stdout


# What the edges may still ask of a repository themselves: plain lookups.
READS = {
    "audit.entries",
    "batches.claim",
    "batches.get",
    "batches.page",
    "batches.unsent",
    "ledger.balance",
    "ledger.balances",
    "ledger.balances_of",
    "ledger.check",
    "merchants.addresses",
    "merchants.keys",
    "merchants.keys_and_policies",
    "payouts.any_reserved",
    "payouts.dialect_records",
    "payouts.in_batch",
    "payouts.in_status",
    "payouts.in_transactions",
    "payouts.page",
    "service_fees.of_many",
    "webhooks.attempts",
    "webhooks.deliveries",
    "webhooks.endpoints",
}


def _repository_calls(path: Path) -> set[str]:
    """`uow.<repository>.<method>` called in the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(repo := node.func.value, ast.Attribute)
            and isinstance(repo.value, ast.Name)
            and repo.value.id == "uow"
        ):
            found.add(f"{repo.attr}.{node.func.attr}")
    return found


def test_the_edges_write_only_through_services() -> None:
    package = ROOT / "src" / "payoutd"
    edges = [*package.glob("api/**/*.py"), *package.glob("worker/*.py"), package / "cli.py"]
    calls = {str(p.relative_to(package)): _repository_calls(p) for p in edges}
    assert calls["api/v1/admin.py"]  # the walk finds them (ledger.check)
    writes = {module: sorted(found - READS) for module, found in calls.items() if found - READS}
    assert writes == {}
