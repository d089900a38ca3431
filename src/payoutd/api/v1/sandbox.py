"""/v1/sandbox: what the sandbox chain mined, rules that make it misbehave, and incoming
transfers simulated into an address (off-ramp funding)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.v1 import pagination
from payoutd.api.v1.schemas import (
    SandboxDepositCreate,
    SandboxDepositOut,
    SandboxRuleCreate,
    SandboxRuleOut,
    SandboxTxList,
)
from payoutd.chains import sandbox
from payoutd.domain.assets import NETWORKS
from payoutd.domain.errors import field_error
from payoutd.domain.payout import Payout
from payoutd.services import shares
from payoutd.services.views import amount

router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


@router.get(
    "/transactions",
    response_model=SandboxTxList,
    responses=responses("unauthorized", "invalid_cursor"),
    summary="Transactions the sandbox chain received, newest first (for a merchant: "
    "those carrying its payouts, its own outputs and fee share only)",
)
async def transactions(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    network: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = 50,
) -> dict[str, Any]:
    rt = request.app.state.runtime
    merchant_id = principal.key.merchant_id  # None for an operator key: every transaction
    rows = await sandbox.transactions(
        rt.db,
        network=network and network.upper(),
        before_seq=pagination.decode_seq(cursor),
        limit=limit + 1,
        merchant_id=merchant_id,
    )
    rows, next_cursor = pagination.cut(rows, limit, lambda r: str(r["seq"]))
    members: dict[str, list[Payout]] = {}
    if merchant_id is not None:
        async with rt.db.read() as uow:
            members = await uow.payouts.in_transactions([r["txid"] for r in rows])
    data = []
    for row in rows:
        fee = row["fee"]
        if merchant_id is not None:
            carried = members.get(row["txid"], [])
            fee = shares.fee_share(carried, merchant_id, fee, row["fee_currency"])
            row = {
                **row,
                "outputs": shares.own_outputs(
                    row["outputs"], carried, merchant_id, row["currency"], row["network"]
                ),
            }
        data.append({**row, "fee": amount(fee, row["fee_currency"])})
    return {"data": data, "next_cursor": next_cursor}


@router.post(
    "/rules",
    status_code=201,
    response_model=SandboxRuleOut,
    responses=responses("unauthorized", "forbidden_scope", "validation_error"),
    summary="Make the sandbox reject, drop or delay transactions to an address",
)
async def add_rule(
    body: SandboxRuleCreate,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt = request.app.state.runtime
    network = body.network and body.network.upper()
    if network is not None and network not in NETWORKS:
        # an unknown network matches nothing; upper-casing may also lengthen it ("ß")
        raise field_error("validation_error", "network", f"unknown network {body.network!r}")
    rule_id = await sandbox.add_rule(
        rt.db, address=body.address, action=body.action, network=network, blocks=body.blocks
    )
    return {"id": rule_id}


@router.post(
    "/deposits",
    status_code=201,
    response_model=SandboxDepositOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "service_not_found",
        "currency_not_found",
        "invalid_address",
        "invalid_amount",
    ),
    summary="Simulate an incoming transfer into an address on the sandbox chain (what funds "
    "an off-ramp when paid into a funding wallet)",
)
async def add_deposit(
    body: SandboxDepositCreate,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt = request.app.state.runtime
    chain = rt.ctx.chains.get(body.network.upper())
    if not isinstance(chain, sandbox.SandboxChain):
        raise field_error(
            "service_not_found", "network", f"The sandbox chain does not serve {body.network!r}"
        )
    return await chain.receive(body.currency, body.address, body.amount, body.sender)
