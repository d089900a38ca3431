"""The webhook events, described in the OpenAPI document's `webhooks` section: one entry
per event a merchant can receive, with its payload model, the Standard Webhooks headers
that sign it and the retry schedule (docs/webhooks.md says the same for people).

The bodies are made by services.webhooks.body (`{"id", "type", "created_at", "data"}`)
from the outbox events services.payouts and services.execution write;
tests/webhooks/test_event_docs.py holds real events to these models."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header
from pydantic import BaseModel, ConfigDict, Field, create_model

from payoutd.api.v1.ramp_schemas import RampOut
from payoutd.api.v1.schemas import ID_EXAMPLE, STATUS_DOC, TIME_EXAMPLE, PayoutOut
from payoutd.domain import events, webhook_policy


def _span(wait: timedelta) -> str:
    seconds = int(wait.total_seconds())
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


RETRIES = ", ".join(_span(w) for w in webhook_policy.RETRY_SCHEDULE)
DELIVERY_DOC = f"""Sent as a `POST` with a JSON body to every enabled webhook endpoint
subscribed to the event (`POST /v1/webhook-endpoints`) and to the payout's own
`callback_url`, signed with [Standard Webhooks](https://www.standardwebhooks.com/):
`webhook-signature` is `v1,` and the base64 HMAC-SHA256 of
`{{webhook-id}}.{{webhook-timestamp}}.{{body}}`, keyed by the endpoint's secret (the
base64 after `whsec_`), or the merchant's callback secret (`POST /v1/webhook-secret`) for
a `callback_url`. While a rotated secret overlaps, two signatures, space-separated.

