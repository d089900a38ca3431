"""Text no database can store is refused at the edge, the same on SQLite and PostgreSQL.

PostgreSQL refuses the NUL character in text and JSON ("invalid byte sequence for
encoding UTF8: 0x00") and neither database takes a lone UTF-16 surrogate (a JSON body
may spell one as "\\ud800"): such input reached the store and came back as a 500. It is
no id of anything (404) and no valid field value (422 `validation_error`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from payoutd.domain.errors import PayoutdError, field_error

MESSAGE = "must not contain the NUL character or unpaired surrogates"


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable(value: Any, where: str) -> str | None:
    """The path of the first unstorable string in a decoded JSON value, or None."""
    if isinstance(value, str):
        return None if storable(value) else where
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{where}.{key}" if where != "body" else str(key)
            if not storable(str(key)):
                return here
            found = _unstorable(item, here)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _unstorable(item, f"{where}.{i}")
            if found:
                return found
    return None


async def storable_input(request: Request) -> None:
    """App-wide dependency: the path, the query and a JSON body hold only storable text."""
    if not storable(request.url.path):
        raise PayoutdError("not_found")
    for name, value in request.query_params.multi_items():
        if not storable(name) or not storable(value):
            raise field_error(
                "validation_error",
                name if storable(name) else "query",
                f"{name if storable(name) else 'query'}: {MESSAGE}",
            )
    body = await request.body()
    # a NUL or a surrogate can only enter JSON text escaped as \u....
    if b"\\u" not in body:
        return
    try:
        decoded = json.loads(body)
    except ValueError:
        return  # not JSON: the route's own validation answers
    found = _unstorable(decoded, "body")
    if found:
        raise field_error("validation_error", found, f"{found}: {MESSAGE}")
