"""Shared test helpers: databases, runtimes, clients, merchants."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from payoutd.api.app import create_app
from payoutd.bootstrap import Runtime, build
from payoutd.config import Settings
from payoutd.services import merchants
from payoutd.store import sqlite_driver
from payoutd.store.migrate import upgrade
from payoutd.store.tables import metadata
from payoutd.worker import jobs

PG_ADMIN_URL = os.environ.get(
    "PAYOUTD_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def pg_available() -> bool:
    async def probe() -> bool:
        engine = create_async_engine(PG_ADMIN_URL)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(probe())


def create_pg_database(revision: str = "head") -> str:
    """A fresh database for this test session, migrated to `revision`."""
    name = f"payoutd_test_{uuid.uuid4().hex[:10]}"

    async def run() -> None:
        admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        engine = create_async_engine(pg_url(name))
        await upgrade(engine, revision)
        await engine.dispose()

    asyncio.run(run())
    return name


def drop_pg_database(name: str) -> None:
    async def run() -> None:
        admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    asyncio.run(run())


def pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def create_sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"

    async def run() -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(run())
    return path


async def truncate_all(rt: Runtime) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with rt.db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def test_settings(data_dir: Path, database_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "sandbox_batch_window_seconds": 0,
        "sandbox_confirmations": 2,
        "db_pool_size": 30,
        # most tests pay small amounts; the 20 EUR floor has tests of its own
        "min_payout_eur": 0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Merchant:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Harness:
    """A runtime, an in-process HTTP client and the knobs tests turn."""

    rt: Runtime
    client: httpx.AsyncClient
    clock: FakeClock
    operator_key: str
    app: Any = None  # the FastAPI application the client talks to

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_key}"}

    async def merchant(self, name: str = "Acme", **deposits: str) -> Merchant:
        async with self.rt.db.unit() as uow:
            m, issued = await merchants.create_merchant(uow, self.rt.ctx, name)
            for currency, amount in deposits.items():
                await merchants.deposit(uow, self.rt.ctx, m.id, currency, Decimal(amount))
        return Merchant(m.id, issued.plaintext)

    async def deposit(self, merchant: Merchant, currency: str, amount: str) -> None:
        async with self.rt.db.unit() as uow:
            await merchants.deposit(uow, self.rt.ctx, merchant.id, currency, Decimal(amount))

    async def tick(self) -> None:
        await jobs.tick(self.rt.db, self.rt.ctx)

    async def mine(self, blocks: int = 1) -> None:
        from payoutd.chains.sandbox import SandboxChain

        for _ in range(blocks):
            for chain in self.rt.ctx.chains.values():
                if isinstance(chain, SandboxChain):
                    await chain.mine(self.clock.now())

    async def settle(self, rounds: int = 4) -> None:
        """Run the worker and the miner until broadcast batches have confirmed."""
        for _ in range(rounds):
            await self.tick()
            await self.mine()
        await self.tick()

    async def ledger_check(self) -> dict[str, Any]:
        async with self.rt.db.snapshot() as uow:
            return (await uow.ledger.check()).as_dict()

    async def assert_ledger_clean(self) -> None:
        report = await self.ledger_check()
        assert report["ok"], report

    async def payout(self, merchant: Merchant, payout_id: str) -> dict[str, Any]:
        """The payout as `merchant` reads it from the API (the test fails on anything but 200)."""
        r = await self.client.get(f"/v1/payouts/{payout_id}", headers=merchant.headers)
        assert r.status_code == 200, r.text
        payout: dict[str, Any] = r.json()
        return payout

    async def balances(self, merchant: Merchant) -> dict[str, dict[str, str]]:
        r = await self.client.get("/v1/balances", headers=merchant.headers)
        assert r.status_code == 200, r.text
        return {b["currency"]: b for b in r.json()["data"]}


@asynccontextmanager
async def harness(settings: Settings, *, truncate: bool = False) -> AsyncIterator[Harness]:
    clock = FakeClock()
    rt = build(settings, clock=clock)
    if truncate:
        await truncate_all(rt)
    async with rt.db.unit() as uow:
        operator = await merchants.create_operator_key(uow, rt.ctx, "tests")
    app = create_app(rt)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://payoutd.test") as client:
        try:
            yield Harness(rt, client, clock, operator.plaintext, app)
        finally:
            await rt.close()


def copy_template(template: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, target / "payoutd.db")


async def driver_of(conn: Any) -> sqlite_driver.Connection:
    """payoutd's SQLite connection under a SQLAlchemy connection."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert isinstance(driver, sqlite_driver.Connection)
    return driver
