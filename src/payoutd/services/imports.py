"""Mass payouts: an import of many payouts at once, from a CSV file or JSON rows.

Every row is a payout request taken through the one way payouts are created: priced by
`services.payouts.quote`, placed by `services.payouts.place_many` (the functions under the
native `POST /v1/payouts`). A chunk of rows is placed in one transaction together with
their results and the import's progress, so a worker killed mid-file leaves either all
of a chunk or none of it, and the next worker resumes at the first row without a result.
A refused row writes nothing and holds no money; the rows after it go on. A row whose
order_id is stored already answers that payout (`existing`) and creates nothing, so
importing the same file again creates nothing new.

The caller (the worker's job, or the CLI) owns the transactions: pricing may call the
network (rates, a chain's fee estimate), so it runs between them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from payoutd.domain.access import MerchantPolicy
from payoutd.domain.errors import PayoutdError
from payoutd.domain.fees import ServiceFee
from payoutd.domain.imports import (
    ACCEPTED,
    COLUMNS,
    DONE,
    EXISTING,
    METADATA_PREFIX,
    QUEUED,
    REFUSED,
    RUNNING,
    ImportFile,
    PayoutImport,
    Row,
    RowResult,
    check_row,
)
from payoutd.domain.payout import Payout
from payoutd.ids import new_id
from payoutd.services import access, payouts
from payoutd.services.context import Context
from payoutd.services.ports import UnitOfWork
from payoutd.services.views import payout_view, ts

# Rows placed per transaction: the intake's largest group commit (api.intake.Intake's
# max_batch), so a chunk shares a commit's fixed cost as widely and holds SQLite's write
# lock (and, on SQLite, the event loop of a process that also serves the API) no longer.
CHUNK_ROWS = 256
# A worker holds an import this long past its last chunk; one that dies is followed
# after it (a chunk takes well under a second).
LEASE = timedelta(seconds=60)


class LeaseLost(Exception):
    """Another worker holds the import now (this one was too slow): the chunk placed in
    this transaction must be rolled back."""


@dataclass(frozen=True, slots=True)
class Terms:
    """What a merchant's payouts are priced and placed with, read once per import."""

    fees: Mapping[str, ServiceFee]
    policy: MerchantPolicy | None


async def create(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    file: ImportFile,
    *,
    dry_run: bool = False,
    owner: str | None = None,
) -> PayoutImport:
    """Store an import of `file`'s rows, `queued` for the worker; with `owner`, already
    `running` under that caller's lease (the CLI processes its own)."""
    if await uow.merchants.get(merchant_id) is None:
        raise PayoutdError("merchant_not_found")
    now = ctx.clock.now()
    imp = PayoutImport(
        id=new_id(),
        merchant_id=merchant_id,
        status=QUEUED if owner is None else RUNNING,
        dry_run=dry_run,
        digest=file.digest,
        total=len(file.rows),
        next_row=0,
        accepted=0,
        existing=0,
        refused=0,
        created_at=now,
        finished_at=None,
        lease_owner=owner,
        lease_until=None if owner is None else now + LEASE,
    )
    await uow.imports.add(imp, file.rows)
    return imp


async def get(uow: UnitOfWork, merchant_id: str, import_id: str) -> PayoutImport:
    found = await uow.imports.get(merchant_id, import_id)
    if found is None:
        raise PayoutdError("not_found", "Import not found")
    return found


async def claim(uow: UnitOfWork, ctx: Context, owner: str) -> PayoutImport | None:
    """The oldest import waiting for a worker (or left by one that died), now `owner`'s."""
    now = ctx.clock.now()
    return await uow.imports.claim(owner, now, now + LEASE)


async def fail(uow: UnitOfWork, ctx: Context, import_id: str, owner: str, error: str) -> None:
    """Processing stopped on an error that is no row's: the import is `failed` with it.
    What was placed stays placed; the same file uploaded again places only the rest."""
    await uow.imports.fail(import_id, owner, error, ctx.clock.now())


