"""Mass payouts from the dashboard: upload a CSV (the columns of `POST /v1/payouts`), then
watch it being placed, with live progress (htmx polls a fragment until the import is
done) and every row's result. The same calls as POST /v1/payout-imports and GET
/v1/payout-imports/{id}: domain.imports reads the file, services.imports stores it, and
the worker places each row through the one payout entry point."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from payoutd.api.dashboard.pages import (
    DashboardRoute,
    form,
    redirect,
    render,
    runtime,
    viewer,
)
from payoutd.api.v1 import pagination
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.imports import COLUMNS, read_csv
from payoutd.services import imports

router = APIRouter(prefix="/dashboard", route_class=DashboardRoute, include_in_schema=False)

PATH = "/dashboard/imports"  # the upload: given the import body limit (api.app)
PAGE_SIZE = 25
ROWS_PAGE = 100
RUNNING = ("queued", "running")


async def _list(request: Request, status_code: int = 200, **context: object) -> Response:
    v = await viewer(request)
    async with runtime(request).db.read() as uow:
        page = await uow.imports.page(
            v.principal.merchant_id,
            before_id=pagination.decode(request.query_params.get("cursor")),
            limit=PAGE_SIZE + 1,
        )
    page, next_cursor = pagination.cut(page, PAGE_SIZE, lambda i: i.id)
    context.setdefault("error", None)
    return render(
        request,
        "imports.html",
        v,
        status_code,
        imports=[imports.import_view(i) for i in page],
        next_cursor=next_cursor,
        columns=COLUMNS,
        **context,
    )


@router.get("/imports")
async def import_list(request: Request) -> Response:
    return await _list(request)


@router.post("/imports")
async def upload(request: Request) -> Response:
    v = await viewer(request, "payouts")
    data = await form(request, v.session)
    file = data.get("file")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise field_error("validation_error", "file", "Choose a CSV file")
        rows = read_csv(await file.read())
        rt = runtime(request)
        async with rt.db.unit() as uow:
            imp = await imports.create(
                uow, rt.ctx, v.principal.merchant_id, rows, dry_run=data.get("dry_run") == "on"
            )
    except PayoutdError as err:
        return await _list(request, err.status, error=err)
    return redirect(f"/dashboard/imports/{imp.id}")


@router.get("/imports/{import_id}")
async def import_detail(import_id: str, request: Request) -> Response:
    v = await viewer(request)
    status = request.query_params.get("status") or None
    if status not in (None, "accepted", "existing", "refused"):
        raise field_error("validation_error", "status", "status: accepted, existing or refused")
    async with runtime(request).db.read() as uow:
        imp = await imports.get(uow, v.principal.merchant_id, import_id)
        found = await uow.imports.results(
            import_id,
            status=status,
            after_number=pagination.decode_seq(request.query_params.get("cursor")),
            limit=ROWS_PAGE + 1,
        )
    page, next_cursor = pagination.cut(found, ROWS_PAGE, lambda r: str(r.number))
    return render(
        request,
        "import.html",
        v,
        imp=imports.import_view(imp),
        running=imp.status in RUNNING,
        rows=[imports.row_view(r) for r in page],
        row_status=status,
        next_cursor=next_cursor,
    )


@router.get("/imports/{import_id}/progress")
async def progress(import_id: str, request: Request) -> Response:
    """The progress fragment htmx swaps in every second; once the import is done it
    answers without the polling trigger, so the polling stops, and tells htmx to load
    the whole page again (the rows' results are in)."""
    v = await viewer(request)
    async with runtime(request).db.read() as uow:
        imp = await imports.get(uow, v.principal.merchant_id, import_id)
    running = imp.status in RUNNING
    response = render(
        request, "import_progress.html", v, imp=imports.import_view(imp), running=running
    )
    if not running:
        response.headers["HX-Refresh"] = "true"
    return response
