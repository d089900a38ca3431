"""Merchants and their API keys (found by hash; the key itself is shown once). Secrets
come and go sealed (payoutd.secretbox): the services open them where they are used."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.access import ApiKey, Merchant, MerchantPolicy, Totp
from payoutd.domain.fees import ServiceFee
from payoutd.ids import new_id
from payoutd.store.dialect import insert, one_of
from payoutd.store.tables import (
    api_keys,
    merchant_addresses,
    merchants,
    service_fees,
    totp_failures,
)


def _key(row: Row[Any]) -> ApiKey:
    m = row._mapping
    return ApiKey(
        m["id"],
        m["merchant_id"],
        m["prefix"],
        m["key_hash"],
        frozenset(m["scopes"].split()),
        m["name"],
        m["created_at"],
        m["last_used_at"],
        m["revoked_at"],
        m["ip_allowlist"],
        m["rate_limit_per_minute"],
        m["signing_secret"],
        m["secret_sealed"],
    )


class MerchantRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, merchant: Merchant) -> None:
        await self.conn.execute(
            merchants.insert().values(
                id=merchant.id, name=merchant.name, created_at=merchant.created_at
            )
        )

    async def get(self, merchant_id: str) -> Merchant | None:
        row = (
            await self.conn.execute(select(merchants).where(merchants.c.id == merchant_id))
        ).first()
        return Merchant(row.id, row.name, row.created_at) if row else None

    async def listing(self, limit: int = 500) -> list[Merchant]:
        """Merchants by name, for the operator's view."""
        rows = await self.conn.execute(
            select(merchants).order_by(merchants.c.name, merchants.c.id).limit(limit)
        )
        return [Merchant(r.id, r.name, r.created_at) for r in rows]

    async def policy(self, merchant_id: str) -> MerchantPolicy | None:
        """The merchant's access policy, as a key's row carries it (`keys_and_policies`),
        for work done on its behalf without a key (a mass payout's rows); None for no
        such merchant."""
        row = (
            await self.conn.execute(
                select(
                    merchants.c.payouts_forbidden_until,
                    merchants.c.address_allowlist,
                    merchants.c.totp_secret,
                ).where(merchants.c.id == merchant_id)
            )
        ).first()
        if row is None:
            return None
        return MerchantPolicy(
            row.payouts_forbidden_until, bool(row.address_allowlist), row.totp_secret is not None
        )

    async def add_key(self, key: ApiKey) -> None:
        await self.conn.execute(
            api_keys.insert().values(
                id=key.id,
                merchant_id=key.merchant_id,
                prefix=key.prefix,
                key_hash=key.key_hash,
                scopes=" ".join(sorted(key.scopes)),
                name=key.name,
                created_at=key.created_at,
                ip_allowlist=key.ip_allowlist,
                rate_limit_per_minute=key.rate_limit_per_minute,
                signing_secret=key.signing_secret,
                secret_sealed=key.secret_sealed,
            )
        )

    async def webhook_secret(self, merchant_id: str) -> str | None:
        return (
            await self.conn.execute(
                select(merchants.c.webhook_secret).where(merchants.c.id == merchant_id)
            )
        ).scalar()

    async def set_webhook_secret(self, merchant_id: str, secret: str) -> None:
        await self.conn.execute(
            update(merchants).where(merchants.c.id == merchant_id).values(webhook_secret=secret)
        )

    async def key_by_prefix(self, prefix: str) -> ApiKey | None:
        found = await self.key_and_policy(prefix)
        return found[0] if found else None

    async def key_and_policy(self, prefix: str) -> tuple[ApiKey, MerchantPolicy | None] | None:
        """The key and its merchant's access policy in one round trip (every request)."""
        return (await self.keys_and_policies([prefix])).get(prefix)

    async def keys_and_policies(
        self, prefixes: Sequence[str]
    ) -> dict[str, tuple[ApiKey, MerchantPolicy | None]]:
        """`key_and_policy` for many prefixes in one round trip."""
        stmt = (
            select(
                api_keys,
                merchants.c.payouts_forbidden_until,
                merchants.c.address_allowlist,
                merchants.c.totp_secret,
            )
            .select_from(api_keys.outerjoin(merchants, merchants.c.id == api_keys.c.merchant_id))
            .where(one_of(self.conn.dialect.name, api_keys.c.prefix, prefixes))
        )
        found: dict[str, tuple[ApiKey, MerchantPolicy | None]] = {}
        for row in await self.conn.execute(stmt):
            m = row._mapping
            policy = (
                None
                if m["merchant_id"] is None
                else MerchantPolicy(
                    m["payouts_forbidden_until"],
                    bool(m["address_allowlist"]),
                    m["totp_secret"] is not None,
                )
            )
            found[m["prefix"]] = (_key(row), policy)
        return found

    async def keys(self, merchant_id: str) -> list[ApiKey]:
        rows = await self.conn.execute(
            select(api_keys)
            .where(api_keys.c.merchant_id == merchant_id, api_keys.c.revoked_at.is_(None))
            .order_by(api_keys.c.created_at)
        )
        return [_key(r) for r in rows]

    async def key(self, merchant_id: str, key_id: str) -> ApiKey | None:
        row = (
            await self.conn.execute(
                select(api_keys).where(
                    api_keys.c.id == key_id,
                    api_keys.c.merchant_id == merchant_id,
                    api_keys.c.revoked_at.is_(None),
                )
            )
        ).first()
        return _key(row) if row else None

    async def revoke_key(self, key_id: str, now: datetime) -> None:
        await self.conn.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now)
        )

    async def totp(self, merchant_id: str, *, for_update: bool = False) -> Totp:
        stmt = select(merchants.c.totp_secret, merchants.c.totp_last_step).where(
            merchants.c.id == merchant_id
        )
        if for_update and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return Totp(row[0], row[1]) if row else Totp(None, None)

    async def set_totp(self, merchant_id: str, **values: object) -> None:
        await self.conn.execute(
            update(merchants).where(merchants.c.id == merchant_id).values(**values)
        )

    async def totp_failures(self, merchant_id: str, *, since: datetime) -> list[datetime]:
        """When the merchant's wrong TOTP codes after `since` came, oldest first."""
        rows = await self.conn.execute(
            select(totp_failures.c.failed_at)
            .where(totp_failures.c.merchant_id == merchant_id, totp_failures.c.failed_at > since)
            .order_by(totp_failures.c.failed_at)
        )
        return [r[0] for r in rows]

    async def add_totp_failure(
        self, merchant_id: str, at: datetime, *, forget_before: datetime
    ) -> None:
        """Count a wrong code; the merchant's failures before `forget_before`, which no
        longer count, are deleted."""
        await self.conn.execute(
            delete(totp_failures).where(
                totp_failures.c.merchant_id == merchant_id,
                totp_failures.c.failed_at < forget_before,
            )
        )
        await self.conn.execute(
            totp_failures.insert().values(merchant_id=merchant_id, failed_at=at)
        )

    async def clear_totp_failures(self, merchant_id: str) -> None:
        await self.conn.execute(
            delete(totp_failures).where(totp_failures.c.merchant_id == merchant_id)
        )

    async def forbid_payouts_until(self, merchant_id: str, until: datetime) -> datetime:
        """Block payouts until `until` or a later end already set: a new cooldown never
        shortens a running one (e.g. after the operator lowered the setting). Returns the
        end that holds."""
        current = merchants.c.payouts_forbidden_until
        later = literal(until, type_=current.type)
        ends: datetime = (
            await self.conn.execute(
                update(merchants)
                .where(merchants.c.id == merchant_id)
                .values(
                    payouts_forbidden_until=case(
                        (or_(current.is_(None), current < later), later), else_=current
                    )
                )
                .returning(current)
            )
        ).scalar_one()
        return ends

    async def lift_cooldown(self, merchant_id: str) -> datetime | None:
        """End the merchant's cooldown; the end it had (None when none was set)."""
        stmt = select(merchants.c.payouts_forbidden_until).where(merchants.c.id == merchant_id)
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        was: datetime | None = (await self.conn.execute(stmt)).scalar()
        await self.conn.execute(
            update(merchants)
            .where(merchants.c.id == merchant_id)
            .values(payouts_forbidden_until=None)
        )
        return was

    async def set_address_allowlist(self, merchant_id: str, enabled: bool) -> None:
        await self.conn.execute(
            update(merchants).where(merchants.c.id == merchant_id).values(address_allowlist=enabled)
        )

    async def add_address(
        self, merchant_id: str, network: str, address: str, label: str | None, now: datetime
    ) -> str | None:
        """Save an address; None when it is saved already."""
        address_id = new_id()
        stmt = (
            insert(self.conn.dialect.name, merchant_addresses)
            .values(
                id=address_id,
                merchant_id=merchant_id,
                network=network,
                address=address,
                label=label,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "network", "address"])
            .returning(merchant_addresses.c.id)
        )
        return address_id if (await self.conn.execute(stmt)).first() else None

    async def addresses(self, merchant_id: str) -> list[dict[str, object]]:
        rows = await self.conn.execute(
            select(merchant_addresses)
            .where(merchant_addresses.c.merchant_id == merchant_id)
            .order_by(merchant_addresses.c.created_at)
        )
        return [dict(r._mapping) for r in rows]

    async def remove_address(self, merchant_id: str, address_id: str) -> dict[str, object] | None:
        row = (
            await self.conn.execute(
                select(merchant_addresses).where(
                    merchant_addresses.c.id == address_id,
                    merchant_addresses.c.merchant_id == merchant_id,
                )
            )
        ).first()
        if row is None:
            return None
        await self.conn.execute(
            merchant_addresses.delete().where(merchant_addresses.c.id == address_id)
        )
        return dict(row._mapping)

    async def address_saved(self, merchant_id: str, network: str, address: str) -> bool:
        row = (
            await self.conn.execute(
                select(merchant_addresses.c.id).where(
                    merchant_addresses.c.merchant_id == merchant_id,
                    merchant_addresses.c.network == network,
                    merchant_addresses.c.address == address,
                )
            )
        ).first()
        return row is not None

    async def touch_key(self, key_id: str, now: datetime) -> None:
        await self.conn.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now)
        )


class ServiceFeeRepository:
    """Per-merchant, per-currency service fees set by the operator."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def of_many(self, merchant_ids: Sequence[str]) -> dict[str, dict[str, ServiceFee]]:
        """Each merchant's fees by currency (merchants with none are left out)."""
        rows = await self.conn.execute(
            select(
                service_fees.c.merchant_id,
                service_fees.c.currency,
                service_fees.c.percent,
                service_fees.c.fixed,
            ).where(one_of(self.dialect, service_fees.c.merchant_id, merchant_ids))
        )
        fees: dict[str, dict[str, ServiceFee]] = {}
        for merchant_id, cur, percent, fixed in rows:
            fees.setdefault(merchant_id, {})[cur] = ServiceFee(percent, fixed)
        return fees

    async def set(self, merchant_id: str, currency: str, fee: ServiceFee, now: datetime) -> None:
        stmt = insert(self.dialect, service_fees).values(
            merchant_id=merchant_id,
            currency=currency,
            percent=fee.percent,
            fixed=fee.fixed,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["merchant_id", "currency"],
            set_={"percent": fee.percent, "fixed": fee.fixed, "updated_at": now},
        )
        await self.conn.execute(stmt)
