"""A live payoutd for the SDK's tests: `payoutd serve` (API and worker in one process, as
the Quickstart runs it) as a real process on a free loopback port, on SQLite and on
PostgreSQL, with a fast sandbox chain so payouts are paid and webhooks delivered within
seconds. One server per database for tests/sdk, stopped when they end: each test gets a
merchant of its own, made and funded through the operator API, so it sees only its own
payouts."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import support
from tests.live import PAYOUTD, env_for, free_port, server

SERVE_SETTINGS = {
    "worker_interval_seconds": "0.05",
    "sandbox_block_seconds": "0.1",
    "sandbox_batch_window_seconds": "0.2",
    "sandbox_confirmations": "1",
    "webhook_allow_private": "true",  # the receiver is on loopback
    "webhook_timeout_seconds": "5",
    "min_payout_eur": "0",
}
BTC_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
FUNDS = "1"  # BTC per merchant


@dataclass(frozen=True)
class Live:
    url: str
    operator_key: str
    log: Path

    def merchant(self, funds: str = FUNDS) -> str:
        """A new merchant's API key (scope `payouts`, no cooldown), its BTC balance funded."""
        auth = {"Authorization": f"Bearer {self.operator_key}"}
        with httpx.Client(base_url=self.url, headers=auth, timeout=30) as http:
            made = http.post("/v1/admin/merchants", json={"name": "SDK test"})
            assert made.status_code == 201, made.text
            merchant = made.json()
            paid = http.post(
                "/v1/admin/deposits",
                json={"merchant_id": merchant["merchant_id"], "currency": "BTC", "amount": funds},
            )
            assert paid.status_code == 201, paid.text
        return str(merchant["api_key"])


def _database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
        return
    if not support.pg_available():
        if support.IN_CI:
            pytest.fail("PostgreSQL is required in CI (127.0.0.1:5432) but did not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = support.create_pg_database()
    try:
        yield support.pg_url(name)
    finally:
        support.drop_pg_database(name)


@pytest.fixture(
    scope="package", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("sdk-live")
    data_dir = tmp / "data"
    for database_url in _database(str(request.param)):
        if database_url is None:
            support.copy_template(sqlite_template, data_dir)
        # the key is made before the server starts: the CLI needs only the database
        env = env_for(data_dir, database_url, free_port(), **SERVE_SETTINGS)
        made = subprocess.run(
            [str(PAYOUTD), "operator-key", "create", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        operator_key = json.loads(made.stdout)["api_key"]
        log = tmp / "serve.log"
        with server("all", data_dir, database_url, log, **SERVE_SETTINGS) as running:
            yield Live(running.url, operator_key, log)
