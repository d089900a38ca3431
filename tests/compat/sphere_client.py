"""A Sphere client written from the provider's documentation (../shared/seeds/001_…),
never from payoutd's code: it must not import payoutd. As Sphere's clients do, it sends

    Authorization: Bearer <token>, Content-Type: application/json

to `<base>/v1/<resource>` and reads every answer as Sphere's envelope

    {"ok", "object", "statusCode", "error", "message", "data", "ts", "request"}

checking its shape as the seed shows it: `ts` an ISO time with milliseconds and `Z`,
`request` = `request_` and 32 hex digits, `data` the object under its name on success."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

BASE = "/compat/sphere/v1"
ENVELOPE = {"ok", "object", "statusCode", "error", "message", "data", "ts", "request"}
TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
REQUEST = re.compile(r"request_[0-9a-f]{32}")
# the seed's ids: a resource prefix and 32 hex digits
IDS = {
    "customer": re.compile(r"customer_[0-9a-f]{32}"),
    "bankAccount": re.compile(r"bankAccount_[0-9a-f]{32}"),
    "wallet": re.compile(r"wallet_[0-9a-f]{32}"),
    "payout": re.compile(r"payout_[0-9a-f]{32}"),
}
# the seed's bankAccount object (a payout's instructions.resource), in its order
BANK_ACCOUNT_FIELDS = [
    "id", "status", "bankName", "accountHolderName", "accountName", "accountNumber",
    "customer", "last4", "routingNumber", "bic", "iban", "bankAddressString", "meta",
    "lookupKey", "currency", "provider", "beneficiaryAddress", "walletBankAccounts", "mock",
    "accountType", "updated", "created", "deleted",
]  # fmt: skip
BENEFICIARY_ADDRESS_FIELDS = [
    "id", "line1", "line2", "city", "postalCode", "state", "country", "application",
]  # fmt: skip


class EnvelopeError(AssertionError):
    """An answer that is not Sphere's envelope."""


@dataclass(frozen=True)
class Answer:
    status: int  # the HTTP status
    envelope: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.envelope["ok"])

    @property
    def data(self) -> Any:
        return self.envelope["data"]


def read_envelope(response: httpx.Response) -> Answer:
    body = response.json()
    if not isinstance(body, dict) or set(body) != ENVELOPE:
        raise EnvelopeError(f"not Sphere's envelope: {body!r}")
    if body["statusCode"] != response.status_code:
        raise EnvelopeError(f"statusCode {body['statusCode']} on HTTP {response.status_code}")
    if not isinstance(body["ts"], str) or TS.fullmatch(body["ts"]) is None:
        raise EnvelopeError(f"ts {body['ts']!r}")
    if not isinstance(body["request"], str) or REQUEST.fullmatch(body["request"]) is None:
        raise EnvelopeError(f"request {body['request']!r}")
    if body["ok"] is True:
        if body["error"] is not None or body["message"] != "success":
            raise EnvelopeError(f"a success with an error: {body!r}")
        if not isinstance(body["data"], dict):
            raise EnvelopeError(f"a success without data: {body!r}")
    elif body["ok"] is False:
        if not (isinstance(body["error"], str) and body["error"]):
            raise EnvelopeError(f"a failure without its error word: {body!r}")
        if not (isinstance(body["message"], str) and body["message"]):
            raise EnvelopeError(f"a failure without a message: {body!r}")
        if body["data"] is not None or response.status_code < 400:
            raise EnvelopeError(f"a failure with data or a 2xx: {body!r}")
    else:
        raise EnvelopeError(f"ok is {body['ok']!r}")
    return Answer(response.status_code, body)


class SphereClient:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    async def post(self, resource: str, body: dict[str, Any]) -> Answer:
        return read_envelope(
            await self.http.post(f"{BASE}/{resource}", json=body, headers=self.headers)
        )

    async def get(self, resource: str, object_id: str) -> Answer:
        return read_envelope(
            await self.http.get(f"{BASE}/{resource}/{object_id}", headers=self.headers)
        )

    # the resources

    async def create_customer(self, **fields: Any) -> Answer:
        return await self.post("customer", fields)

    async def customer(self, customer_id: str) -> Answer:
        return await self.get("customer", customer_id)

    async def create_bank_account(self, **fields: Any) -> Answer:
        return await self.post("bankAccount", fields)

    async def bank_account(self, account_id: str) -> Answer:
        return await self.get("bankAccount", account_id)

    async def create_wallet(self, **fields: Any) -> Answer:
        return await self.post("wallet", fields)

    async def wallet(self, wallet_id: str) -> Answer:
        return await self.get("wallet", wallet_id)