async def terms(uow: UnitOfWork, merchant_id: str) -> Terms:
    fees = await uow.service_fees.of_many([merchant_id])
    return Terms(fees.get(merchant_id, {}), await uow.merchants.policy(merchant_id))


async def price(
    ctx: Context, merchant_terms: Terms, rows: Sequence[Row]
) -> list[payouts.Quote | PayoutdError]:
    """Each row priced as `POST /v1/payouts` prices it, or its refusal. No transaction."""
    priced: list[payouts.Quote | PayoutdError] = []
    for row in rows:
        if row.refusal is not None:
            priced.append(row.refusal)
            continue
        try:
            request = payouts.PayoutRequest(**check_row(row.fields))
            priced.append(await payouts.quote(ctx, merchant_terms.fees, request))
        except PayoutdError as err:
            priced.append(err)
    return priced


async def place(
    uow: UnitOfWork,
    ctx: Context,
    imp: PayoutImport,
    owner: str,
    rows: Sequence[Row],
    priced: Sequence[payouts.Quote | PayoutdError],
    merchant_terms: Terms,
) -> PayoutImport:
    """Place the priced rows that follow `imp.next_row` (`place_many`, in the caller's
    transaction) and record every row's result with the import's progress. A dry run
    places nothing: a row is `existing` when its order_id is stored, else `accepted`
    when it priced and the balance covers it with the rows before it. Raises LeaseLost
    when `owner` no longer holds the import (nothing may be committed then)."""
    if imp.dry_run:
        results = await _rehearse(uow, ctx, imp, rows, priced, merchant_terms)
    else:
        results = await _place(uow, ctx, imp, rows, priced, merchant_terms)
    now = ctx.clock.now()
    next_row = imp.next_row + len(rows)
    if not await uow.imports.advance(
        imp, owner, results, next_row=next_row, now=now, lease_until=now + LEASE
    ):
        raise LeaseLost(imp.id)
    finished = next_row >= imp.total
    return replace(
        imp,
        next_row=next_row,
        accepted=imp.accepted + sum(1 for r in results if r.status == ACCEPTED),
        existing=imp.existing + sum(1 for r in results if r.status == EXISTING),
        refused=imp.refused + sum(1 for r in results if r.status == REFUSED),
        status=DONE if finished else RUNNING,
        finished_at=now if finished else None,
    )


async def _place(
    uow: UnitOfWork,
    ctx: Context,
    imp: PayoutImport,
    rows: Sequence[Row],
    priced: Sequence[payouts.Quote | PayoutdError],
    merchant_terms: Terms,
) -> list[RowResult]:
    quoted = [(i, q) for i, q in enumerate(priced) if not isinstance(q, PayoutdError)]
    answers = await payouts.place_many(
        uow,
        ctx,
        [payouts.Placement(imp.merchant_id, q, merchant_terms.policy) for _, q in quoted],
    )
    outcome: dict[int, payouts.Placed | PayoutdError] = {
        i: a for (i, _), a in zip(quoted, answers, strict=True)
    }
    results = []
    for i, (row, quote) in enumerate(zip(rows, priced, strict=True)):
        answer = quote if isinstance(quote, PayoutdError) else outcome[i]
        if isinstance(answer, PayoutdError):
            results.append(_refused(row, answer))
        else:
            status = ACCEPTED if answer.created else EXISTING
            results.append(RowResult(row.number, status, row.order_id, answer.payout.id))
    return results


