"""Reading a mass payout file (domain.imports): columns, row numbers, derived order_ids,
refusals, and the rules a row shares with the API's create schema."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from annotated_types import MaxLen, MinLen

from payoutd.api.v1.schemas import PayoutCreate
from payoutd.domain import imports
from payoutd.domain.errors import PayoutdError

ADDR = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"


def test_the_columns_are_the_create_schemas_fields() -> None:
    assert {*imports.COLUMNS, "metadata"} == set(PayoutCreate.model_fields)


@pytest.mark.parametrize("name", sorted(imports.MAX_LENGTH))
def test_a_rows_limits_are_the_create_schemas(name: str) -> None:
    info = PayoutCreate.model_fields[name]
    maxima = [m.max_length for m in info.metadata if isinstance(m, MaxLen)]
    minima = [m.min_length for m in info.metadata if isinstance(m, MinLen)]
    assert maxima == [imports.MAX_LENGTH[name]]
    assert minima == ([imports.MIN_LENGTH[name]] if name in imports.MIN_LENGTH else [])


@pytest.mark.parametrize("name", sorted(imports.CHOICES))
def test_a_rows_choices_are_the_create_schemas(name: str) -> None:
    annotation = PayoutCreate.model_fields[name].annotation
    # Literal[...] or Literal[...] | None
    literal = next(
        a
        for a in (annotation, *typing.get_args(annotation))
        if typing.get_origin(a) is typing.Literal
    )
    assert set(typing.get_args(literal)) == set(imports.CHOICES[name])


def test_order_id_pattern_is_the_create_schemas() -> None:
    pattern = next(
        m.pattern for m in PayoutCreate.model_fields["order_id"].metadata if hasattr(m, "pattern")
    )
    assert pattern == imports.ORDER_ID.pattern


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    data = (
        "\ufeffamount,currency,address,order_id,metadata.team\r\n"
        f"0.5,LTC,{ADDR},a-1,ops\r\n"
        "\r\n"  # a blank line keeps its number
        f'"1.25",LTC,{ADDR},,"multi\nline"\r\n'
    ).encode()
    f = imports.read_csv(data)
    assert [r.number for r in f.rows] == [2, 4]
    assert f.rows[0].fields == {
        "amount": "0.5",
        "currency": "LTC",
        "address": ADDR,
        "order_id": "a-1",
        "metadata": {"team": "ops"},
    }
    # no order_id: one derived from the file's digest and the row
    assert f.rows[1].order_id == imports.derived_order_id(f.digest, 4)
    assert imports.read_csv(data).rows[1].order_id == f.rows[1].order_id
    other = imports.read_csv(data.replace(b"1.25", b"1.26"))
    assert other.rows[1].order_id != f.rows[1].order_id


def test_a_repeated_order_id_refuses_the_later_row() -> None:
    f = imports.read_csv(
        f"amount,currency,address,order_id\n1,LTC,{ADDR},x\n2,LTC,{ADDR},x\n".encode()
    )
    assert f.rows[0].refusal is None
    refusal = f.rows[1].refusal
    assert refusal is not None and refusal.code == "validation_error"
    assert refusal.fields == {"order_id": ["order_id x is already used by row 2 of this import"]}


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"amount,currency,address,colour\n1,LTC,a,red\n", "validation_error", "colour"),
        (b"amount,currency,address,amount\n1,LTC,a,2\n", "validation_error", "named twice"),
        (b"amount,currency\n1,LTC\n", "validation_error", "Missing columns: address"),
        (b"amount,currency,address\n", "validation_error", "no rows"),
        (b"", "validation_error", "no header"),
        (b"amount,currency,address\n\xff\n", "bad_request", "UTF-8"),
        (b"amount,currency,address\n1,LTC,a\x00\n", "bad_request", "NUL"),
    ],
)
def test_a_bad_file_is_refused_whole(data: bytes, code: str, words: str) -> None:
    with pytest.raises(PayoutdError) as caught:
        imports.read_csv(data)
    assert caught.value.code == code and words in caught.value.message


def test_too_many_rows() -> None:
    data = b"amount,currency,address\n" + b"1,LTC,a\n" * (imports.MAX_ROWS + 1)
    with pytest.raises(PayoutdError) as caught:
        imports.read_csv(data)
    assert caught.value.code == "payload_too_large" and caught.value.status == 413
    assert len(imports.read_csv(b"amount,currency,address\n" + b"1,LTC,a\n" * 10).rows) == 10


def test_a_row_with_more_cells_than_columns_is_refused_alone() -> None:
    f = imports.read_csv(f"amount,currency,address\n1,5,LTC,{ADDR}\n1,LTC,{ADDR}\n".encode())
    assert f.rows[0].refusal is not None and f.rows[0].refusal.code == "validation_error"
    assert f.rows[1].refusal is None


def test_check_row() -> None:
    fields = imports.check_row(
        {
            "amount": "1.50",
            "currency": "LTC",
            "address": ADDR,
            "execute_at": "2030-01-01T10:00:00+01:00",
            "approval": "manual",
        }
    )
    assert fields["amount"] == Decimal("1.50")
    assert fields["execute_at"] == datetime(2030, 1, 1, 9, tzinfo=UTC)

    def refusal(**changed: object) -> tuple[str, list[str]]:
        row = {"amount": "1", "currency": "LTC", "address": ADDR, **changed}
        with pytest.raises(PayoutdError) as caught:
            imports.check_row({k: v for k, v in row.items() if v is not None})
        return caught.value.code, list(caught.value.fields)

    assert refusal(amount="1,5") == ("invalid_amount", ["amount"])
    assert refusal(amount="-1") == ("invalid_amount", ["amount"])
    assert refusal(amount="1e3") == ("invalid_amount", ["amount"])
    assert refusal(amount=None) == ("validation_error", ["amount"])
    assert refusal(execute_at="2030-01-01") == ("validation_error", ["execute_at"])
    assert refusal(execute_at="2030-01-01T09:00:00") == ("validation_error", ["execute_at"])
    assert refusal(execute_at="2999-01-01T09:00:00Z") == ("validation_error", ["execute_at"])
    assert refusal(fee_mode="sideways") == ("validation_error", ["fee_mode"])
    assert refusal(order_id="a b") == ("validation_error", ["order_id"])
    assert refusal(memo="m" * 65) == ("validation_error", ["memo"])
    assert refusal(currency="L") == ("validation_error", ["currency"])
    assert refusal(metadata={"k": 1}) == ("validation_error", ["metadata"])


def test_json_rows() -> None:
    rows = [{"amount": "1", "currency": "LTC", "address": ADDR, "metadata": {"a": "b"}}]
    f = imports.read_json_rows(rows)
    assert f.rows[0].number == 1 and f.rows[0].fields["metadata"] == {"a": "b"}
    assert f.rows[0].order_id == imports.derived_order_id(f.digest, 1)
    with pytest.raises(PayoutdError) as caught:
        imports.read_json_rows([{"amount": "1", "colour": "red"}])
    assert "colour" in caught.value.message
    with pytest.raises(PayoutdError):
        imports.read_json_rows(["not an object"])
    with pytest.raises(PayoutdError):
        imports.read_json_rows([])
