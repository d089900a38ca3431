"""Webhook endpoints, deliveries and their attempts; fan-out from the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.webhooks import Delivery, Endpoint, Lane, Outcome
from payoutd.store.tables import outbox, webhook_attempts, webhook_deliveries, webhook_endpoints

E, D = webhook_endpoints, webhook_deliveries


_RECORD = (
    update(D)
    .where(D.c.id == bindparam("d_id"))
    .values(
        status=bindparam("d_status"),
        attempts=bindparam("d_attempts"),
        next_attempt_at=bindparam("d_next"),
        last_status_code=bindparam("d_code"),
        last_error=bindparam("d_error"),
        last_latency_ms=bindparam("d_latency"),
        delivered_at=bindparam("d_delivered"),
    )
)


def _in_lane(lane: Lane) -> Any:
    if lane.endpoint_id is not None:
        return D.c.endpoint_id == lane.endpoint_id
    return and_(D.c.payout_id == lane.payout_id, D.c.endpoint_id.is_(None))


def _endpoint(row: Any) -> Endpoint:
    m = row._mapping
    return Endpoint(**{k: m[k] for k in Endpoint.__dataclass_fields__})


def _delivery(row: Any) -> Delivery:
    m = row._mapping
    return Delivery(**{k: m[k] for k in Delivery.__dataclass_fields__})


class WebhookRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.pg = dialect == "postgresql"

    # -- endpoints ------------------------------------------------------------------

    async def add_endpoint(self, e: Endpoint) -> None:
        await self.conn.execute(
            E.insert().values(**{k: getattr(e, k) for k in Endpoint.__dataclass_fields__})
        )

    async def endpoint(
        self, merchant_id: str | None, endpoint_id: str, *, for_update: bool = False
    ) -> Endpoint | None:
        stmt = select(E).where(E.c.id == endpoint_id, E.c.status != "deleted")
        if merchant_id is not None:
            stmt = stmt.where(E.c.merchant_id == merchant_id)
        if for_update and self.pg:
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return _endpoint(row) if row else None

    async def endpoints(
        self, merchant_id: str, *, before_id: str | None = None, limit: int = 50
    ) -> list[Endpoint]:
        stmt = select(E).where(E.c.merchant_id == merchant_id, E.c.status != "deleted")
        if before_id:
            stmt = stmt.where(E.c.id < before_id)
        stmt = stmt.order_by(E.c.id.desc()).limit(limit)
        return [_endpoint(r) for r in await self.conn.execute(stmt)]

    async def endpoints_by_id(self, endpoint_ids: Sequence[str]) -> dict[str, Endpoint]:
        """The endpoints with these ids that are not deleted, by id."""
        if not endpoint_ids:
            return {}
        stmt = select(E).where(E.c.id.in_(set(endpoint_ids)), E.c.status != "deleted")
        return {e.id: e for e in (_endpoint(r) for r in await self.conn.execute(stmt))}

    async def enabled_endpoints(self, merchant_ids: set[str]) -> list[Endpoint]:
        if not merchant_ids:
            return []
        stmt = select(E).where(E.c.merchant_id.in_(merchant_ids), E.c.status == "enabled")
        return [_endpoint(r) for r in await self.conn.execute(stmt)]

    async def update_endpoint(self, endpoint_id: str, now: datetime, **values: Any) -> None:
        await self.conn.execute(
            update(E).where(E.c.id == endpoint_id).values(updated_at=now, **values)
        )

    # -- the outbox -----------------------------------------------------------------

    async def undispatched(self, limit: int) -> list[dict[str, Any]]:
        """Events not fanned out yet, oldest first. SKIP LOCKED: several workers share
        the work; each event is dispatched in the same transaction that marks it."""
        stmt = (
            select(outbox)
            .where(outbox.c.dispatched_at.is_(None))
            .order_by(outbox.c.seq)
            .limit(limit)
        )
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]

    async def mark_dispatched(self, seqs: list[int], now: datetime) -> None:
        await self.conn.execute(
            update(outbox).where(outbox.c.seq.in_(seqs)).values(dispatched_at=now)
        )

    async def events(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The outbox events with these ids, by id."""
        if not event_ids:
            return {}
        rows = await self.conn.execute(select(outbox).where(outbox.c.id.in_(set(event_ids))))
        return {r.id: dict(r._mapping) for r in rows}

    # -- deliveries -----------------------------------------------------------------

    async def add_deliveries(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.conn.execute(D.insert(), rows)

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int, *, skip_lanes: Sequence[str] = ()
    ) -> list[Delivery]:
        """Due deliveries, leased to this worker until `lease_until` (a worker that dies
        mid-attempt leaves them to be retried when the lease runs out). `skip_lanes`:
        endpoint ids, and callback URLs, whose deliveries are left for later."""
        stmt = (
            select(D)
            .where(D.c.status == "pending", D.c.next_attempt_at <= now)
            .order_by(D.c.event_seq)
            .limit(limit)
        )
        if skip_lanes:
            stmt = stmt.where(
                or_(D.c.endpoint_id.is_(None), D.c.endpoint_id.not_in(skip_lanes)),
                or_(D.c.endpoint_id.is_not(None), D.c.url.not_in(skip_lanes)),
            )
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        found = [_delivery(r) for r in await self.conn.execute(stmt)]
        if found:
            await self.conn.execute(
                update(D)
                .where(D.c.id.in_([d.id for d in found]))
                .values(next_attempt_at=lease_until)
            )
        return found

    async def renew_leases(self, held: dict[str, datetime], until: datetime) -> list[str]:
        """Extend to `until` the leases of these deliveries (id: the end of the lease
        this worker holds) that are still this worker's: pending, and leased until the
        time it was given (a delivery already recorded, redelivered or claimed by
        another worker after its lease ran out is left alone). Returns the renewed."""
        by_lease: dict[datetime, list[str]] = {}
        for delivery_id, lease in held.items():
            by_lease.setdefault(lease, []).append(delivery_id)
        renewed: list[str] = []
        for lease, ids in by_lease.items():
            for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
                rows = await self.conn.execute(
                    update(D)
                    .where(D.c.id.in_(chunk), D.c.status == "pending", D.c.next_attempt_at == lease)
                    .values(next_attempt_at=until)
                    .returning(D.c.id)
                )
                renewed.extend(r.id for r in rows)
        return renewed

    async def record(
        self,
        delivery: Delivery,
        *,
        at: datetime,
        status: str,
        next_attempt_at: datetime | None,
        status_code: int | None,
        latency_ms: int | None,
        error: str | None,
    ) -> None:
        await self.record_many(
            [Outcome(delivery, at, status, next_attempt_at, status_code, latency_ms, error)]
        )

    async def record_many(self, outcomes: Sequence[Outcome]) -> None:
        """Attempts' outcomes: the deliveries' new state and one attempt row each, in two
        statements however many."""
        if not outcomes:
            return
        await self.conn.execute(
            _RECORD,
            [
                {
                    "d_id": o.delivery.id,
                    "d_status": o.status,
                    "d_attempts": o.delivery.attempts + 1,
                    "d_next": o.next_attempt_at,
                    "d_code": o.status_code,
                    "d_error": o.error,
                    "d_latency": o.latency_ms,
                    "d_delivered": o.at if o.status == "delivered" else None,
                }
                for o in outcomes
            ],
        )
        await self.conn.execute(
            webhook_attempts.insert(),
            [
                {
                    "delivery_id": o.delivery.id,
                    "attempt": o.delivery.attempts + 1,
                    "at": o.at,
                    "status_code": o.status_code,
                    "latency_ms": o.latency_ms,
                    "error": o.error,
                }
                for o in outcomes
            ],
        )

    async def cancel_pending(self, endpoint_id: str) -> None:
        await self.conn.execute(
            update(D)
            .where(D.c.endpoint_id == endpoint_id, D.c.status == "pending")
            .values(status="cancelled", next_attempt_at=None)
        )

    async def deliveries(
        self, lane: Lane, *, before_id: str | None = None, limit: int = 50
    ) -> list[Delivery]:
        stmt = select(D).where(_in_lane(lane))
        if before_id:
            stmt = stmt.where(D.c.id < before_id)
        stmt = stmt.order_by(D.c.id.desc()).limit(limit)
        return [_delivery(r) for r in await self.conn.execute(stmt)]

    async def of_events(self, merchant_id: str, event_ids: Sequence[str]) -> list[Delivery]:
        """The merchant's deliveries of these events, to its endpoints and callback_url
        alike, newest first (a payout's page shows every delivery about it)."""
        if not event_ids:
            return []
        stmt = (
            select(D)
            .where(D.c.merchant_id == merchant_id, D.c.event_id.in_(list(event_ids)))
            .order_by(D.c.id.desc())
        )
        return [_delivery(r) for r in await self.conn.execute(stmt)]

    async def delivery(self, lane: Lane, delivery_id: str) -> Delivery | None:
        row = (
            await self.conn.execute(select(D).where(D.c.id == delivery_id, _in_lane(lane)))
        ).first()
        return _delivery(row) if row else None

    async def attempts(self, delivery_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {d: [] for d in delivery_ids}
        if delivery_ids:
            rows = await self.conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id.in_(delivery_ids))
                .order_by(webhook_attempts.c.id)
            )
            for r in rows:
                found[r.delivery_id].append(dict(r._mapping))
        return found

    async def redeliver(self, delivery_id: str, now: datetime) -> None:
        await self.conn.execute(
            update(D).where(D.c.id == delivery_id).values(status="pending", next_attempt_at=now)
        )
