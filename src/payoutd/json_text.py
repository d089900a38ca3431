"""The one JSON writer for what payoutd stores and answers with: compact UTF-8, the
form `json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)`
writes, by orjson.

An intake request wrote JSON three times through the standard library (the payout's
metadata column, its `payout.created` event, the answer): about a tenth of an API
process's CPU under load (bench/README.md, "Where the time goes"); orjson writes the
same values in a fraction of that. The text is the standard library's except for how
some floats are spelled (orjson writes 1e-05 as 0.00001): the same JSON value, and
a merchant's metadata is the only place a float can be. What orjson refuses and JSON
allows (an integer beyond 64 bits in metadata) is written by the standard library;
what the standard library cannot write (a datetime, a dataclass: a bug upstream,
which orjson would write in its own form) still raises as it did. orjson writes a
float NaN as null where json.dumps refuses it; no JSON input can carry one
(api.v1.schemas refuses NaN and infinities).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# datetimes and dataclasses are handed to the fallback, which refuses them
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return _standard(value).encode()


def dumps_text(value: Any) -> str:
    """`dumps` as text (SQLAlchemy's JSON columns bind text)."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return _standard(value)


def _standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
