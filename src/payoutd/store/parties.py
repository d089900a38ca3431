"""Customers, bank accounts and wallets of ramp payouts, each a merchant's own: every
read names the merchant (None only for the operator), so one merchant's ids never find
another's rows.

Account numbers and IBANs are personal data: they are sealed on the way in and opened
on the way out with the deployment's secret box (payoutd.secretbox, the same master keys
as every other secret at rest, resealed by `payoutd secrets rotate`), so the records the
services see hold them in the clear and a database dump does not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.parties import (
    AccountStatus,
    BankAccount,
    BankCurrency,
    Customer,
    CustomerType,
    KycStatus,
    Wallet,
    WalletCurrency,
    WalletNetwork,
)
from payoutd.services.ports import Secrets
from payoutd.store.tables import bank_accounts, customers, wallets


def _customer(row: Row[Any]) -> Customer:
    m = row._mapping
    return Customer(
        id=m["id"],
        merchant_id=m["merchant_id"],
        type=CustomerType(m["type"]),
        kyc_status=KycStatus(m["kyc_status"]),
        name=m["name"],
        email=m["email"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        meta=dict(m["meta"] or {}),
        lookup_key=m["lookup_key"],
    )


def _wallet(row: Row[Any]) -> Wallet:
    m = row._mapping
    return Wallet(
        id=m["id"],
        merchant_id=m["merchant_id"],
        customer_id=m["customer_id"],
        network=WalletNetwork(m["network"]),
        currency=WalletCurrency(m["currency"]),
        address=m["address"],
        status=AccountStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        meta=dict(m["meta"] or {}),
        lookup_key=m["lookup_key"],
    )


class PartyRepository:
    def __init__(self, conn: AsyncConnection, secrets: Secrets | None) -> None:
        self.conn = conn
        self._secrets = secrets

    @property
    def secrets(self) -> Secrets:
        if self._secrets is None:
            raise RuntimeError("bank account numbers need the secret box (Database(secrets=))")
        return self._secrets

    def _seal(self, value: str | None) -> str | None:
        return None if value is None else self.secrets.seal(value)

    def _open(self, value: str | None) -> str | None:
        return None if value is None else self.secrets.open(value)

    def _bank_account(self, row: Row[Any]) -> BankAccount:
        m = row._mapping
        return BankAccount(
            id=m["id"],
            merchant_id=m["merchant_id"],
            customer_id=m["customer_id"],
            currency=BankCurrency(m["currency"]),
            holder_name=m["holder_name"],
            bank_name=m["bank_name"],
            status=AccountStatus(m["status"]),
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            routing_number=m["routing_number"],
            account_number=self._open(m["account_number"]),
            account_type=m["account_type"],
            iban=self._open(m["iban"]),
            bic=m["bic"],
            bank_address=m["bank_address"],
            meta=dict(m["meta"] or {}),
            lookup_key=m["lookup_key"],
        )

    async def _one(self, table: Table, merchant_id: str | None, party_id: str) -> Row[Any] | None:
        stmt = select(table).where(table.c.id == party_id)
        if merchant_id is not None:
            stmt = stmt.where(table.c.merchant_id == merchant_id)
        return (await self.conn.execute(stmt)).first()

    async def _page(
        self,
        table: Table,
        merchant_id: str,
        lookup_key: str | None,
        customer_id: str | None,
        before_id: str | None,
        limit: int,
    ) -> Sequence[Row[Any]]:
        """Newest first (ids are time-ordered); `before_id` is the cursor."""
        stmt: Select[Any] = select(table).where(table.c.merchant_id == merchant_id)
        if lookup_key is not None:
            stmt = stmt.where(table.c.lookup_key == lookup_key)
        if customer_id is not None:
            stmt = stmt.where(table.c.customer_id == customer_id)
        if before_id is not None:
            stmt = stmt.where(table.c.id < before_id)
        stmt = stmt.order_by(table.c.id.desc()).limit(limit)
        return list((await self.conn.execute(stmt)).all())

    async def _set_status(
        self, table: Table, party_id: str, status: AccountStatus, now: datetime
    ) -> None:
        await self.conn.execute(
            update(table).where(table.c.id == party_id).values(status=status.value, updated_at=now)
        )

    # -- customers

    async def add_customer(self, c: Customer) -> None:
        await self.conn.execute(
            customers.insert().values(
                id=c.id,
                merchant_id=c.merchant_id,
                type=c.type.value,
                kyc_status=c.kyc_status.value,
                name=c.name,
                email=c.email,
                meta=c.meta,
                lookup_key=c.lookup_key,
                created_at=c.created_at,
                updated_at=c.updated_at,
            )
        )

    async def customer(self, merchant_id: str | None, customer_id: str) -> Customer | None:
        row = await self._one(customers, merchant_id, customer_id)
        return None if row is None else _customer(row)

    async def customers(
        self,
        merchant_id: str,
        *,
        lookup_key: str | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[Customer]:
        rows = await self._page(customers, merchant_id, lookup_key, None, before_id, limit)
        return [_customer(r) for r in rows]

    async def set_kyc(self, customer_id: str, status: KycStatus, now: datetime) -> None:
        await self.conn.execute(
            update(customers)
            .where(customers.c.id == customer_id)
            .values(kyc_status=status.value, updated_at=now)
        )

    # -- bank accounts

    async def add_bank_account(self, a: BankAccount) -> None:
        await self.conn.execute(
            bank_accounts.insert().values(
                id=a.id,
                merchant_id=a.merchant_id,
                customer_id=a.customer_id,
                currency=a.currency.value,
                holder_name=a.holder_name,
                bank_name=a.bank_name,
                status=a.status.value,
                routing_number=a.routing_number,
                account_number=self._seal(a.account_number),
                account_type=a.account_type,
                iban=self._seal(a.iban),
                bic=a.bic,
                last4=a.last4,
                bank_address=a.bank_address,
                meta=a.meta,
                lookup_key=a.lookup_key,
                created_at=a.created_at,
                updated_at=a.updated_at,
            )
        )

    async def bank_account(self, merchant_id: str | None, account_id: str) -> BankAccount | None:
        row = await self._one(bank_accounts, merchant_id, account_id)
        return None if row is None else self._bank_account(row)

    async def bank_accounts(
        self,
        merchant_id: str,
        *,
        lookup_key: str | None = None,
        customer_id: str | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[BankAccount]:
        rows = await self._page(
            bank_accounts, merchant_id, lookup_key, customer_id, before_id, limit
        )
        return [self._bank_account(r) for r in rows]

    async def set_bank_account_status(
        self, account_id: str, status: AccountStatus, now: datetime
    ) -> None:
        await self._set_status(bank_accounts, account_id, status, now)

    # -- wallets

    async def add_wallet(self, w: Wallet) -> None:
        await self.conn.execute(
            wallets.insert().values(
                id=w.id,
                merchant_id=w.merchant_id,
                customer_id=w.customer_id,
                network=w.network.value,
                currency=w.currency.value,
                address=w.address,
                status=w.status.value,
                meta=w.meta,
                lookup_key=w.lookup_key,
                created_at=w.created_at,
                updated_at=w.updated_at,
            )
        )

    async def wallet(self, merchant_id: str | None, wallet_id: str) -> Wallet | None:
        row = await self._one(wallets, merchant_id, wallet_id)
        return None if row is None else _wallet(row)

    async def wallets(
        self,
        merchant_id: str,
        *,
        lookup_key: str | None = None,
        customer_id: str | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[Wallet]:
        rows = await self._page(wallets, merchant_id, lookup_key, customer_id, before_id, limit)
        return [_wallet(r) for r in rows]

    async def set_wallet_status(self, wallet_id: str, status: AccountStatus, now: datetime) -> None:
        await self._set_status(wallets, wallet_id, status, now)
