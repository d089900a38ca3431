"""The path, query and header parameters many routes share, each described once for the
OpenAPI document (tests/api/test_openapi_docs.py holds every parameter to a description
and an example)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

from payoutd.api.v1.pagination import MAX_LIMIT
from payoutd.api.v1.schemas import CURSOR_EXAMPLE, ID_EXAMPLE, NETWORK_DOC

Cursor = Annotated[
    str | None,
    Query(
        description="The `next_cursor` of the previous page; left out: the first (newest) "
        "page. A cursor this API did not issue is 400 `invalid_cursor`",
        examples=[CURSOR_EXAMPLE],
    ),
]
Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description=f"Items per page, 1 to {MAX_LIMIT} (default 50)",
        examples=[50],
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Makes a retry safe (Stripe semantics): the same key and body answer "
        "the stored response (with `Idempotent-Replayed: true`) and do nothing again; the "
        "same key with another body is 409 `idempotency_conflict`",
        examples=["3f1c9a7e-5d2b-4c8e-9f0a-1b2c3d4e5f60"],
    ),
]


def _id(what: str) -> object:
    return Path(description=f"The {what}'s id", examples=[ID_EXAMPLE])


PayoutId = Annotated[str, _id("payout")]
BatchId = Annotated[str, _id("batch")]
EndpointId = Annotated[str, _id("webhook endpoint")]
DeliveryId = Annotated[str, _id("delivery")]
KeyId = Annotated[str, _id("API key")]
AddressId = Annotated[str, _id("saved address")]
MerchantId = Annotated[str, _id("merchant")]
NetworkFilter = Annotated[
    str | None, Query(description="Only this network. " + NETWORK_DOC, examples=["LTC"])
]