async def _rehearse(
    uow: UnitOfWork,
    ctx: Context,
    imp: PayoutImport,
    rows: Sequence[Row],
    priced: Sequence[payouts.Quote | PayoutdError],
    merchant_terms: Terms,
) -> list[RowResult]:
    merchant, policy, now = imp.merchant_id, merchant_terms.policy, ctx.clock.now()
    checked: list[payouts.Quote | PayoutdError] = []
    for quote in priced:
        if not isinstance(quote, PayoutdError):
            # what placing checks besides the money (services.payouts._new_payout)
            try:
                access.ensure_payouts_allowed(policy, now)
                if quote.address is not None:
                    await access.ensure_address_allowed(
                        uow, policy, merchant, quote.asset.network, quote.address
                    )
            except PayoutdError as err:
                quote = err
        checked.append(quote)
    priced = checked
    stored = await uow.payouts.by_order_ids(
        [(merchant, r.order_id) for r in rows if r.order_id is not None]
    )
    debits = {
        q.plan.debit_currency
        for q in priced
        if not isinstance(q, PayoutdError) and q.request.approval == "auto"
    }
    balances = await uow.ledger.balances_of([(merchant, c) for c in sorted(debits)])
    left: dict[str, Decimal] = {c: b.available for (_, c), b in balances.items()}
    results = []
    for row, quote in zip(rows, priced, strict=True):
        existing = stored.get((merchant, row.order_id or ""))
        if existing is not None:
            results.append(RowResult(row.number, EXISTING, row.order_id, existing.id))
        elif isinstance(quote, PayoutdError):
            results.append(_refused(row, quote))
        elif quote.request.approval == "auto":
            # funds are held in file order, as the real import holds them
            currency, debit = quote.plan.debit_currency, quote.plan.debit_amount
            if left.get(currency, Decimal(0)) < debit:
                results.append(
                    _refused(row, PayoutdError("insufficient_funds", fields={"amount": []}))
                )
            else:
                left[currency] -= debit
                results.append(RowResult(row.number, ACCEPTED, row.order_id))
        else:
            results.append(RowResult(row.number, ACCEPTED, row.order_id))
    return results


def _refused(row: Row, err: PayoutdError) -> RowResult:
    return RowResult(
        row.number,
        REFUSED,
        row.order_id,
        None,
        err.code,
        err.message,
        next(iter(err.fields), None),
    )


def import_view(imp: PayoutImport) -> dict[str, Any]:
    return {
        "id": imp.id,
        "object": "payout_import",
        "status": imp.status,
        "dry_run": imp.dry_run,
        "total": imp.total,
        "processed": imp.next_row,
        "accepted": imp.accepted,
        "existing": imp.existing,
        "refused": imp.refused,
        "error": imp.error,
        "created_at": ts(imp.created_at),
        "finished_at": ts(imp.finished_at),
    }


def row_view(result: RowResult) -> dict[str, Any]:
    return {
        "row": result.number,
        "status": result.status,
        "order_id": result.order_id,
        "payout_id": result.payout_id,
        "error": None
        if result.error_code is None
        else {
            "code": result.error_code,
            "message": result.error_message,
            "field": result.error_field,
        },
    }


# What an export writes after the import's own columns: what payoutd made of each payout.
EXPORT_EXTRA = (
    "payout_amount",
    "fee_network",
    "fee_service",
    "fee_total",
    "final_amount",
    "debit_amount",
    "debit_currency",
    "txid",
    "batch_id",
    "failure_reason",
    "created_at",
    "updated_at",
)


def export_columns(metadata_keys: Sequence[str]) -> list[str]:
    """An export's header: the id and status, the import's columns (so the file reads as
    the payouts were asked for), metadata.<key> for every key used, then the rest."""
    return [
        "id",
        "status",
        *COLUMNS,
        *(f"{METADATA_PREFIX}{k}" for k in metadata_keys),
        *EXPORT_EXTRA,
    ]


def export_row(p: Payout) -> dict[str, str]:
    """A payout as one CSV row, its values as the API shows them (empty cells for what
    it does not have)."""
    v = payout_view(p)
    values: dict[str, Any] = {
        **{k: v.get(k) for k in ("id", "status", *COLUMNS) if k in v},
        "balance_currency": v["debit"]["currency"],
        "rate_source": v["rate"]["source"],
        "fee_network": v["fees"]["network"],
        "fee_service": v["fees"]["service"],
        "fee_total": v["fees"]["total"],
        "debit_amount": v["debit"]["amount"],
        "debit_currency": v["debit"]["currency"],
        **{k: v[k] for k in EXPORT_EXTRA if k in v},
    }
    values.update({f"{METADATA_PREFIX}{k}": val for k, val in p.metadata.items()})
    return {k: "" if val is None else str(val) for k, val in values.items()}
