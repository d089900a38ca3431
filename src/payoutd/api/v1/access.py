"""/v1/api-keys, /v1/totp (refused: the operator enrols), /v1/addresses,
/v1/address-allowlist, /v1/audit-log."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from payoutd.api import reads
from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.v1.params import AddressId, KeyId
from payoutd.api.v1.schemas import (
    AddressCreate,
    AddressList,
    AddressOut,
    AllowlistOut,
    AllowlistSet,
    ApiKeyCreate,
    ApiKeyDelete,
    ApiKeyList,
    ApiKeyOut,
    AuditList,
    TotpOut,
)
from payoutd.bootstrap import Runtime
from payoutd.domain.access import ApiKey
from payoutd.domain.errors import PayoutdError
from payoutd.services import access
from payoutd.services.views import ts
from payoutd.store.uow import UnitOfWork

router = APIRouter(
    prefix="/v1",
    tags=["access"],
    dependencies=[Depends(reads.forget_after_changes, scope="function")],
)
READ = Depends(require("read"))
WRITE = Depends(require("payouts"))


def key_view(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "object": "api_key",
        "prefix": k.prefix,
        "name": k.name,
        "scopes": sorted(k.scopes),
        "ip_allowlist": k.ip_allowlist,
        "rate_limit_per_minute": k.rate_limit_per_minute,
        "signed_requests": k.signing_secret is not None,
        "created_at": ts(k.created_at),
        "last_used_at": ts(k.last_used_at),
    }


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@contextlib.asynccontextmanager
async def unit_checking_totp(rt: Runtime, principal: Principal) -> AsyncIterator[UnitOfWork]:
    """The request's transaction, for a change that may check a TOTP code. A refused code
    rolls it back; the refusal is then recorded in a transaction of its own (the lockout
    counts it) and answered as that records it."""
    try:
        async with rt.db.unit() as uow:
            yield uow
    except PayoutdError as err:
        if not access.is_totp_refusal(err):
            raise
        async with rt.db.unit() as uow:
            answer = await access.record_totp_refusal(
                uow,
                rt.ctx,
                principal.merchant_id,
                err,
                actor=principal.actor,
                source=principal.source,
            )
        raise answer from None


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "totp_required",
        "totp_invalid",
        "totp_locked",
    ),
    summary="Create an API key; a `payouts` key needs a TOTP code and starts the payout cooldown",
)
async def create_key(
    body: ApiKeyCreate, request: Request, principal: Annotated[Principal, WRITE]
) -> dict[str, Any]:
    rt = _rt(request)
    async with unit_checking_totp(rt, principal) as uow:
        issued, blocked_until = await access.create_key(
            uow,
            rt.ctx,
            principal.merchant_id,
            scopes=frozenset(body.scopes),
            name=body.name,
            totp_code=body.totp_code,
            ip_allowlist=body.ip_allowlist,
            rate_limit_per_minute=body.rate_limit_per_minute,
            signed_requests=body.signed_requests,
            actor=principal.actor,
            source=principal.source,
        )
    view = key_view(issued.key)
    view["key"] = issued.plaintext
    view["signing_secret"] = issued.signing_secret
    if blocked_until is not None:
        view["payouts_blocked_until"] = ts(blocked_until)
    return view


@router.get(
    "/api-keys",
    response_model=ApiKeyList,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="The merchant's keys (never the keys themselves)",
)
async def list_keys(request: Request, principal: Annotated[Principal, READ]) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        keys = await uow.merchants.keys(principal.merchant_id)
    return {"data": [key_view(k) for k in keys], "next_cursor": None}


@router.delete(
    "/api-keys/{key_id}",
    status_code=204,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "not_found",
        "totp_required",
        "totp_invalid",
        "totp_locked",
    ),
    summary="Revoke a key (with a TOTP code in the body once enrolled)",
)
async def delete_key(
    key_id: KeyId,
    request: Request,
    principal: Annotated[Principal, WRITE],
    body: ApiKeyDelete | None = None,
) -> Response:
    rt = _rt(request)
    async with unit_checking_totp(rt, principal) as uow:
        await access.delete_key(
            uow,
            rt.ctx,
            principal.merchant_id,
            key_id,
            body.totp_code if body else None,
            actor=principal.actor,
            source=principal.source,
        )
    return Response(status_code=204)


@router.post(
    "/totp",
    status_code=201,
    response_model=TotpOut,
    deprecated=True,
    responses=responses("unauthorized", "forbidden_scope", "totp_enrolment_by_operator"),
    summary="Refused: the operator enrols and resets two-factor authentication "
    "(`payoutd merchant totp enrol|reset`, or the admin API)",
)
async def enrol_totp(request: Request, principal: Annotated[Principal, WRITE]) -> dict[str, Any]:
    raise PayoutdError("totp_enrolment_by_operator")


@router.put(
    "/address-allowlist",
    response_model=AllowlistOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "totp_required",
        "totp_invalid",
        "totp_locked",
        "validation_error",
    ),
    summary="Turn the address allowlist on or off (TOTP when enrolled)",
)
async def set_allowlist(
    body: AllowlistSet, request: Request, principal: Annotated[Principal, WRITE]
) -> dict[str, Any]:
    rt = _rt(request)
    async with unit_checking_totp(rt, principal) as uow:
        await access.set_address_allowlist(
            uow,
            rt.ctx,
            principal.merchant_id,
            body.enabled,
            body.totp_code,
            actor=principal.actor,
            source=principal.source,
        )
    return {"enabled": body.enabled}


@router.post(
    "/addresses",
    status_code=201,
    response_model=AddressOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "invalid_address",
        "service_not_found",
        "totp_required",
        "totp_invalid",
        "totp_locked",
    ),
    summary="Save a payout address (TOTP when enrolled)",
)
async def add_address(
    body: AddressCreate, request: Request, principal: Annotated[Principal, WRITE]
) -> dict[str, Any]:
    rt = _rt(request)
    async with unit_checking_totp(rt, principal) as uow:
        address_id = await access.add_address(
            uow,
            rt.ctx,
            principal.merchant_id,
            body.network,
            body.address,
            body.label,
            body.totp_code,
            actor=principal.actor,
            source=principal.source,
        )
        saved = next(
            a for a in await uow.merchants.addresses(principal.merchant_id) if a["id"] == address_id
        )
    return _address(saved)


def _address(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a["id"],
        "network": a["network"],
        "address": a["address"],
        "label": a["label"],
        "created_at": ts(a["created_at"]),
    }


@router.get(
    "/addresses",
    response_model=AddressList,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="Saved payout addresses",
)
async def list_addresses(request: Request, principal: Annotated[Principal, READ]) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        saved = await uow.merchants.addresses(principal.merchant_id)
    return {"data": [_address(a) for a in saved], "next_cursor": None}


@router.delete(
    "/addresses/{address_id}",
    status_code=204,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="Forget a saved address",
)
async def remove_address(
    address_id: AddressId, request: Request, principal: Annotated[Principal, WRITE]
) -> Response:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        await access.remove_address(
            uow,
            rt.ctx,
            principal.merchant_id,
            address_id,
            actor=principal.actor,
            source=principal.source,
        )
    return Response(status_code=204)


@router.get(
    "/audit-log",
    response_model=AuditList,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="The merchant's own audit trail, newest first",
)
async def audit_log(request: Request, principal: Annotated[Principal, READ]) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        entries = await uow.audit.entries(merchant_id=principal.merchant_id, limit=200)
    return {
        "data": [
            {
                "id": e["id"],
                "actor": e["actor"],
                "action": e["action"],
                "subject_id": e["subject_id"],
                "details": e["details"],
                "source": e["source"],
                "created_at": ts(e["created_at"]),
            }
            for e in entries
        ],
        "next_cursor": None,
    }
