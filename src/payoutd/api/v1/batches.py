"""/v1/batches: the chain transactions that carried payouts, and what batching saved."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.v1 import pagination
from payoutd.api.v1.params import BatchId, Cursor, Limit
from payoutd.api.v1.schemas import BatchList, BatchOut
from payoutd.bootstrap import Runtime
from payoutd.domain.batches import Batch
from payoutd.domain.errors import PayoutdError
from payoutd.services import shares
from payoutd.services.views import amount, ts
from payoutd.store.uow import UnitOfWork

router = APIRouter(prefix="/v1/batches", tags=["batches"])


async def _view(uow: UnitOfWork, b: Batch, merchant_id: str | None) -> dict[str, Any]:
    members = await uow.payouts.in_batch(b.id)
    fee, unbatched_fee = b.fee, b.unbatched_fee
    # A batch may carry several merchants' payouts: each sees only its own, and its own
    # share of the counts and the fees (payoutd.services.shares).
    mine = [p for p in members if merchant_id is None or p.merchant_id == merchant_id]
    output_count, txid = b.output_count, b.txid
    if merchant_id is not None:
        output_count = len({(p.address, p.memo) for p in mine})
        if b.output_txids:
            # an account chain's batch is a run of transactions, one per output: the
            # run's first may be another merchant's (its recipient and amount, on chain)
            txid = mine[0].txid if mine else None
        if b.fee_currency is not None:
            fee, unbatched_fee = (
                None if v is None else shares.fee_share(members, merchant_id, v, b.fee_currency)
                for v in (b.fee, b.unbatched_fee)
            )
    saved = (unbatched_fee - fee) if unbatched_fee is not None and fee is not None else None
    shown = functools.partial(amount, currency=b.fee_currency or b.currency)
    return {
        "id": b.id,
        "object": "batch",
        "network": b.network,
        "currency": b.currency,
        "status": b.status,
        "txid": txid,
        "fee": shown(fee),
        "fee_currency": b.fee_currency,
        "unbatched_fee": shown(unbatched_fee),
        "fee_saved": shown(saved),
        "output_count": output_count,
        "payout_count": b.payout_count if merchant_id is None else len(mine),
        "confirmations": b.confirmations,
        "created_at": ts(b.created_at),
        "broadcast_at": ts(b.broadcast_at),
        "payouts": [
            {
                "id": p.id,
                "status": p.status.value,
                "address": p.address,
                "final_amount": amount(p.final_amount, p.payout_currency, p.network),
            }
            for p in mine
        ],
    }


@router.get(
    "",
    response_model=BatchList,
    responses=responses("unauthorized", "forbidden_scope", "invalid_cursor"),
    summary="Batches that carried this merchant's payouts, newest first",
)
async def list_batches(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    merchant_id = principal.key.merchant_id  # None for an operator key: every batch
    async with rt.db.read() as uow:
        page = await uow.batches.page(
            merchant_id=merchant_id, before_id=pagination.decode(cursor), limit=limit + 1
        )
        page, next_cursor = pagination.cut(page, limit, lambda b: b.id)
        data = [await _view(uow, b, merchant_id) for b in page]
    return {"data": data, "next_cursor": next_cursor}


@router.get(
    "/{batch_id}",
    response_model=BatchOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="One batch: its payouts, txid, fee paid and the fee batching saved",
)
async def get_batch(
    batch_id: BatchId, request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    merchant_id = principal.key.merchant_id
    async with rt.db.read() as uow:
        batch = await uow.batches.get(batch_id)
        if batch is None:
            raise PayoutdError("not_found", "Batch not found")
        view = await _view(uow, batch, merchant_id)
    if merchant_id is not None and not view["payouts"]:
        raise PayoutdError("not_found", "Batch not found")  # not this merchant's: 404
    return view
