"""/v1/payout-imports: mass payouts from a CSV file or JSON rows, processed in the
background by the worker (payoutd.worker.imports) through the one payout entry point."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from payoutd.api import idempotency
from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import pagination
from payoutd.api.v1.params import Cursor, IdempotencyKey, ImportId, Limit
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.imports import (
    COLUMNS,
    MAX_ROWS,
    read_csv,
    read_json_rows,
)
from payoutd.services import imports
from payoutd.services.ports import UnitOfWork

PATH = "/v1/payout-imports"
router = APIRouter(prefix=PATH, tags=["payout imports"])

_ROWS_DOC = (
    f"Up to {MAX_ROWS} payouts, each an object of `POST /v1/payouts`' fields "
    f"({', '.join(COLUMNS)}, metadata), amounts as decimal strings. Numbered from 1."
)


_COLUMN_DOCS: dict[str, str] = {
    "amount": "The amount, a decimal string as in POST /v1/payouts",
    "currency": "The currency of `amount`",
    "network": "The network, when the currency travels on several",
    "address": "Where the payout goes",
    "order_id": "Your id of the payout; left out, one is derived from the upload and the row",
    "memo": "The memo, on networks that take one",
    "payout_currency": "The crypto sent, for a fiat `currency`",
    "balance_currency": "The balance that pays",
    "fee_mode": "`on_top` or `from_amount`",
    "priority": "economy, recommended, high or highest",
    "rate_source": "The rate source for a conversion",
    "approval": "`auto`, or `manual` for an offer",
    "execute_at": "When a scheduled payout is released",
    "comment": "Your note",
    "callback_url": "Where the payout's status webhooks go",
}


class ImportRowIn(BaseModel):
    """One payout: the fields of `POST /v1/payouts`, each a string (checked row by row:
    a row whose values are refused is reported, the others go on)."""

    model_config = ConfigDict(extra="forbid")

    amount: str = Field(description=_COLUMN_DOCS["amount"], examples=["0.5"])
    currency: str = Field(description=_COLUMN_DOCS["currency"], examples=["LTC"])
    address: str = Field(
        description=_COLUMN_DOCS["address"], examples=["LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"]
    )
    network: str | None = Field(default=None, description=_COLUMN_DOCS["network"], examples=["LTC"])
    order_id: str | None = Field(
        default=None, description=_COLUMN_DOCS["order_id"], examples=["payroll-2030-01-42"]
    )
    memo: str | None = Field(default=None, description=_COLUMN_DOCS["memo"], examples=["104"])
    payout_currency: str | None = Field(
        default=None, description=_COLUMN_DOCS["payout_currency"], examples=["USDT"]
    )
    balance_currency: str | None = Field(
        default=None, description=_COLUMN_DOCS["balance_currency"], examples=["USD"]
    )
    fee_mode: str | None = Field(
        default=None, description=_COLUMN_DOCS["fee_mode"], examples=["on_top"]
    )
    priority: str | None = Field(
        default=None, description=_COLUMN_DOCS["priority"], examples=["recommended"]
    )
    rate_source: str | None = Field(
        default=None, description=_COLUMN_DOCS["rate_source"], examples=["static"]
    )
    approval: str | None = Field(
        default=None, description=_COLUMN_DOCS["approval"], examples=["auto"]
    )
    execute_at: str | None = Field(
        default=None, description=_COLUMN_DOCS["execute_at"], examples=["2030-01-01T09:00:00Z"]
    )
    comment: str | None = Field(
        default=None, description=_COLUMN_DOCS["comment"], examples=["January payroll"]
    )
    callback_url: str | None = Field(
        default=None,
        description=_COLUMN_DOCS["callback_url"],
        examples=["https://example.com/hooks"],
    )
    metadata: dict[str, str] | None = Field(
        default=None,
        description="Your own pairs of strings, as a payout's",
        examples=[{"team": "ops"}],
    )


class ImportCreate(BaseModel):
    """The JSON form of an import (the other is a CSV file, `Content-Type: text/csv`)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[ImportRowIn] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        description=_ROWS_DOC,
        examples=[
            [{"amount": "0.5", "currency": "LTC", "address": "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"}]
        ],
    )


