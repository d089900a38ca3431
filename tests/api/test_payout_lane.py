"""The intake's lane (payoutd.api.payout_lane) answers exactly as the route does.

Each request is sent twice: once as is (the lane answers it) and once with an
`X-Payoutd-Signature` header, which sends it to the FastAPI route (the keys here have no
signing secret, so the header changes nothing else). Status, headers that matter and
the body must be the same, ids and timestamps aside."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from payoutd.api.payout_lane import PayoutLane
from tests.support import Harness, Merchant

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
TO_ROUTE = {"x-payoutd-signature": "sent-to-the-route"}
VARYING = re.compile(rb'"(id|created_at|updated_at|order_id)":("[^"]*"|null)')


def payout(**fields: Any) -> str:
    return json.dumps({"amount": "0.01", "currency": "BTC", "address": BTC_ADDR, **fields})


async def answer(
    h: Harness, m: Merchant, body: str | bytes, headers: list[tuple[str, str]], *, route: bool
) -> tuple[int, bytes, str | None, str | None]:
    sent = [*m.headers.items(), *headers, *(TO_ROUTE.items() if route else ())]
    r = await h.client.post("/v1/payouts", content=body, headers=sent)
    return (
        r.status_code,
        VARYING.sub(rb'"\1":"*"', r.content),
        r.headers.get("content-type"),
        r.headers.get("retry-after"),
    )


JSON = [("content-type", "application/json")]
CASES: dict[str, tuple[str | bytes, list[tuple[str, str]]]] = {
    "created": (payout(), JSON),
    "charset": (payout(), [("content-type", "application/json; charset=utf-8")]),
    "metadata": (payout(metadata={"order": "A-1", "note": "é\u2028x"}), JSON),
    # refused alike: metadata is flat pairs of strings (payoutd.api.v1.schemas)
    "metadata numbers": (payout(metadata={"n": 2**70, "f": 0.5, "s": ["x", {"y": None}]}), JSON),
    "metadata NaN": (payout()[:-1] + ', "metadata": {"x": NaN}}', JSON),
    "metadata 1e400": (payout()[:-1] + ', "metadata": {"x": [1e400]}}', JSON),
    "metadata nested": (payout(metadata=json.loads('{"a": ' * 300 + '"x"' + "}" * 300)), JSON),
    "metadata 51 keys": (payout(metadata={f"k{i}": "v" for i in range(51)}), JSON),
    "execute_at naive": (payout(execute_at="2030-01-01T00:00:00"), JSON),
    "execute_at date": (payout(execute_at="2030-01-01"), JSON),
    "execute_at year 9999": (payout(execute_at="9999-01-01T00:00:00Z"), JSON),
    "execute_at": (payout(execute_at="2030-01-01T09:00:00+01:00"), JSON),
    "integer amount": (payout(amount=30), JSON),
    "padded amount": (payout(amount=" 0.3 "), JSON),
    "leading zeros": (payout(amount="00000.3"), JSON),
    "too large": (payout(comment="c" * 70_000), JSON),
    "float amount": (json.dumps({"amount": 0.01, "currency": "BTC", "address": BTC_ADDR}), JSON),
    "no address": (json.dumps({"amount": "0.01", "currency": "BTC"}), JSON),
    "unknown field": (payout(colour="red"), JSON),
    "bad address": (payout(address="1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"), JSON),
    "unknown currency": (payout(currency="XXX"), JSON),
    "too much": (payout(amount="5"), JSON),
    "not json": (b"amount=1", JSON),
    "a list": (b"[1, 2]", JSON),
    "empty": (b"", JSON),
    "escaped NUL": (payout(comment="a\u0000b"), JSON),
    "text/plain": (payout(), [("content-type", "text/plain")]),
    "two content types": (payout(), [("content-type", "text/plain"), *JSON]),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_lane_answers_as_the_route(h: Harness, case: str) -> None:
    m = await h.merchant(BTC="1")
    body, headers = CASES[case]
    lane = await answer(h, m, body, headers, route=False)
    route = await answer(h, m, body, headers, route=True)
    assert lane == route
    assert lane[0] != 500


async def test_lane_answers_repeats_and_refusals_as_the_route(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    for route in (False, True):
        first = await answer(h, m, payout(order_id=f"o-{route}"), JSON, route=route)
        again = await answer(h, m, payout(order_id=f"o-{route}"), JSON, route=route)
        assert (first[0], again[0]) == (201, 200)
        assert first[1] == again[1]
    other = await h.merchant(BTC="1")

    async def limited(key_id: str, per_minute: int) -> float:
        return 7.2

    h.rt.rate_limits.take = limited  # type: ignore[method-assign]  # this runtime's limits only
    assert (
        await answer(h, other, payout(), JSON, route=False)
        == await answer(h, other, payout(), JSON, route=True)
        == (429, await _body_of(h, other), "application/json", "8")
    )


async def _body_of(h: Harness, m: Merchant) -> bytes:
    r = await h.client.post("/v1/payouts", content=payout(), headers={**m.headers, **TO_ROUTE})
    return r.content


async def test_the_lane_takes_the_plain_request_and_only_that(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without this the tests above could pass with the lane never answering at all."""
    m = await h.merchant(BTC="1")
    taken: list[int] = []
    answer_of = PayoutLane._answer

    async def counting(self: PayoutLane, *args: Any) -> Any:
        found = await answer_of(self, *args)
        taken.append(0 if found is None else found[0])
        return found

    monkeypatch.setattr(PayoutLane, "_answer", counting)
    await answer(h, m, payout(), JSON, route=False)
    await answer(h, m, payout(), JSON, route=True)
    await answer(h, m, payout(), [*JSON, ("idempotency-key", "k1")], route=False)
    await answer(h, m, payout(amount=0.5), JSON, route=False)
    assert taken == [201, 0]  # the plain one answered; the float amount handed on
