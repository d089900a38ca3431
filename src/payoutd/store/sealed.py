"""Every column that holds a sealed secret, resealed together by `payoutd secrets rotate`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.store.tables import api_keys, bank_accounts, merchants, webhook_endpoints

SEALED_COLUMNS: dict[Table, tuple[str, ...]] = {
    merchants: ("webhook_secret", "totp_secret"),
    api_keys: ("signing_secret", "secret_sealed"),
    webhook_endpoints: ("secret", "previous_secret"),
    # personal data rather than secrets, sealed under the same keys (store.parties)
    bank_accounts: ("account_number", "iban"),
}


class SealedRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.pg = dialect == "postgresql"

    async def reseal(self, change: Callable[[str], str]) -> int:
        """Every sealed value replaced by `change` of it; how many there were. The rows are
        locked (PostgreSQL) so a secret rotated meanwhile is not overwritten with its
        old value."""
        count = 0
        for table, names in SEALED_COLUMNS.items():
            columns = [table.c[n] for n in names]
            stmt = select(table.c.id, *columns).where(or_(*(c.is_not(None) for c in columns)))
            if self.pg:
                stmt = stmt.with_for_update()
            for row in (await self.conn.execute(stmt)).all():
                values = {
                    n: change(v) for n, v in zip(names, row[1:], strict=True) if v is not None
                }
                await self.conn.execute(update(table).where(table.c.id == row.id).values(**values))
                count += len(values)
        return count