class ImportOut(BaseModel):
    """A mass-payout import and its progress: the counts grow as the worker places rows;
    `status` says when it is over."""

    id: str = Field(
        description="The import's id", examples=["01938a6e-0c7b-7d2c-9f3e-2b1f4c5d6e7f"]
    )
    object: Literal["payout_import"] = Field(
        description="Always `payout_import`", examples=["payout_import"]
    )
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="`queued` until a worker takes it, `running` while its rows are "
        "placed, `done` when every row has a result, `failed` when processing stopped "
        "(`error` says why; upload the same file again to place the rest)",
        examples=["running"],
    )
    dry_run: bool = Field(
        description="Priced and checked only: no payout was created, no money held",
        examples=[False],
    )
    total: int = Field(description="Rows in the file", examples=[5000])
    processed: int = Field(description="Rows that have their result", examples=[2500])
    accepted: int = Field(
        description="Rows that created a payout (a dry run: that would create one)",
        examples=[2495],
    )
    existing: int = Field(
        description="Rows whose `order_id` names a payout that exists already: nothing "
        "was created for them (an import of the same file again)",
        examples=[0],
    )
    refused: int = Field(
        description="Rows refused: nothing was created or held for them", examples=[5]
    )
    error: str | None = Field(
        description="Why a `failed` import stopped; null otherwise", examples=[None]
    )
    created_at: str = Field(
        description="When it was uploaded (RFC 3339, UTC)", examples=["2030-01-01T09:00:00Z"]
    )
    finished_at: str | None = Field(
        description="When its last row got its result (RFC 3339, UTC); null until then",
        examples=["2030-01-01T09:00:04Z"],
    )


class ImportList(BaseModel):
    """A page of your imports, newest first."""

    data: list[ImportOut] = Field(description="Imports, newest first", examples=[[]])
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last",
        examples=[None],
    )


class RowError(BaseModel):
    """Why a row was refused: what `POST /v1/payouts` would have answered for it."""

    code: str = Field(
        description="The error code `POST /v1/payouts` answers with (docs/errors.md)",
        examples=["invalid_address"],
    )
    message: str = Field(description="What was wrong", examples=["invalid LTC address"])
    field: str | None = Field(
        description="The field (column) at fault; null when the refusal names none",
        examples=["address"],
    )


class ImportRowOut(BaseModel):
    """One row's result."""

    row: int = Field(
        description="The row's number as a spreadsheet shows it (the CSV header is row 1; "
        "JSON rows count from 1)",
        examples=[2],
    )
    status: Literal["accepted", "existing", "refused"] = Field(
        description="`accepted`: a payout was created (a dry run: would be); `existing`: "
        "its `order_id` names a stored payout, nothing was created; `refused`: see `error`",
        examples=["accepted"],
    )
    order_id: str | None = Field(
        description="The row's `order_id`, or the one derived from the file and the row "
        "when the row names none",
        examples=["imp_3b1f0c9a2e4d5f6a7b8c9d0e_2"],
    )
    payout_id: str | None = Field(
        description="The payout created (`accepted`) or found (`existing`); null when "
        "`refused`, and for an `accepted` row of a dry run",
        examples=["01938a6e-0c7b-7d2c-9f3e-2b1f4c5d6e80"],
    )
    error: RowError | None = Field(
        description="Why the row was refused; null unless `status` is `refused`",
        examples=[None],
    )


class ImportRowList(BaseModel):
    """A page of an import's row results, in file order (rows not yet placed are not
    listed)."""

    data: list[ImportRowOut] = Field(description="Row results in file order", examples=[[]])
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last", examples=[None]
    )


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


