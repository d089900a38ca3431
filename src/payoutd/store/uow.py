"""One database transaction and the repositories that work inside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.services.ports import Secrets
from payoutd.store import pool_checks
from payoutd.store.audit import AuditRepository
from payoutd.store.batches import BatchRepository
from payoutd.store.chain_deposits import ChainDepositRepository
from payoutd.store.idempotency import IdempotencyRepository
from payoutd.store.imports import ImportRepository
from payoutd.store.ledger import LedgerRepository
from payoutd.store.merchants import MerchantRepository, ServiceFeeRepository
from payoutd.store.outbox import OutboxRepository
from payoutd.store.parties import PartyRepository
from payoutd.store.payouts import PayoutRepository
from payoutd.store.placements import PlacementRepository
from payoutd.store.ramps import BankRepository, RampRepository
from payoutd.store.sealed import SealedRepository
from payoutd.store.signatures import SignatureRepository
from payoutd.store.webhooks import WebhookRepository


class UnitOfWork:
    def __init__(
        self,
        conn: AsyncConnection,
        dialect: str,
        *,
        read_only: bool = False,
        secrets: Secrets | None = None,
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.read_only = read_only
        self.payouts = PayoutRepository(conn, dialect)
        self.ledger = LedgerRepository(conn, dialect)
        self.merchants = MerchantRepository(conn)
        self.outbox = OutboxRepository(conn)
        self.idempotency = IdempotencyRepository(conn, dialect)
        self.batches = BatchRepository(conn, dialect)
        self.service_fees = ServiceFeeRepository(conn, dialect)
        self.audit = AuditRepository(conn)
        self.signatures = SignatureRepository(conn, dialect)
        self.webhooks = WebhookRepository(conn, dialect)
        self.sealed = SealedRepository(conn, dialect)
        self.imports = ImportRepository(conn, dialect)
        self.placements = PlacementRepository(conn, dialect, self.ledger, self.outbox)
        self.parties = PartyRepository(conn, secrets)
        self.ramps = RampRepository(conn, dialect)
        self.bank = BankRepository(conn, dialect)
        self.chain_deposits = ChainDepositRepository(conn, dialect)

    async def connection_closed(self) -> bool:
        """For a connection kept between uses (asyncpg): whether the server has ended it,
        or may be ending it (unread input on an idle connection is most likely its
        goodbye, as at a pool checkout, payoutd.store.pool_checks). Nothing is sent."""
        if self.conn.invalidated:  # a read on it failed and SQLAlchemy let it go
            return True
        driver = (await self.conn.get_raw_connection()).driver_connection
        is_closed = getattr(driver, "is_closed", None)
        if not callable(is_closed):
            return False
        return bool(is_closed()) or pool_checks.has_unread_input(driver)


if TYPE_CHECKING:
    from payoutd.services import ports

    def _is_the_port(uow: UnitOfWork) -> ports.UnitOfWork:
        return uow  # mypy checks here that this unit implements the services' port
