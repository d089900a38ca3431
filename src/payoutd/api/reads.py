"""The rows every request reads, its API key with the merchant's access policy and
service fees, read for many concurrent requests at once (payoutd.coalesce): one read
transaction serves every request that arrived while the previous one ran."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

from fastapi import FastAPI, Request

from payoutd.bootstrap import Runtime
from payoutd.coalesce import Coalescer
from payoutd.domain.fees import ServiceFee
from payoutd.store.merchants import ApiKey, MerchantPolicy


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: ApiKey
    policy: MerchantPolicy | None
    fees: Mapping[str, ServiceFee] = field(default_factory=dict)  # the merchant's, by currency


def install(app: FastAPI, runtime: Runtime) -> None:
    app.state.keys = Coalescer(partial(_read_keys, runtime))


async def key_row(request: Request, prefix: str) -> KeyRow | None:
    found: KeyRow | None = await request.app.state.keys.get(prefix)
    return found


async def _read_keys(runtime: Runtime, prefixes: list[str]) -> dict[str, KeyRow]:
    async with runtime.db.read() as uow:
        keys = await uow.merchants.keys_and_policies(prefixes)
        merchant_ids = sorted({k.merchant_id for k, _ in keys.values() if k.merchant_id})
        fees = await uow.service_fees.of_many(merchant_ids) if merchant_ids else {}
    return {prefix: KeyRow(key, policy, fees.get(key.merchant_id or "", {}))
            for prefix, (key, policy) in keys.items()}