_CSV_EXAMPLE = (
    "amount,currency,address,order_id\n0.5,LTC,LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA,pay-1\n"
)
_BODY = {
    "requestBody": {
        "required": True,
        "description": "A CSV file whose header row names the payout API's fields "
        f"({', '.join(COLUMNS)}, and metadata.<key>; unknown columns refuse the file), "
        f"or JSON rows. At most {MAX_ROWS} rows.",
        "content": {
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "UTF-8 CSV, comma-separated, its first row the header",
                    "examples": [_CSV_EXAMPLE],
                },
                "example": _CSV_EXAMPLE,
            },
            "application/json": {"schema": ImportCreate.model_json_schema()},
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=ImportOut,
    responses=responses(
        "bad_request",
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "payload_too_large",
        "idempotency_conflict",
        "idempotency_in_progress",
    ),
    openapi_extra=_BODY,
    summary="Upload payouts in bulk (CSV or JSON)",
)
async def create_import(
    request: Request,
    principal: Annotated[Principal, Depends(require("payouts"))],
    idempotency_key: IdempotencyKey = None,
    dry_run: Annotated[
        bool,
        Query(
            description="Price and check every row, create nothing and hold nothing (the "
            "rows say what would fail); default false",
            examples=[True],
        ),
    ] = False,
) -> JSONResponse:
    """Answers 202 at once; the worker places the rows, each through the same path as
    `POST /v1/payouts`. A refused row never stops the others and moves no money. A row
    without `order_id` gets one derived from the file and its row number, so uploading
    the same file again creates nothing new (its rows come back `existing`)."""
    body = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        file = read_csv(body)
    elif media == "application/json":
        try:
            raw = json.loads(body)
        except ValueError:
            raise PayoutdError("bad_request", "The body is not valid JSON") from None
        if isinstance(raw, dict) and isinstance(raw.get("rows"), list):
            read_json_rows(raw["rows"])  # unknown columns and too many rows, named first
        try:
            parsed = ImportCreate.model_validate(raw)
        except ValidationError as exc:
            raise field_error("validation_error", "rows", _first(exc)) from None
        file = read_json_rows([row.model_dump(exclude_none=True) for row in parsed.rows])
    else:
        raise PayoutdError(
            "bad_request", 'Send the rows as text/csv or as application/json {"rows": [...]}'
        )
    rt = _rt(request)
    merchant_id = principal.merchant_id

    async def work(uow: UnitOfWork) -> tuple[int, Any]:
        imp = await imports.create(uow, rt.ctx, merchant_id, file, dry_run=dry_run)
        return 202, imports.import_view(imp)

    return await idempotency.run(request, rt, merchant_id, work)


def _first(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


@router.get(
    "",
    response_model=ImportList,
    responses=responses("unauthorized", "forbidden_scope", "invalid_cursor", "validation_error"),
    summary="List imports, newest first",
)
async def list_imports(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Your imports, newest first, in pages of `limit`: pass `next_cursor` as `cursor`
    for the next."""
    rt = _rt(request)
    async with rt.db.read() as uow:
        page = await uow.imports.page(
            principal.merchant_id, before_id=pagination.decode(cursor), limit=limit + 1
        )
    page, next_cursor = pagination.cut(page, limit, lambda i: i.id)
    return {"data": [imports.import_view(i) for i in page], "next_cursor": next_cursor}


@router.get(
    "/{import_id}",
    response_model=ImportOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="An import's progress",
)
async def get_import(
    import_id: ImportId, request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        return imports.import_view(await imports.get(uow, principal.merchant_id, import_id))


@router.get(
    "/{import_id}/rows",
    response_model=ImportRowList,
    responses=responses(
        "unauthorized", "forbidden_scope", "not_found", "invalid_cursor", "validation_error"
    ),
    summary="An import's per-row results",
)
async def list_import_rows(
    import_id: ImportId,
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    status: Annotated[
        Literal["accepted", "existing", "refused"] | None,
        Query(description="Only the rows with this result", examples=["refused"]),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            description="The `next_cursor` of the previous page; left out: the first rows of "
            "the file. A cursor this list did not issue is 400 `invalid_cursor`",
            examples=[pagination.encode("100")],
        ),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=pagination.MAX_LIMIT,
            description=f"Rows per page, 1 to {pagination.MAX_LIMIT} (default 100)",
            examples=[100],
        ),
    ] = 100,
) -> dict[str, Any]:
    """The result of each row placed so far, in file order: `accepted` rows name their
    payout, `refused` ones the error `POST /v1/payouts` would have answered."""
    rt = _rt(request)
    after = pagination.decode_seq(cursor)
    async with rt.db.read() as uow:
        await imports.get(uow, principal.merchant_id, import_id)
        found = await uow.imports.results(
            import_id, status=status, after_number=after, limit=limit + 1
        )
    page, next_cursor = pagination.cut(found, limit, lambda r: str(r.number))
    return {"data": [imports.row_view(r) for r in page], "next_cursor": next_cursor}