Answer 2xx within {webhook_policy.TIMEOUT_SECONDS:g} s (`PAYOUTD_WEBHOOK_TIMEOUT_SECONDS`)
to acknowledge it. Anything else is retried after {RETRIES} ({len(webhook_policy.RETRY_SCHEDULE)}
retries; a longer `Retry-After` is honoured, up to a day), then the delivery is `failed`;
410 Gone disables the endpoint. At least once: the same event may arrive more than once
(deduplicate on `webhook-id`, the event's id). First attempts to an endpoint go in the
order the events happened, one at a time, but a retried one may arrive after later events:
order by the payout's `updated_at`. Every delivery and attempt is listed in
`GET /v1/webhook-endpoints/{{id}}/deliveries` (and `GET /v1/payouts/{{id}}/deliveries`)."""


class PayoutData(BaseModel):
    """The payout as it was when the event happened."""

    payout: PayoutOut = Field(description="The payout, as `GET /v1/payouts/{id}` shows it")


class StatusChangeData(PayoutData):
    """The payout after a change of status, and the change."""

    old_status: str = Field(
        description="The status it left. " + STATUS_DOC, examples=["confirming"]
    )
    new_status: str = Field(
        description="The status it entered (`payout.status`)", examples=["paid"]
    )


class RefusalData(PayoutData):
    """A payout the chain's node refused before anything was signed (now `failed`)."""

    reason: str = Field(
        description="The node's refusal, in its words", examples=["the node refuses address ..."]
    )


class RampData(BaseModel):
    """The ramp payout as it was when the event happened."""

    ramp_payout: RampOut = Field(
        description="The ramp payout, as `GET /v1/ramp-payouts/{id}` shows it"
    )


def _envelope(
    event_type: str, data: type[PayoutData] | type[RampData], doc: str
) -> type[BaseModel]:
    """The body of one event type: `{"id", "type", "created_at", "data"}`."""
    tag: Any = Literal[event_type]  # a type made at run time, one per event type
    model: type[BaseModel] = create_model(
        "Event_" + event_type.replace(".", "_"),
        __doc__=doc,
        __config__=ConfigDict(title=f"Event {event_type}"),
        id=(
            str,
            Field(
                description="The event's id, also sent as `webhook-id`: the same on every "
                "attempt and redelivery; deduplicate on it",
                examples=[ID_EXAMPLE],
            ),
        ),
        type=(tag, Field(description="The event type", examples=[event_type])),
        created_at=(
            str,
            Field(description="When the event happened, RFC 3339 in UTC", examples=[TIME_EXAMPLE]),
        ),
        data=(data, Field(description="What happened")),
    )
    return model


_RAMP_WHEN = {
    "created": "A ramp payout was created, `pending`: waiting for the customer's money "
    "(the memo in `instructions`).",
    "funded": "The customer's money arrived (a statement line or the sandbox bank with the "
    "memo, a deposit into the funding wallet, or an operator's assignment from the review "
    "queue) and is credited.",
    "processing": "The ramp payout's second leg is on its way: the stablecoin payout "
    "(on-ramp) or the bank payment (off-ramp).",
    "succeeded": "The customer was paid: the stablecoin payout is paid, or the bank "
    "confirmed the payment.",
    "failed": "The second leg failed; the money stays on the merchant's balance.",
    "cancelled": "Cancelled before funding; nothing moved.",
    "refunded": "The bank returned the off-ramp's payment: the hold is voided and the "
    "stablecoin is the merchant's balance again.",
}

# (type, payload, when it fires) for every event a merchant can receive
EVENTS: tuple[tuple[str, type[PayoutData] | type[RampData], str], ...] = (
    (
        events.PAYOUT_CREATED,
        PayoutData,
        "A payout was created (any API: native, a dialect): `queued`, `scheduled` or, "
        "for an offer, `pending_approval`. Sent once per payout; a request repeating an "
        "`order_id` or `Idempotency-Key` sends none.",
    ),
    (
        events.PAYOUT_STATUS_CHANGED,
        StatusChangeData,
        "A payout's status changed (approved, released, taken by a batch, broadcast, "
        "confirmed, failed, cancelled, expired, sent to or resolved from review): one "
        "event per change, with `old_status` and `new_status`.",
    ),
    (
        events.PAYOUT_PAID,
        StatusChangeData,
        "A payout reached `paid`: its transaction has the network's confirmations (or an "
        "operator resolved its review as paid). Sent with the `payout.status_changed` of "
        "the same change, after it.",
    ),
    (
        events.PAYOUT_FAILED,
        StatusChangeData,
        "A payout reached `failed`: the chain refused or reverted it, or an operator "
        "resolved its review as failed; its funds are back in the balance "
        "(`failure_reason` says why). Sent with the `payout.status_changed` of the same "
        "change, after it.",
    ),
    (
        events.PAYOUT_VALIDATION_ERROR,
        RefusalData,
        "The network's node refused a payout's output before anything was signed (an "
        "address it rejects, an amount it will not send): the payout is `failed` and its "
        "funds returned. Sent after that change's `payout.status_changed` and "
        "`payout.failed`.",
    ),
)
EVENTS += tuple((f"ramp_payout.{status}", RampData, when) for status, when in _RAMP_WHEN.items())

SUMMARIES = {
    **{f"ramp_payout.{status}": f"A ramp payout is {status}" for status in _RAMP_WHEN},
    events.PAYOUT_CREATED: "A payout was created",
    events.PAYOUT_STATUS_CHANGED: "A payout's status changed",
    events.PAYOUT_PAID: "A payout was paid",
    events.PAYOUT_FAILED: "A payout failed; its funds are back",
    events.PAYOUT_VALIDATION_ERROR: "The node refused a payout before signing",
}
MODELS: dict[str, type[BaseModel]] = {t: _envelope(t, data, doc) for t, data, doc in EVENTS}

WebhookId = Annotated[
    str,
    Header(
        alias="webhook-id",
        description="The event's id (the body's `id`): the same on every attempt",
        examples=[ID_EXAMPLE],
    ),
]
WebhookTimestamp = Annotated[
    str,
    Header(
        alias="webhook-timestamp",
        description="When this attempt was signed, Unix seconds; refuse one far from your "
        "clock (Standard Webhooks' libraries allow 5 minutes)",
        examples=["1796722200"],
    ),
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="`v1,` + base64(HMAC-SHA256(secret, `{webhook-id}.{webhook-timestamp}."
        "{body}`)); during a secret rotation two, space-separated: accept either",
        examples=["v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="],
    ),
]


def install(app: FastAPI) -> None:
    """One `webhooks` entry per event type, named by it."""
    for event_type, _, doc in EVENTS:
        _describe(app, event_type, doc)


def _describe(app: FastAPI, event_type: str, doc: str) -> None:
    def event(
        body: BaseModel,
        webhook_id: WebhookId,
        webhook_timestamp: WebhookTimestamp,
        webhook_signature: WebhookSignature,
    ) -> None:
        """Never called: describes what payoutd sends."""

    # the body's model is made at run time: the annotation is the class itself, not text
    # FastAPI would look up in this module
    event.__annotations__["body"] = MODELS[event_type]
    app.webhooks.post(
        event_type,
        summary=SUMMARIES[event_type],
        description=doc + "\n\n" + DELIVERY_DOC,
        tags=["webhooks"],
        responses={
            200: {"description": "Any 2xx acknowledges the event: it is not sent again"},
            410: {"description": "Gone: the endpoint is disabled, nothing more is sent to it"},
            "default": {
                "description": "Any other answer, or none within the timeout: retried on "
                "the schedule above"
            },
        },
        operation_id=f"webhook_{event_type.replace('.', '_')}",
    )(event)
