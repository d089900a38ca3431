"""The path, query and header parameters many routes share, each described once for the
OpenAPI document (tests/api/test_openapi_docs.py holds every parameter to a description
and an example)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path, Query

from payoutd.api.v1 import pagination
from payoutd.api.v1.pagination import MAX_LIMIT
from payoutd.api.v1.schemas import CURSOR_EXAMPLE, ID_EXAMPLE, NETWORK_DOC
from payoutd.domain.parties import BANK_ACCOUNT_PREFIX, CUSTOMER_PREFIX, WALLET_PREFIX
from payoutd.services import ramps

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

# -- the parties (customers, bank accounts, wallets) ------------------------------------
# Their ids are Sphere's: a prefix and 32 hex digits, not a UUID (payoutd.domain.parties).
PARTY_HEX_EXAMPLE = "0192f3a1b2c37d4e8f90a1b2c3d4e5f6"
CUSTOMER_ID_EXAMPLE = CUSTOMER_PREFIX + PARTY_HEX_EXAMPLE
BANK_ACCOUNT_ID_EXAMPLE = BANK_ACCOUNT_PREFIX + PARTY_HEX_EXAMPLE
WALLET_ID_EXAMPLE = WALLET_PREFIX + PARTY_HEX_EXAMPLE


def _party_id(what: str, prefix: str, also: str = "") -> object:
    return Path(
        description=f"The {what}'s id: `{prefix}` and 32 hex digits{also}",
        examples=[prefix + PARTY_HEX_EXAMPLE],
    )


CustomerId = Annotated[str, _party_id("customer", CUSTOMER_PREFIX)]
BankAccountId = Annotated[
    str,
    _party_id(
        "bank account",
        BANK_ACCOUNT_PREFIX,
        "; one of your customers' (else 404 `not_found`), or, to read, one of the "
        "operator's funding accounts",
    ),
]
WalletId = Annotated[
    str,
    _party_id(
        "wallet",
        WALLET_PREFIX,
        "; one of your customers' (else 404 `not_found`), or, to read, one of the "
        "operator's funding wallets",
    ),
]


def _party_cursor(prefix: str) -> object:
    # a cursor of a party list names the last id of the page before, so its example is one
    # this very list could have issued (another list's cursor is 400 `invalid_cursor`)
    return Query(
        description="The `next_cursor` of the previous page; left out: the first (newest) "
        "page. A cursor this list did not issue is 400 `invalid_cursor`",
        examples=[pagination.encode(prefix + PARTY_HEX_EXAMPLE)],
    )


CustomerCursor = Annotated[str | None, _party_cursor(CUSTOMER_PREFIX)]
BankAccountCursor = Annotated[str | None, _party_cursor(BANK_ACCOUNT_PREFIX)]
WalletCursor = Annotated[str | None, _party_cursor(WALLET_PREFIX)]
LookupKeyFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Only those whose `lookup_key` (the key of your own you gave at "
        "creation) is exactly this",
        examples=["user-42"],
    ),
]
CustomerFilter = Annotated[
    str | None,
    Query(
        max_length=48,
        description="Only this customer's (its id, `customer_` and 32 hex digits); "
        "an unknown id gives an empty page",
        examples=[CUSTOMER_ID_EXAMPLE],
    ),
]
ImportId = Annotated[
    str,
    Path(
        description="The import's id (a UUID), as `POST /v1/payout-imports` answered it",
        examples=[ID_EXAMPLE],
    ),
]
RampId = Annotated[
    str,
    Path(
        description="The ramp payout's id (a UUID), one of yours (else 404 `not_found`)",
        examples=[ID_EXAMPLE],
    ),
]
RampCursor = Annotated[
    str | None,
    # a ramp list's cursor names the last payout of the page before (not the `v1:` cursor
    # of the payout lists), so its example is one this list could have issued
    Query(
        description="The `next_cursor` of the previous page; left out: the first (newest) "
        "page. A cursor this list did not issue is 400 `invalid_cursor`",
        examples=[ramps.encode_cursor(ID_EXAMPLE)],
    ),
]
