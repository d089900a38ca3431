"""The one JSON writer for what payoutd stores and answers with: compact UTF-8, as
`json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)` writes
it, by orjson.

An intake request wrote JSON three times through the standard library (the payout's
metadata column, its `payout.created` event, the answer): about a tenth of an API
process's CPU under load (bench/README.md, "Where the time goes"); orjson writes the
same text in a fraction of that. What orjson refuses and JSON allows (an integer beyond
64 bits in a merchant's metadata) is written by the standard library, in the same form;
what neither can write raises, as json.dumps does. (orjson writes a float NaN as null
where json.dumps refuses it; no JSON input can carry one.)
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode()


def dumps_text(value: Any) -> str:
    """`dumps` as text (SQLAlchemy's JSON columns bind text)."""
    return dumps(value).decode()
