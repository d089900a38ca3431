"""Transfers into the operator's funding wallets, recorded once each, and the block each
network's deposit watch has scanned up to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.banking import ChainDeposit
from payoutd.store.dialect import insert
from payoutd.store.tables import chain_cursors, chain_deposits


class ChainDepositRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def cursor(self, network: str) -> int | None:
        found = (
            await self.conn.execute(
                select(chain_cursors.c.next_block).where(chain_cursors.c.network == network)
            )
        ).scalar()
        return None if found is None else int(found)

    async def add(self, deposit: ChainDeposit, now: datetime) -> bool:
        stmt = (
            insert(self.dialect, chain_deposits)
            .values(
                network=deposit.network,
                txid=deposit.txid,
                output_index=deposit.index,
                currency=deposit.currency,
                address=deposit.address,
                amount=deposit.amount,
                block=deposit.block,
                confirmations=deposit.confirmations,
                sender=deposit.sender,
                seen_at=now,
            )
            .on_conflict_do_nothing(index_elements=["network", "txid", "output_index"])
            .returning(chain_deposits.c.txid)
        )
        return (await self.conn.execute(stmt)).first() is not None

    async def advance(self, network: str, next_block: int, now: datetime) -> None:
        stmt = insert(self.dialect, chain_cursors).values(
            network=network, next_block=next_block, updated_at=now
        )
        # GREATEST on PostgreSQL; SQLite's two-argument max() is the same
        larger = func.greatest if self.dialect == "postgresql" else func.max
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["network"],
                set_={
                    "next_block": larger(chain_cursors.c.next_block, stmt.excluded.next_block),
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
