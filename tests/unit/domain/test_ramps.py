"""Ramp payout rules without I/O: Sphere's field limits, the memo, the instructions text,
the transition table and the off-ramp's conversion and posting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from payoutd.domain import ramps
from payoutd.domain.errors import PayoutdError
from payoutd.domain.fees import ServiceFee, convert_for_bank
from payoutd.domain.ledger import imbalance
from payoutd.domain.payout import (
    RAMP_TRANSITIONS,
    Funds,
    RampPayout,
    RampStatus,
    RampType,
    ramp_transition,
)

NOW = datetime(2026, 12, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("message", "ok"),
    [
        (None, True),
        ("", True),
        ("x" * 500, True),
        ("x" * 501, False),
    ],
)
def test_third_party_message_limit(message: str | None, ok: bool) -> None:
    if ok:
        assert ramps.check_third_party_message(message) == message
    else:
        with pytest.raises(PayoutdError) as err:
            ramps.check_third_party_message(message)
        assert err.value.code == "validation_error"
        assert list(err.value.fields) == ["thirdPartyMessage"]


@pytest.mark.parametrize(
    ("message", "ok"),
    [
        ("a" * 35, True),
        ("\n".join(["a" * 35] * 3), True),
        ("one\ntwo\nthree", True),
        ("\n".join(["a"] * 4), False),
        ("a" * 36, False),
        ("short\n" + "b" * 36, False),
        ("a\nb\n" + "c" * 36, False),
    ],
)
def test_wire_message_limit(message: str, ok: bool) -> None:
    if ok:
        assert ramps.check_wire_message(message) == message
    else:
        with pytest.raises(PayoutdError) as err:
            ramps.check_wire_message(message)
        assert list(err.value.fields) == ["wireMessage"]


def test_memo_is_twenty_unambiguous_symbols() -> None:
    memos = {ramps.new_memo() for _ in range(200)}
    assert len(memos) == 200
    for memo in memos:
        assert len(memo) == 20
        assert not set(memo) & set("01ILOU")


def test_instructions_read_as_the_seed() -> None:
    text = ramps.human_instructions(
        amount="10",
        source=ramps.End("bankAccount_3d67e78e590c4270bdebee7fc6d5075c", "usd", "wire"),
        source_detail=ramps.masked("2223335771"),
        funding=ramps.End("bankAccount_c8ec5bdca412485ea50b7f5d1494e4a1", "usd", "wire"),
        funding_detail=ramps.masked("1000682035"),
        destination=ramps.End("wallet_a25c82a765d0499a861cff1b3e8812f2", "usdc", "sol"),
        destination_detail="7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx",
    )
    # the seed's instructions.human, word for word
    assert text == (
        "Send 10 usd via the wire network from bankAccount_3d67e78e590c4270bdebee7fc6d5075c "
        "with an account number of ********5771 to "
        "bankAccount_c8ec5bdca412485ea50b7f5d1494e4a1 with an account number of ********2035. "
        "After sending usd, the payout will be funded and 10 of usdc will be on-ramped to "
        "wallet_a25c82a765d0499a861cff1b3e8812f2 with an address of "
        "7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx on the sol network."
    )


@pytest.mark.parametrize(
    ("source", "destination", "expected"),
    [
        (("usd", "wire"), ("usdc", "sol"), RampType.ON_RAMP),
        (("eur", "sepa"), ("usdt", "ethereum"), RampType.ON_RAMP),
        (("usdc", "base"), ("usd", "ach"), RampType.OFF_RAMP),
        (("usdt", "sol"), ("eur", "sepa"), RampType.OFF_RAMP),
        (("usd", "sepa"), ("usdc", "sol"), "source.network"),
        (("eur", "sepa"), ("usd", "ach"), "destination.currency"),
        (("usdc", "sol"), ("eur", "wire"), "destination.network"),
        (("usd", "wire"), ("usdc", "tron"), "destination.network"),
        (("btc", "wire"), ("usdc", "sol"), "source.currency"),
    ],
)
def test_ramp_type_and_the_field_at_fault(
    source: tuple[str, str], destination: tuple[str, str], expected: object
) -> None:
    src, dst = ramps.End("a", *source), ramps.End("b", *destination)
    if isinstance(expected, RampType):
        assert ramps.ramp_type(src, dst) is expected
    else:
        with pytest.raises(PayoutdError) as err:
            ramps.ramp_type(src, dst)
        assert list(err.value.fields) == [expected]


def _ramp(kind: RampType, status: RampStatus, **values: object) -> RampPayout:
    fields: dict[str, object] = {
        "id": "r1",
        "merchant_id": "m1",
        "customer_id": "c1",
        "number": 1,
        "type": kind,
        "status": status,
        "amount": Decimal("100"),
        "source_id": "s",
        "source_currency": "usdc" if kind is RampType.OFF_RAMP else "usd",
        "source_network": "sol" if kind is RampType.OFF_RAMP else "wire",
        "funding_id": "f",
        "destination_id": "d",
        "destination_currency": "eur" if kind is RampType.OFF_RAMP else "usdc",
        "destination_network": "sepa" if kind is RampType.OFF_RAMP else "sol",
        "memo": "M" * 20,
        "human": "",
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(values)
    return RampPayout(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(RampType))
def test_cancel_only_before_funding(kind: RampType) -> None:
    change = ramp_transition(_ramp(kind, RampStatus.PENDING), RampStatus.CANCELLED, now=NOW)
    assert (change.new, change.funds) == (RampStatus.CANCELLED, Funds.NONE)
    for status in RampStatus:
        if status is RampStatus.PENDING:
            continue
        with pytest.raises(PayoutdError) as err:
            ramp_transition(_ramp(kind, status), RampStatus.CANCELLED, now=NOW)
        assert err.value.code == "payout_not_cancellable"


def test_what_each_transition_does_to_the_funds() -> None:
    off, on = RampType.OFF_RAMP, RampType.ON_RAMP
    r = RampStatus
    assert RAMP_TRANSITIONS[(on, r.PENDING, r.FUNDED)] is Funds.CREDIT
    assert RAMP_TRANSITIONS[(off, r.PENDING, r.FUNDED)] is Funds.CREDIT
    # an on-ramp's native payout holds and posts its own funds
    assert RAMP_TRANSITIONS[(on, r.FUNDED, r.PROCESSING)] is Funds.NONE
    assert RAMP_TRANSITIONS[(off, r.FUNDED, r.PROCESSING)] is Funds.HOLD
    assert RAMP_TRANSITIONS[(off, r.PROCESSING, r.SUCCEEDED)] is Funds.POST
    assert RAMP_TRANSITIONS[(off, r.PROCESSING, r.REFUNDED)] is Funds.VOID
    # nothing leaves a final state
    finals = {r.SUCCEEDED, r.FAILED, r.CANCELLED, r.REFUNDED}
    assert not [key for key in RAMP_TRANSITIONS if key[1] in finals]


def test_off_ramp_conversion_rounds_against_the_customer_never_the_ledger() -> None:
    # 100.000001 USDC at 1/1.08 EUR: 92.5925935... -> 92.59 gross; 1.5 % fee 1.388..->1.39
    priced = convert_for_bank(
        Decimal("100.000001"), Fraction(100, 108), 2, ServiceFee(Decimal("1.5"))
    )
    assert (priced.gross, priced.fee, priced.final_amount) == (
        Decimal("92.59"),
        Decimal("1.39"),
        Decimal("91.20"),
    )
    with pytest.raises(PayoutdError) as err:
        convert_for_bank(Decimal("0.01"), Fraction(1), 2, ServiceFee(fixed=Decimal("0.01")))
    assert err.value.code == "withdrawal_too_small"


def test_the_bank_payment_posting_balances() -> None:
    ramp = _ramp(
        RampType.OFF_RAMP,
        RampStatus.PROCESSING,
        final_amount=Decimal("91.20"),
        fee=Decimal("1.39"),
    )
    entries = ramps.bank_payment_posting(ramp)
    assert not imbalance(entries)
    taken = [e for e in entries if e.account == "merchant:m1:USDC"]
    assert [e.amount for e in taken] == [Decimal("-100")]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("BRGSFNHQBH3RKPEQDMD2", ["BRGSFNHQBH3RKPEQDMD2"]),
        ("/ROC/brgsfnhqbh3rkpeqdmd2 invoice 7", ["BRGSFNHQBH3RKPEQDMD2"]),
        ("EREF+BRGSFNHQBH3RKPEQDMD", []),  # one symbol short
        ("BRGSFNHQBH3RKPEQDMD0", []),  # 0 is not in the alphabet
    ],
)
def test_memo_candidates(text: str, found: list[str]) -> None:
    assert ramps.memo_candidates(text) == found
