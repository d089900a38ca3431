"""Signatures of signed requests already accepted: the replay guard, shared by every API
process through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.store.dialect import insert
from payoutd.store.tables import used_signatures


class SignatureRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def first_use(
        self, key_id: str, signature: str, *, expires_at: datetime, now: datetime
    ) -> bool:
        """Remember the signature until `expires_at`; False when it was used already.
        Expired ones are purged first: by then their timestamp alone refuses them."""
        await self.conn.execute(delete(used_signatures).where(used_signatures.c.expires_at < now))
        stmt = (
            insert(self.dialect, used_signatures)
            .values(key_id=key_id, signature=signature, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["key_id", "signature"])
            .returning(used_signatures.c.key_id)
        )
        return (await self.conn.execute(stmt)).first() is not None
