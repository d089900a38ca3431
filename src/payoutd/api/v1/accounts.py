"""/v1/balances and /v1/assets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.v1.schemas import AssetList, BalanceList
from payoutd.domain.assets import ASSETS, NETWORKS
from payoutd.domain.money import fmt
from payoutd.services.views import amount

router = APIRouter(prefix="/v1", tags=["balances"])


@router.get(
    "/balances",
    response_model=BalanceList,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="Balances per currency: available, held, and their sum",
)
async def balances(
    request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    """Per currency held: `balance` (everything posted), `held` (by payouts accepted
    and not yet paid, failed or cancelled) and `available` (what new payouts can use)."""
    rt = request.app.state.runtime
    async with rt.db.read() as uow:
        rows = await uow.ledger.balances(principal.merchant_id)
    return {
        "data": [
            {
                "currency": b.currency,
                "available": amount(b.available, b.currency),
                "held": amount(b.held, b.currency),
                "balance": amount(b.balance, b.currency),
            }
            for b in rows
        ],
        "next_cursor": None,
    }


@router.get(
    "/assets",
    response_model=AssetList,
    tags=["assets"],
    responses=responses("unauthorized"),
    summary="Currencies and networks payoutd pays out on",
)
async def assets(
    request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    """Every currency and network payoutd knows: its decimals, limits, whether it
    takes a memo or a priority, and whether it runs on a real node (`live`) or the
    sandbox."""
    chains = request.app.state.runtime.ctx.chains
    data = []
    for (currency, network), a in ASSETS.items():
        net = NETWORKS[network]
        chain = chains.get(network)
        data.append(
            {
                "currency": currency,
                "network": network,
                "network_name": net.name,
                "decimals": a.decimals,
                "min_amount": fmt(a.min_amount.normalize()),
                "max_amount": fmt(a.max_amount.normalize()),
                "priority": net.priced_priority,
                "memo": net.takes_memo,
                "contract": a.contract,
                "mode": chain.mode if chain else "unavailable",
                "confirmations": chain.confirmations if chain else net.confirmations,
            }
        )
    return {"data": data, "next_cursor": None}
