"""Mass payouts: reading a file of payouts (CSV, or the rows of a JSON upload) into rows
that each become one payout request, exactly as `POST /v1/payouts` would take it.

Pure: the bytes in, numbered rows out. A file-level fault (an unknown column, too many
rows, no rows) refuses the whole file before anything is written; a row-level fault (a
malformed amount, an order_id used twice) refuses that row only, with the code and
field the API would answer with."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.money import parse_amount

# The payout API's own create fields (POST /v1/payouts), in the order an export writes
# them; `metadata` travels as one column per key, `metadata.<key>`.
COLUMNS: tuple[str, ...] = (
    "amount",
    "currency",
    "network",
    "address",
    "order_id",
    "memo",
    "payout_currency",
    "balance_currency",
    "fee_mode",
    "priority",
    "rate_source",
    "approval",
    "execute_at",
    "comment",
    "callback_url",
)
METADATA_PREFIX = "metadata."
MAX_ROWS = 10_000

# the create schema's rules (payoutd.api.v1.schemas.PayoutCreate; a test holds the two
# equal), checked here because an import's rows reach the services without the API
MAX_LENGTH: Mapping[str, int] = {
    "currency": 10,
    "address": 128,
    "network": 10,
    "payout_currency": 10,
    "memo": 64,
    "balance_currency": 10,
    "rate_source": 20,
    "callback_url": 2048,
    "comment": 1000,
}
MIN_LENGTH: Mapping[str, int] = {"currency": 2, "address": 1}
CHOICES: Mapping[str, tuple[str, ...]] = {
    "fee_mode": ("on_top", "from_amount"),
    "priority": ("economy", "recommended", "high", "highest"),
    "approval": ("auto", "manual"),
}
ORDER_ID = re.compile(r"^[A-Za-z0-9_\-]{1,100}$")
EXECUTE_AT_YEARS = (2000, 2200)
METADATA_MAX_KEYS, METADATA_KEY_MAX, METADATA_VALUE_MAX = 50, 40, 500

# A row's outcome: a payout created, one found by its order_id (nothing created), or a
# refusal that wrote nothing.
ACCEPTED, EXISTING, REFUSED = "accepted", "existing", "refused"
ROW_STATUSES = (ACCEPTED, EXISTING, REFUSED)
# An import's progress.
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
IMPORT_STATUSES = (QUEUED, RUNNING, DONE, FAILED)


@dataclass(frozen=True, slots=True)
class Row:
    """One payout of the file: its number as a spreadsheet shows it (the CSV header is
    row 1), its fields as given (strings; `metadata` a mapping), and a refusal found
    while reading it (then it is never priced)."""

    number: int
    fields: dict[str, Any]
    refusal: PayoutdError | None = None

    @property
    def order_id(self) -> str | None:
        value = self.fields.get("order_id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class ImportFile:
    digest: str  # sha256 of the content, hex: derives the order_id of a row without one
    rows: list[Row] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RowResult:
    number: int
    status: str  # ROW_STATUSES
    order_id: str | None
    payout_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_field: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutImport:
    id: str
    merchant_id: str
    status: str  # IMPORT_STATUSES
    dry_run: bool
    digest: str
    total: int
    next_row: int  # rows before this index (0-based, in file order) have their result
    accepted: int
    existing: int
    refused: int
    created_at: datetime
    finished_at: datetime | None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    error: str | None = None


def derived_order_id(digest: str, number: int) -> str:
    """The order_id of a row that names none: the same file imported again derives the
    same ones, so it creates nothing new."""
    return f"imp_{digest[:24]}_{number}"


def read_csv(data: bytes) -> ImportFile:
    """A CSV whose header row names the payout API's fields. Refuses the whole file for
    an unknown or repeated column, a missing amount/currency/address column, no rows,
    or more than MAX_ROWS rows."""
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's UTF-8 export may start with a BOM
    except UnicodeDecodeError as exc:
        raise PayoutdError(
            "bad_request", f"The file is not UTF-8 text (byte {exc.start})"
        ) from None
    if "\x00" in text:
        raise PayoutdError("bad_request", "The file contains the NUL character")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise PayoutdError("bad_request", f"The file is not valid CSV: {exc}") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise PayoutdError("validation_error", "The file has no header row")
    header = [cell.strip() for cell in records[0]]
    _check_columns(header)
    rows: list[Row] = []
    # a spreadsheet numbers every record, the header as 1; blank lines keep their number
    for number, cells in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise _too_many()
        if len(cells) > len(header):
            refusal = PayoutdError(
                "validation_error",
                f"The row has {len(cells)} cells; the header names {len(header)} columns",
            )
            rows.append(Row(number, {}, refusal))
            continue
        fields: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=False):
            if cell == "":
                continue  # an empty cell is a field left out
            if name.startswith(METADATA_PREFIX):
                fields.setdefault("metadata", {})[name[len(METADATA_PREFIX) :]] = cell
            else:
                fields[name] = cell
        rows.append(Row(number, fields))
    return _finish(hashlib.sha256(data).hexdigest(), rows)


def read_json_rows(rows: Sequence[Any]) -> ImportFile:
    """The rows of a JSON upload (`{"rows": [...]}`), each an object of the payout API's
    fields; numbered from 1 in array order. Unknown keys refuse the whole upload."""
    if len(rows) > MAX_ROWS:
        raise _too_many()
    unknown: dict[str, list[int]] = {}
    for number, item in enumerate(rows, start=1):
        if not isinstance(item, dict):
            raise field_error("validation_error", "rows", f"Row {number} is not an object")
        for key in item:
            if key not in COLUMNS and key != "metadata":
                unknown.setdefault(str(key), []).append(number)
    if unknown:
        raise _unknown(sorted(unknown))
    canonical = json.dumps(list(rows), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    parsed = [
        Row(number, {k: v for k, v in item.items() if v is not None})
        for number, item in enumerate(rows, start=1)
    ]
    return _finish(digest, parsed)


def _check_columns(header: list[str]) -> None:
    unknown = [
        name
        for name in header
        if name not in COLUMNS
        and not (name.startswith(METADATA_PREFIX) and len(name) > len(METADATA_PREFIX))
    ]
    if unknown:
        raise _unknown(unknown)
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise PayoutdError(
            "validation_error",
            f"Columns named twice: {', '.join(repeated)}",
            fields={name: ["named twice in the header"] for name in repeated},
        )
    missing = [name for name in ("amount", "currency", "address") if name not in header]
    if missing:
        raise PayoutdError(
            "validation_error",
            f"Missing columns: {', '.join(missing)}",
            fields={name: ["a required column"] for name in missing},
        )


def _unknown(names: Sequence[str]) -> PayoutdError:
    return PayoutdError(
        "validation_error",
        f"Unknown columns: {', '.join(names)}. The columns are the payout API's fields: "
        f"{', '.join(COLUMNS)}, and metadata.<key>",
        fields={name: ["unknown column"] for name in names},
    )


def _too_many() -> PayoutdError:
    return PayoutdError(
        "payload_too_large", f"An import holds at most {MAX_ROWS} rows: split the file"
    )


def _finish(digest: str, rows: list[Row]) -> ImportFile:
    """Derive the missing order_ids; a row repeating an earlier row's order_id is refused
    (which of the two the merchant meant is not for payoutd to guess; the earlier one is
    placed, as the API places the first of two creates with one order_id)."""
    if not rows:
        raise PayoutdError("validation_error", "The file has no rows")
    seen: dict[str, int] = {}
    done: list[Row] = []
    for row in rows:
        fields = dict(row.fields)
        if row.refusal is None and "order_id" not in fields:
            fields["order_id"] = derived_order_id(digest, row.number)
        refusal = row.refusal
        order_id = fields.get("order_id")
        if refusal is None and isinstance(order_id, str):
            first = seen.setdefault(order_id, row.number)
            if first != row.number:
                refusal = field_error(
                    "validation_error",
                    "order_id",
                    f"order_id {order_id} is already used by row {first} of this import",
                )
        done.append(Row(row.number, fields, refusal))
    return ImportFile(digest, done)


def check_row(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A row's fields as the create schema takes them (the amount a Decimal, execute_at
    an aware datetime in UTC), or the refusal the API would answer with, naming the
    field."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "metadata":
            out[name] = _metadata(value)
            continue
        if not isinstance(value, str):
            raise field_error("validation_error", name, f"{name} must be a string")
        if name == "amount":
            try:
                out[name] = parse_amount(value)
            except ValueError as exc:
                raise field_error("invalid_amount", "amount", f"amount {exc}") from None
        elif name == "execute_at":
            out[name] = _instant(value)
        elif name == "order_id":
            if not ORDER_ID.match(value):
                raise field_error(
                    "validation_error",
                    "order_id",
                    "order_id must be 1 to 100 letters, digits, '_' or '-'",
                )
            out[name] = value
        elif name in CHOICES:
            if value not in CHOICES[name]:
                raise field_error(
                    "validation_error", name, f"{name} must be one of {', '.join(CHOICES[name])}"
                )
            out[name] = value
        else:
            low, high = MIN_LENGTH.get(name, 0), MAX_LENGTH.get(name)
            if len(value) < low or (high is not None and len(value) > high):
                raise field_error(
                    "validation_error", name, f"{name} must be {low} to {high} characters"
                )
            out[name] = value
    for required in ("amount", "currency", "address"):
        if required not in out:
            raise field_error("validation_error", required, f"{required} is required")
    return out


def _instant(value: str) -> datetime:
    """As the API's execute_at: RFC 3339 with its offset, years 2000 to 2200, in UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or "T" not in value.upper() or parsed.utcoffset() is None:
        raise field_error(
            "validation_error",
            "execute_at",
            "execute_at must be a date-time with its UTC offset, e.g. 2030-01-01T09:00:00Z",
        )
    low, high = EXECUTE_AT_YEARS
    if not low <= parsed.year <= high:
        raise field_error("validation_error", "execute_at", f"must be in the years {low} to {high}")
    return parsed.astimezone(UTC)


def _metadata(value: Any) -> dict[str, str]:
    bad = field_error(
        "validation_error",
        "metadata",
        f"metadata holds at most {METADATA_MAX_KEYS} keys of 1 to {METADATA_KEY_MAX} "
        f"characters, each value a string of at most {METADATA_VALUE_MAX}",
    )
    if not isinstance(value, dict) or len(value) > METADATA_MAX_KEYS:
        raise bad
    for k, v in value.items():
        if not isinstance(k, str) or not 1 <= len(k) <= METADATA_KEY_MAX:
            raise bad
        if not isinstance(v, str) or len(v) > METADATA_VALUE_MAX:
            raise bad
    return dict(value)
