"""Ramp payouts and the bank book (statement lines, chain deposits, the review queue,
payments and payment files): rows to domain records and back."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.banking import (
    BankAccountRef,
    BankPayment,
    ChainDeposit,
    Direction,
    ReviewItem,
    StatementLine,
)
from payoutd.domain.payout import RampChange, RampPayout, RampStatus, RampType
from payoutd.ids import new_id
from payoutd.services.ports import ConcurrentChange
from payoutd.store.dialect import insert
from payoutd.store.tables import (
    bank_exports,
    bank_lines,
    bank_payments,
    bank_review,
    ramp_deposits,
    ramp_payouts,
)

_FIELDS = [f.name for f in dataclasses.fields(RampPayout)]


def _to_row(r: RampPayout) -> dict[str, Any]:
    row = {name: getattr(r, name) for name in _FIELDS}
    row["type"] = r.type.value
    row["status"] = r.status.value
    return row


def _from_row(row: Any) -> RampPayout:
    data = {name: row._mapping[name] for name in _FIELDS}
    data["type"] = RampType(data["type"])
    data["status"] = RampStatus(data["status"])
    data["meta"] = data["meta"] or {}
    data["bank"] = data["bank"] or {}
    return RampPayout(**data)


class RampRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.pg = dialect == "postgresql"

    async def add(self, ramp: RampPayout) -> RampPayout:
        """Numbered after the customer's last payout. On PostgreSQL a transaction-scoped
        advisory lock per customer serializes numbering (the unique (customer, number)
        would otherwise abort the loser of a race); SQLite's write transactions are
        serialized already."""
        if self.pg:
            await self.conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 21))"),
                {"key": f"ramp-number:{ramp.customer_id}"},
            )
        last = (
            await self.conn.execute(
                select(func.max(ramp_payouts.c.number)).where(
                    ramp_payouts.c.customer_id == ramp.customer_id
                )
            )
        ).scalar_one()
        stored = dataclasses.replace(ramp, number=(last or 0) + 1)
        await self.conn.execute(ramp_payouts.insert(), [_to_row(stored)])
        return stored

    async def get(
        self, merchant_id: str | None, ramp_id: str, *, for_update: bool = False
    ) -> RampPayout | None:
        stmt = select(ramp_payouts).where(ramp_payouts.c.id == ramp_id)
        if merchant_id is not None:
            stmt = stmt.where(ramp_payouts.c.merchant_id == merchant_id)
        if for_update and self.pg:
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return _from_row(row) if row else None

    async def by_memo(self, memo: str) -> RampPayout | None:
        row = (
            await self.conn.execute(select(ramp_payouts).where(ramp_payouts.c.memo == memo))
        ).first()
        return _from_row(row) if row else None

    async def page(
        self,
        merchant_id: str | None,
        *,
        lookup_key: str | None = None,
        status: RampStatus | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[RampPayout]:
        stmt = select(ramp_payouts).order_by(ramp_payouts.c.id.desc()).limit(limit)
        if merchant_id is not None:
            stmt = stmt.where(ramp_payouts.c.merchant_id == merchant_id)
        if lookup_key is not None:
            stmt = stmt.where(ramp_payouts.c.lookup_key == lookup_key)
        if status is not None:
            stmt = stmt.where(ramp_payouts.c.status == status.value)
        if before_id is not None:
            stmt = stmt.where(ramp_payouts.c.id < before_id)
        return [_from_row(r) for r in await self.conn.execute(stmt)]

    async def in_status(
        self, status: RampStatus, type_: RampType, *, limit: int = 100
    ) -> list[RampPayout]:
        stmt = (
            select(ramp_payouts)
            .where(ramp_payouts.c.status == status.value, ramp_payouts.c.type == type_.value)
            .order_by(ramp_payouts.c.id)
            .limit(limit)
        )
        return [_from_row(r) for r in await self.conn.execute(stmt)]

    async def pending_off_ramps(
        self, source_network: str, source_currency: str, sender: str
    ) -> list[RampPayout]:
        stmt = (
            select(ramp_payouts)
            .where(
                ramp_payouts.c.status == RampStatus.PENDING.value,
                ramp_payouts.c.type == RampType.OFF_RAMP.value,
                ramp_payouts.c.source_network == source_network,
                ramp_payouts.c.source_currency == source_currency,
                ramp_payouts.c.wallet_address == sender,
            )
            .order_by(ramp_payouts.c.id)
        )
        return [_from_row(r) for r in await self.conn.execute(stmt)]

    async def save(self, change: RampChange) -> None:
        before, after = change.before, change.after
        values = {
            k: v
            for k, v in _to_row(after).items()
            if k not in ("id", "merchant_id", "created_at")
            and getattr(before, k) != getattr(after, k)
        }
        values["status"] = after.status.value
        values["version"] = after.version
        result = await self.conn.execute(
            update(ramp_payouts)
            .where(ramp_payouts.c.id == before.id, ramp_payouts.c.version == before.version)
            .values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentChange(before.id)


def _line(row: Any) -> StatementLine:
    m = row._mapping
    return StatementLine(
        reference=m["reference"],
        account=m["account"],
        booked_on=date.fromisoformat(m["booked_on"]),
        amount=m["amount"],
        currency=m["currency"],
        direction=Direction(m["direction"]),
        memo=m["memo"],
        end_to_end_id=m["end_to_end_id"],
        returned=m["returned"],
        return_reason=m["return_reason"],
        counterparty=m["counterparty"],
    )


def _payment(row: Any) -> BankPayment:
    m = row._mapping
    return BankPayment(
        id=m["id"],
        ramp_id=m["ramp_id"],
        merchant_id=m["merchant_id"],
        amount=m["amount"],
        currency=m["currency"],
        creditor=BankAccountRef(**m["creditor"]),
        remittance=m["remittance"],
        status=m["status"],
        export_id=m["export_id"],
        settle_after=m["settle_after"],
    )


class BankRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.pg = dialect == "postgresql"

    # -- statement lines and deposits -----------------------------------------------------

    async def add_line(
        self, line: StatementLine, outcome: str, ramp_id: str | None, now: datetime
    ) -> str | None:
        line_id = new_id()
        stmt = (
            insert(self.dialect, bank_lines)
            .values(
                id=line_id,
                account=line.account,
                reference=line.reference,
                booked_on=line.booked_on.isoformat(),
                amount=line.amount,
                currency=line.currency,
                direction=line.direction.value,
                memo=line.memo[:1000],
                # ours are 15 characters: a longer one (a payer's free text) is kept
                # shortened, it names no payment of ours either way
                end_to_end_id=line.end_to_end_id and line.end_to_end_id[:64],
                returned=line.returned,
                return_reason=line.return_reason and line.return_reason[:100],
                counterparty=line.counterparty and line.counterparty[:200],
                outcome=outcome,
                ramp_id=ramp_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["account", "reference"])
        )
        result = await self.conn.execute(stmt)
        return line_id if result.rowcount == 1 else None

    async def set_line_outcome(self, line_id: str, outcome: str, ramp_id: str | None) -> None:
        await self.conn.execute(
            update(bank_lines)
            .where(bank_lines.c.id == line_id)
            .values(outcome=outcome, ramp_id=ramp_id)
        )

    async def line(self, line_id: str) -> StatementLine | None:
        row = (
            await self.conn.execute(select(bank_lines).where(bank_lines.c.id == line_id))
        ).first()
        return _line(row) if row else None

    async def add_deposit(
        self, deposit: ChainDeposit, outcome: str, ramp_id: str | None, now: datetime
    ) -> str | None:
        deposit_id = new_id()
        stmt = (
            insert(self.dialect, ramp_deposits)
            .values(
                id=deposit_id,
                network=deposit.network,
                txid=deposit.txid,
                log_index=deposit.index,
                currency=deposit.currency,
                address=deposit.address,
                sender=deposit.sender,
                amount=deposit.amount,
                block=deposit.block,
                outcome=outcome,
                ramp_id=ramp_id,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["network", "txid", "log_index"])
        )
        result = await self.conn.execute(stmt)
        return deposit_id if result.rowcount == 1 else None

    async def set_deposit_outcome(self, deposit_id: str, outcome: str, ramp_id: str | None) -> None:
        await self.conn.execute(
            update(ramp_deposits)
            .where(ramp_deposits.c.id == deposit_id)
            .values(outcome=outcome, ramp_id=ramp_id)
        )

    async def deposit(self, deposit_id: str) -> ChainDeposit | None:
        row = (
            await self.conn.execute(select(ramp_deposits).where(ramp_deposits.c.id == deposit_id))
        ).first()
        if row is None:
            return None
        m = row._mapping
        return ChainDeposit(
            network=m["network"],
            currency=m["currency"],
            address=m["address"],
            amount=m["amount"],
            txid=m["txid"],
            index=m["log_index"],
            block=m["block"],
            confirmations=0,
            sender=m["sender"],
        )

    # -- the review queue -------------------------------------------------------------------

    async def add_review(self, kind: str, subject_id: str, reason: str, now: datetime) -> str:
        item_id = new_id()
        await self.conn.execute(
            bank_review.insert().values(
                id=item_id,
                kind=kind,
                subject_id=subject_id,
                reason=reason[:200],
                status="open",
                created_at=now,
            )
        )
        return item_id

    def _review_select(self) -> Any:
        line, dep, rev = bank_lines, ramp_deposits, bank_review
        return select(
            rev,
            func.coalesce(line.c.amount, dep.c.amount).label("amount"),
            func.coalesce(line.c.currency, dep.c.currency).label("currency"),
            func.coalesce(line.c.memo, dep.c.sender, "").label("memo_text"),
            func.coalesce(line.c.reference, dep.c.txid).label("reference"),
        ).select_from(
            rev.outerjoin(
                line, (rev.c.kind == "bank_line") & (line.c.id == rev.c.subject_id)
            ).outerjoin(dep, (rev.c.kind == "deposit") & (dep.c.id == rev.c.subject_id))
        )

    @staticmethod
    def _review(row: Any) -> ReviewItem:
        m = row._mapping
        amount = m["amount"]
        return ReviewItem(
            id=m["id"],
            kind=m["kind"],
            subject_id=m["subject_id"],
            reason=m["reason"],
            status=m["status"],
            # (COALESCE loses the column's type: SQLite gives the stored text back)
            amount=amount if isinstance(amount, Decimal) else Decimal(str(amount)),
            currency=m["currency"],
            memo=m["memo_text"],
            reference=m["reference"],
            created_at=m["created_at"],
            ramp_id=m["ramp_id"],
            resolved_by=m["resolved_by"],
            note=m["note"],
            resolved_at=m["resolved_at"],
        )

    async def review_items(
        self, status: str | None, *, limit: int = 100, before_id: str | None = None
    ) -> list[ReviewItem]:
        stmt = self._review_select().order_by(bank_review.c.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(bank_review.c.status == status)
        if before_id is not None:
            stmt = stmt.where(bank_review.c.id < before_id)
        return [self._review(r) for r in await self.conn.execute(stmt)]

    async def review_item(self, item_id: str, *, for_update: bool = False) -> ReviewItem | None:
        if for_update and self.pg:
            await self.conn.execute(
                select(bank_review.c.id).where(bank_review.c.id == item_id).with_for_update()
            )
        row = (
            await self.conn.execute(self._review_select().where(bank_review.c.id == item_id))
        ).first()
        return self._review(row) if row else None

    async def resolve_review(
        self,
        item_id: str,
        status: str,
        ramp_id: str | None,
        by: str,
        note: str | None,
        now: datetime,
    ) -> bool:
        result = await self.conn.execute(
            update(bank_review)
            .where(bank_review.c.id == item_id, bank_review.c.status == "open")
            .values(
                status=status, ramp_id=ramp_id, resolved_by=by[:100], note=note, resolved_at=now
            )
        )
        return bool(result.rowcount == 1)

    # -- payments and files -----------------------------------------------------------------

    async def add_payment(self, payment: BankPayment, now: datetime) -> None:
        await self.conn.execute(
            bank_payments.insert().values(
                id=payment.id,
                ramp_id=payment.ramp_id,
                merchant_id=payment.merchant_id,
                amount=payment.amount,
                currency=payment.currency,
                creditor=dataclasses.asdict(payment.creditor),
                remittance=payment.remittance,
                status=payment.status,
                export_id=payment.export_id,
                settle_after=payment.settle_after,
                created_at=now,
                updated_at=now,
            )
        )

    async def payment(self, payment_id: str) -> BankPayment | None:
        row = (
            await self.conn.execute(select(bank_payments).where(bank_payments.c.id == payment_id))
        ).first()
        return _payment(row) if row else None

    async def payment_of(self, ramp_id: str) -> BankPayment | None:
        row = (
            await self.conn.execute(select(bank_payments).where(bank_payments.c.ramp_id == ramp_id))
        ).first()
        return _payment(row) if row else None

    async def unexported(self, currency: str, *, limit: int = 10_000) -> list[BankPayment]:
        stmt = (
            select(bank_payments)
            .where(bank_payments.c.status == "pending", bank_payments.c.currency == currency)
            .order_by(bank_payments.c.id)
            .limit(limit)
        )
        if self.pg:
            stmt = stmt.with_for_update(skip_locked=True)
        return [_payment(r) for r in await self.conn.execute(stmt)]

    async def sandbox_due(self, now: datetime, *, limit: int = 100) -> list[BankPayment]:
        stmt = (
            select(bank_payments)
            .where(
                bank_payments.c.status == "exported",
                bank_payments.c.settle_after.is_not(None),
                bank_payments.c.settle_after <= now,
            )
            .order_by(bank_payments.c.id)
            .limit(limit)
        )
        return [_payment(r) for r in await self.conn.execute(stmt)]

    async def set_payment_status(
        self,
        payment_id: str,
        expected: str,
        status: str,
        now: datetime,
        *,
        export_id: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if export_id is not None:
            values["export_id"] = export_id
        result = await self.conn.execute(
            update(bank_payments)
            .where(bank_payments.c.id == payment_id, bank_payments.c.status == expected)
            .values(**values)
        )
        return bool(result.rowcount == 1)

    async def exports_since(self, currency: str, since: datetime) -> int:
        """Payment files of `currency` written since then (NACHA numbers a day's files)."""
        stmt = (
            select(func.count())
            .select_from(bank_exports)
            .where(bank_exports.c.currency == currency, bank_exports.c.created_at >= since)
        )
        return int((await self.conn.execute(stmt)).scalar_one())

    async def add_export(
        self,
        export_id: str,
        currency: str,
        format_: str,
        payments: int,
        total: Decimal,
        content: str,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            bank_exports.insert().values(
                id=export_id,
                currency=currency,
                format=format_,
                payments=payments,
                total=total,
                content=content,
                created_at=now,
            )
        )
