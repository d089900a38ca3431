"""The error catalogue's documentation and the payout state table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from payoutd.api.errors import catalogue_markdown
from payoutd.domain.errors import CATALOGUE, PayoutdError
from payoutd.domain.payout import (
    CANCELLABLE,
    FINAL,
    HELD,
    INITIAL,
    TRANSITIONS,
    Funds,
    Payout,
    Status,
    transition,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "errors.md"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_docs_list_every_error_code() -> None:
    assert catalogue_markdown() in DOCS.read_text()
    # every refusal is a 4xx; the one exception says a node is out of reach (503)
    assert {c for c, spec in CATALOGUE.items() if not 400 <= spec.status < 500} == {
        "network_unavailable"
    }


def _payout(status: Status) -> Payout:
    d = Decimal("1")
    return Payout(
        id="p",
        merchant_id="m",
        order_id=None,
        status=status,
        amount=d,
        currency="BTC",
        payout_amount=d,
        payout_currency="BTC",
        network="BTC",
        address="a",
        memo=None,
        fee_mode="on_top",
        priority=None,
        fee_network=d,
        fee_service=d,
        final_amount=d,
        debit_amount=d,
        debit_currency="BTC",
        rate_value=None,
        rate_source=None,
        rate_expires_at=None,
        approval="auto",
        execute_at=None,
        expires_at=None,
        callback_url=None,
        comment=None,
        metadata={},
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize("frm", list(Status))
@pytest.mark.parametrize("to", list(Status))
def test_only_the_table_moves_a_payout(frm: Status, to: Status) -> None:
    p = _payout(frm)
    if (frm, to) in TRANSITIONS:
        change = transition(p, to, now=NOW)
        assert change.after.status is to and change.after.version == p.version + 1
        assert change.funds is TRANSITIONS[(frm, to)]
    else:
        with pytest.raises(PayoutdError) as err:
            transition(p, to, now=NOW)
        assert err.value.status == 409


def test_money_rules_of_the_table() -> None:
    # final states are final
    assert not [pair for pair in TRANSITIONS if pair[0] in FINAL]
    # nothing that reached the chain is payable again or cancellable
    on_chain = {Status.SENDING, Status.CONFIRMING, Status.NEEDS_REVIEW}
    assert not [
        (a, b)
        for (a, b) in TRANSITIONS
        if a in on_chain and b in {Status.QUEUED, Status.SCHEDULED, Status.SENDING}
    ]
    assert not CANCELLABLE & on_chain
    # funds: held states are entered by a hold (or born held), left by a post or a void
    for (frm, to), funds in TRANSITIONS.items():
        if frm not in HELD and to in HELD:
            assert funds is Funds.HOLD
        if frm in HELD and to not in HELD:
            assert funds in (Funds.POST, Funds.VOID)
        if frm in HELD and to in HELD:
            assert funds is Funds.NONE
    assert {s for s, f in INITIAL.items() if f is Funds.HOLD} <= HELD
