"""Growth: does intake or listing slow down once 1,000,000 payouts are stored?

One database, measured twice with the same merchants, keys and server settings:

1. near-empty: 5,000 historical payouts (a list of deep cursor pages needs rows to page
   through: an empty database would answer every list with nothing and compare nothing;
   5,000 is the fewest with which every measured page still holds its 50 rows);
2. grown: the same database after 995,000 more historical payouts were bulk-inserted,
   1,000,000 in all.

Each time: intake p50/p99 (POST /v1/payouts under wrk, 8 connections) and list latency
(GET /v1/payouts?status=paid&limit=50&cursor=..., one connection, 20 cursors between 50% and
95% deep into one merchant's paid payouts, every page a full 50 rows; also with
&currency=BTC, a filter no index covers). The ratio grown / near-empty is the result.

The history is valid payoutd data, written through payoutd's own tables and column
types: each payout priced by payoutd's quote(), 95% paid (its hold posted, its ledger
transaction and entries written, in a confirmed batch) and 5% cancelled (hold voided),
one dispatched outbox event each, and the ledger accounts' balances moved by exactly the
entries (`payoutd ledger check` passes; --quick runs it). It belongs to four merchants,
with ids and timestamps spread over the past 90 days.

    .venv/bin/python -m bench.run --only growth [--growth-db postgres]
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import common as c

TOTAL_FULL = 1_000_000
TOTAL_QUICK = 10_000
BASELINE = 5_000  # enough that every measured page is full on the small side too
LIMIT = 50
OWNERS = 4  # merchants that own the history
CHUNK = 5_000
BATCH_SIZE = 500


def uuid7(ms: int, rand: int) -> str:
    """RFC 9562 UUIDv7 (the layout of payoutd.ids), for a time in the past."""
    rand &= (1 << 74) - 1
    value = (
        (ms & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | (rand >> 62) << 64
        | 0x2 << 62
        | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))


@dataclasses.dataclass
class History:
    """Payouts numbered 0..total-1, oldest first, spread over [start, end]."""

    total: int
    merchants: list[str]
    start: datetime
    end: datetime

    def at(self, i: int) -> datetime:
        span = (self.end - self.start).total_seconds()
        return self.start + timedelta(seconds=span * i / max(1, self.total))


async def _quotes(rt: Any) -> list[Any]:
    from payoutd.services import payouts

    found = []
    for currency, network, amount, kind in c.TARGETS:
        for address in c.addresses(kind, 8):
            found.append(
                await payouts.quote(
                    rt.ctx,
                    {},
                    payouts.PayoutRequest(
                        amount=Decimal(amount), currency=currency, network=network, address=address
                    ),
                )
            )
    return found


async def fill(settings: Any, history: History, first: int, last: int) -> dict[str, Any]:
    """Writes historical payouts first..last-1 with their holds, ledger transactions and
    entries, batches and outbox events; moves the ledger balances to match."""
    from sqlalchemy import text

    from payoutd.bootstrap import build
    from payoutd.domain import events
    from payoutd.domain.ledger import HoldStatus, payout_posting
    from payoutd.domain.payout import Payout, Status
    from payoutd.services.views import payout_view
    from payoutd.store.payouts import to_row
    from payoutd.store.tables import (
        batches,
        holds,
        ledger_entries,
        ledger_transactions,
        outbox,
        payouts,
    )

    rt = build(settings)
    started = time.monotonic()
    rows_written = 0
    try:
        quotes = await _quotes(rt)
        deltas: dict[str, tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
        rand = int.from_bytes(os.urandom(8), "big")
        postings: dict[tuple[int, str], list[Any]] = {}  # same quote and merchant: same entries
        for lo in range(first, last, CHUNK):
            hi = min(last, lo + CHUNK)
            p_rows: list[dict[str, Any]] = []
            h_rows: list[dict[str, Any]] = []
            t_rows: list[dict[str, Any]] = []
            e_rows: list[dict[str, Any]] = []
            o_rows: list[dict[str, Any]] = []
            b_rows: list[dict[str, Any]] = []
            open_batches: dict[tuple[str, str], tuple[str, list[Payout]]] = {}

            def close_batch(
                key: tuple[str, str],
                when: datetime,
                b_rows: list[dict[str, Any]] = b_rows,
                open_batches: dict[Any, Any] = open_batches,
            ) -> None:
                batch_id, members = open_batches.pop(key)
                fee = sum((p.fee_network for p in members), Decimal(0)) / 2
                b_rows.append(
                    {
                        "id": batch_id,
                        "network": key[0],
                        "currency": key[1],
                        "status": "confirmed",
                        "txid": uuid.UUID(batch_id).hex * 2,
                        "raw_tx": None,
                        "fee": fee,
                        "fee_currency": key[1],
                        "unbatched_fee": sum((p.fee_network for p in members), Decimal(0)),
                        "output_count": len({p.address for p in members}),
                        "output_txids": None,
                        "sequence_end": None,
                        "payout_count": len(members),
                        "confirmations": 2,
                        "created_at": when,
                        "broadcast_at": when,
                        "updated_at": when,
                    }
                )

            for i in range(lo, hi):
                created = history.at(i)
                ms = int(created.timestamp() * 1000)
                q = quotes[(i // OWNERS) % len(quotes)]
                merchant = history.merchants[i % OWNERS]
                paid = i % 20 != 7
                payout_id = uuid7(ms, rand + i)
                req, pricing = q.request, q.pricing
                key = (q.asset.network, q.asset.currency)
                batch_id = None
                if paid:
                    if key not in open_batches:
                        open_batches[key] = (uuid7(ms + 1, rand - i), [])
                    batch_id = open_batches[key][0]
                done_at = created + timedelta(seconds=30)
                p = Payout(
                    id=payout_id,
                    merchant_id=merchant,
                    order_id=f"hist-{i}",
                    status=Status.PAID if paid else Status.CANCELLED,
                    amount=req.amount,
                    currency=req.currency.upper(),
                    payout_amount=pricing.payout_amount,
                    payout_currency=q.asset.currency,
                    network=q.asset.network,
                    address=q.address,
                    memo=q.memo,
                    fee_mode=req.fee_mode,
                    priority=q.priority,
                    fee_network=pricing.fee_network,
                    fee_service=pricing.fee_service,
                    final_amount=pricing.final_amount,
                    debit_amount=q.plan.debit_amount,
                    debit_currency=q.plan.debit_currency,
                    rate_value=q.rate_value,
                    rate_source=q.rate_source,
                    rate_expires_at=None,
                    approval="auto",
                    execute_at=None,
                    expires_at=None,
                    callback_url=None,
                    comment=None,
                    metadata={},
                    created_at=created,
                    updated_at=done_at,
                    txid=uuid.UUID(batch_id).hex * 2 if batch_id else None,
                    confirmations=2 if paid else 0,
                    batch_id=batch_id,
                    version=4 if paid else 2,
                )
                p_rows.append(to_row(p))
                hold_id = uuid7(ms, rand + 3 * i + 1)
                tx_id = None
                if paid:
                    tx_id = uuid7(ms + 30_000, rand + 3 * i + 2)
                    t_rows.append(
                        {"id": tx_id, "kind": "payout", "reference": p.id, "created_at": done_at}
                    )
                    posting = postings.get(((i // OWNERS) % len(quotes), merchant))
                    if posting is None:
                        posting = postings[((i // OWNERS) % len(quotes), merchant)] = (
                            payout_posting(p)
                        )
                    for e in posting:
                        e_rows.append(
                            {
                                "transaction_id": tx_id,
                                "account_id": e.account,
                                "currency": e.currency,
                                "amount": e.amount,
                            }
                        )
                        b, h = deltas[e.account]
                        deltas[e.account] = (b + e.amount, h)
                    open_batches[key][1].append(p)
                    if len(open_batches[key][1]) >= BATCH_SIZE:
                        close_batch(key, done_at)
                h_rows.append(
                    {
                        "id": hold_id,
                        "account_id": f"merchant:{merchant}:{p.debit_currency}",
                        "currency": p.debit_currency,
                        "amount": p.debit_amount,
                        "status": (HoldStatus.POSTED if paid else HoldStatus.VOIDED).value,
                        "payout_id": p.id,
                        "transaction_id": tx_id,
                        "created_at": created,
                        "updated_at": done_at,
                    }
                )
                kind = events.PAYOUT_PAID if paid else events.PAYOUT_STATUS_CHANGED
                payload: dict[str, Any] = {"payout": payout_view(p)}
                if not paid:
                    payload.update(old_status="queued", new_status="cancelled")
                o_rows.append(
                    {
                        "id": uuid7(ms + 30_000, rand - 3 * i),
                        "merchant_id": merchant,
                        "type": kind,
                        "subject_id": p.id,
                        "payload": payload,
                        "created_at": done_at,
                        "dispatched_at": done_at,
                    }
                )
            for key in list(open_batches):
                close_batch(key, history.at(hi - 1))
            async with rt.db.unit() as uow:
                # entries name system accounts (chain:BTC, ...) that may not exist yet
                await uow.ledger._create_accounts(
                    sorted({e["account_id"] for e in e_rows}), datetime.now(UTC)
                )
                for table, rows in (
                    (payouts, p_rows),
                    (holds, h_rows),
                    (ledger_transactions, t_rows),
                    (ledger_entries, e_rows),
                    (outbox, o_rows),
                    (batches, b_rows),
                ):
                    if rows:
                        await uow.conn.execute(table.insert(), rows)
                        rows_written += len(rows)
            if (hi - first) % (CHUNK * 20) == 0 or hi == last:
                c.log(
                    f"growth fill: {hi - first:,} of {last - first:,} payouts "
                    f"({time.monotonic() - started:.0f} s)"
                )
        async with rt.db.unit() as uow:
            # the balances move by exactly the entries written (LedgerRepository._apply is
            # what every posting uses: it also creates the system accounts)
            await uow.ledger._apply(dict(deltas), datetime.now(UTC))
        if rt.db.is_postgres:
            async with rt.db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
        return {
            "payouts": last - first,
            "rows": rows_written,
            "seconds": round(time.monotonic() - started, 1),
        }
    finally:
        await rt.close()


async def _cursors(
    settings: Any, merchant: str, depths: list[float], currency: str | None = None
) -> list[str]:
    """Cursors at the given depths (0..1) into the merchant's paid payouts, newest first,
    each with at least one full page after it."""
    from sqlalchemy import func, select

    from payoutd.api.v1 import pagination
    from payoutd.bootstrap import build
    from payoutd.store.tables import payouts

    rt = build(settings)
    try:
        async with rt.db.read() as uow:
            where = [payouts.c.merchant_id == merchant, payouts.c.status == "paid"]
            if currency:
                where.append(payouts.c.currency == currency)
            total = (await uow.conn.execute(select(func.count()).where(*where))).scalar_one()
            found = []
            for depth in depths:
                row = (
                    await uow.conn.execute(
                        select(payouts.c.id)
                        .where(*where)
                        .order_by(payouts.c.id.desc())
                        .offset(int(max(0, total - LIMIT - 1) * depth))
                        .limit(1)
                    )
                ).first()
                if row:
                    found.append(pagination.encode(row[0]))
            return found
    finally:
        await rt.close()


def _measure(
    port: int,
    targets: Path,
    merchant: c.Merchant,
    settings: Any,
    tmp: Path,
    duration: float,
    label: str,
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}"
    c.run_wrk(
        url,
        connections=8,
        duration=max(1, duration / 4),
        script=c.WRK_DIR / "payouts.lua",
        script_args=[str(targets), f"gw{label}"],
    )
    intake = c.run_wrk(
        url,
        connections=8,
        duration=duration,
        script=c.WRK_DIR / "payouts.lua",
        script_args=[str(targets), f"g{label}{uuid.uuid4().hex[:4]}"],
    )
    depths = [0.5 + 0.45 * k / 19 for k in range(20)]
    out: dict[str, Any] = {"intake": intake.as_dict()}
    for name, currency in (("list_status", None), ("list_status_currency", "BTC")):
        cursors = asyncio.run(_cursors(settings, merchant.id, depths, currency))
        query = f"status=paid&limit={LIMIT}" + (f"&currency={currency}" if currency else "")
        urls = [f"/v1/payouts?{query}&cursor={cur}" for cur in cursors]
        paths = tmp / f"paths-{label}-{name}.txt"
        paths.write_text("\n".join([merchant.api_key, *urls]) + "\n")
        rows = _page_rows(url, merchant.api_key, urls[-1])
        if rows != LIMIT:
            raise RuntimeError(f"{name}: the deepest page has {rows} rows, not {LIMIT}")
        c.run_wrk(
            url,
            connections=1,
            threads=1,
            duration=1,
            script=c.WRK_DIR / "get_paths.lua",
            script_args=[str(paths)],
        )
        r = c.run_wrk(
            url,
            connections=1,
            threads=1,
            duration=max(1, duration / 2),
            script=c.WRK_DIR / "get_paths.lua",
            script_args=[str(paths)],
        )
        out[name] = {**r.as_dict(), "query": query, "cursors": len(cursors)}
    c.log(
        f"growth {label}: intake p50 {intake.p50_ms:.1f} ms ({intake.rps:,.0f} req/s); "
        f"list p50 {out['list_status']['p50_ms']:.2f} ms; "
        f"list+currency p50 {out['list_status_currency']['p50_ms']:.2f} ms"
    )
    return out


def _page_rows(base: str, api_key: str, path: str) -> int:
    import httpx

    r = httpx.get(base + path, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    r.raise_for_status()
    return len(r.json()["data"])


def _size_mb(settings: Any, data_dir: Path, db: str | None) -> float:
    if db:
        return int(c.psql(f"SELECT pg_database_size('{db}')")) / 1e6
    return sum(f.stat().st_size for f in data_dir.glob("payoutd.db*")) / 1e6


def run(quick: bool, db_kind: str = "sqlite") -> dict[str, Any]:
    from payoutd.config import Settings

    total = TOTAL_QUICK if quick else TOTAL_FULL
    duration = 2.0 if quick else 10.0
    with c.temp_dir("growth") as tmp:
        pg_ctx = c.pg_database("growth") if db_kind == "postgres" else None
        pg_db = pg_ctx.__enter__() if pg_ctx else None
        try:
            url = c.pg_url(pg_db) if pg_db else None
            data = tmp / "data"
            settings = Settings(data_dir=data, database_url=url)
            merchants = c.seed(data_dir=data, database_url=url, merchants=16)
            targets = c.write_wrk_targets(tmp / "targets.txt", merchants)
            now = datetime.now(UTC)
            history = History(
                total,
                [m.id for m in merchants[:OWNERS]],
                now - timedelta(days=90),
                now - timedelta(days=1),
            )
            # the newest BASELINE payouts first; the older rest after the first measurement
            base_fill = asyncio.run(fill(settings, history, total - BASELINE, total))
            port = c.free_port()
            env = c.server_env(port, data_dir=data, database_url=url)
            api = c.start_payoutd("growth-api-small", "api", env)
            try:
                small = _measure(port, targets, merchants[0], settings, tmp, duration, "small")
            finally:
                api.stop()
            small["stored_payouts"] = _count(settings)
            small["db_mb"] = round(_size_mb(settings, data, pg_db), 1)
            grow = asyncio.run(fill(settings, history, 0, total - BASELINE))
            check = None
            if quick:
                check = c.cli_json(env, "ledger", "check")
                if not check.get("ok"):
                    raise RuntimeError(f"ledger check failed after the fill: {check}")
            api = c.start_payoutd("growth-api-grown", "api", env)
            try:
                grown = _measure(port, targets, merchants[0], settings, tmp, duration, "grown")
            finally:
                api.stop()
            grown["stored_payouts"] = _count(settings)
            grown["db_mb"] = round(_size_mb(settings, data, pg_db), 1)
        finally:
            if pg_ctx:
                pg_ctx.__exit__(None, None, None)

    def ratio(key: str, field: str = "p50_ms") -> float:
        return round(float(grown[key][field] / small[key][field]), 3)

    return {
        "db": db_kind,
        "history": total,
        "fill": {"baseline": base_fill, "growth": grow},
        "ledger_check": check,
        "small": small,
        "grown": grown,
        "ratios": {
            "intake_p50": ratio("intake"),
            "intake_p99": ratio("intake", "p99_ms"),
            "list_p50": ratio("list_status"),
            "list_currency_p50": ratio("list_status_currency"),
            "list_p99": ratio("list_status", "p99_ms"),
        },
    }


def _count(settings: Any) -> int:
    from sqlalchemy import func, select

    from payoutd.bootstrap import build
    from payoutd.store.tables import payouts

    async def count() -> int:
        rt = build(settings)
        try:
            async with rt.db.read() as uow:
                return int(
                    (await uow.conn.execute(select(func.count()).select_from(payouts))).scalar_one()
                )
        finally:
            await rt.close()

    return asyncio.run(count())


def table(res: dict[str, Any]) -> str:
    s, g = res["small"], res["grown"]
    rows = []
    for name, key in (
        ("intake POST /v1/payouts, 8 connections", "intake"),
        ("list ?status=paid, deep cursor, 1 connection", "list_status"),
        ("list ?status=paid&currency=BTC, deep cursor", "list_status_currency"),
    ):
        rows.append(
            [
                name,
                f"{s[key]['p50_ms']:.2f}",
                f"{s[key]['p99_ms']:.2f}",
                f"{g[key]['p50_ms']:.2f}",
                f"{g[key]['p99_ms']:.2f}",
                f"{g[key]['p50_ms'] / s[key]['p50_ms']:.2f}",
            ]
        )
    head = c.md_table(
        [
            "",
            f"p50 ms, {s['stored_payouts']:,} payouts",
            "p99 ms",
            f"p50 ms, {g['stored_payouts']:,} payouts",
            "p99 ms",
            "p50 ratio",
        ],
        rows,
    )
    fill_info = res["fill"]["growth"]
    return (
        head + f"\n\n{res['db']}; database {s['db_mb']:,.0f} MB → {g['db_mb']:,.0f} MB; "
        f"history bulk-written at {fill_info['payouts'] / max(fill_info['seconds'], 0.1):,.0f}"
        f" payouts/s ({fill_info['rows']:,} rows). Intake at "
        f"{s['intake']['rps']:,.0f} → {g['intake']['rps']:,.0f} req/s."
    )


if __name__ == "__main__":
    import sys

    c.quiet_logging()
    result = run("--quick" in sys.argv, "postgres" if "--pg" in sys.argv else "sqlite")
    print(table(result))
    print(json.dumps(result["ratios"]))
