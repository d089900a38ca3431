"""Create, approve and cancel payouts; apply any status change with its money and events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, Literal, NamedTuple, overload

from payoutd.domain import events, quotes
from payoutd.domain.access import MerchantPolicy
from payoutd.domain.assets import (
    CURRENCIES,
    Asset,
    check_limits,
    check_memo,
    check_priority,
    resolve_asset,
)
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.events import Event
from payoutd.domain.fees import FEE_MODES, Pricing, ServiceFee
from payoutd.domain.ledger import HoldRequest, payout_posting
from payoutd.domain.money import (
    MAX_DECIMALS,
    ROUND_DEBIT,
    decimals_of,
    fmt,
    quantize,
    to_decimal,
)
from payoutd.domain.payout import (
    INITIAL,
    Change,
    DialectRecord,
    Funds,
    Payout,
    Status,
    approved_status,
    initial_status,
    transition,
)
from payoutd.domain.quotes import Plan
from payoutd.domain.rates import RateError
from payoutd.ids import new_id
from payoutd.services import access, webhooks
from payoutd.services.context import Context
from payoutd.services.ports import NotWritten, UnitOfWork
from payoutd.services.views import payout_view


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    amount: Decimal
    currency: str
    address: str | None  # a quote may leave it out
    network: str | None = None
    payout_currency: str | None = None
    memo: str | None = None
    balance_currency: str | None = None
    fee_mode: str = "on_top"
    priority: str | None = None
    rate_source: str | None = None
    approval: str = "auto"
    execute_at: datetime | None = None
    order_id: str | None = None
    callback_url: str | None = None
    comment: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Quote:
    """Everything a payout will cost, computed before any transaction is opened (rates
    and the chain's fee estimate may be network calls)."""

    request: PayoutRequest
    asset: Asset
    address: str | None
    memo: str | None
    priority: str | None
    plan: Plan
    rate_value: Decimal | None  # one unit of the payout currency, in `rate_quote`
    rate_quote: str | None
    rate_source: str | None
    quoted_at: datetime

    @property
    def pricing(self) -> Pricing:
        return self.plan.pricing


def _precision(asset: Asset) -> int:
    return min(asset.decimals, CURRENCIES[asset.currency].decimals)


async def _price(ctx: Context, base: str, quote: str, source: str, field: str) -> Fraction:
    """What one `base` costs in `quote`, exactly (domain.rates.Rate.exact), or the seeds'
    `Error convert to_currency`."""
    if base == quote:
        return Fraction(1)
    try:
        rate = await ctx.rates.rate(base, quote, source)
    except RateError as exc:
        raise field_error("rate_unavailable", field, f"Error convert to_currency: {exc}") from exc
    return rate.exact if rate.exact is not None else Fraction(rate.value)


async def min_payout_amount(ctx: Context, currency: str, source: str) -> Decimal:
    """Bitclear's minPayoutAmount in `currency`: what `min_payout_eur` euros are worth
    (unrounded; the caller quantizes in its own direction)."""
    floor = ctx.settings.min_payout_eur
    if floor <= 0:
        return Decimal(0)
    price = await _price(ctx, "EUR", currency, source, "amount")
    # Every create asks this, and the price changes only when the rate source's quote
    # does: the exact product (a Fraction) is worked out once per quote it is made from.
    key = (currency, source, floor)
    known = _MIN_PAYOUTS.get(key)
    if known is not None and (known[0] is price or known[0] == price):
        return known[1]
    value = to_decimal(Fraction(floor) * price)
    if len(_MIN_PAYOUTS) > 1024:
        _MIN_PAYOUTS.clear()
    _MIN_PAYOUTS[key] = (price, value)
    return value


_MIN_PAYOUTS: dict[tuple[str, str, Decimal], tuple[Fraction, Decimal]] = {}


async def quote(ctx: Context, merchant_fees: Mapping[str, ServiceFee], req: PayoutRequest) -> Quote:
    """Validate a payout request and price it in one of the four funding modes, paid from
    any balance (payoutd.domain.quotes). `merchant_fees` are the merchant's service fees by currency
    (read by the caller). Refusals name the field at fault."""
    cur = ctx.currency(req.currency)
    if cur.fiat:
        if not req.payout_currency:
            raise field_error("payout_currency_required", "payout_currency")
        payout_code, asset_field = req.payout_currency.upper(), "payout_currency"
        ctx.currency(payout_code, field="payout_currency")
    else:
        payout_code, asset_field = cur.code, "currency"
        if req.payout_currency and req.payout_currency.upper() != cur.code:
            raise field_error(
                "service_not_found",
                "payout_currency",
                "Not found service to_currency: a crypto amount is sent as is",
            )
    asset = resolve_asset(payout_code, req.network, currency_field=asset_field)
    # Any balance pays, crypto or fiat; another currency's is converted (domain.quotes).
    debit = ctx.currency(
        quotes.debit_currency(payout_code, req.balance_currency), field="balance_currency"
    )
    debit_code = debit.code
    precision = _precision(asset)
    amount_decimals = cur.decimals if cur.fiat else precision
    if decimals_of(req.amount) > amount_decimals:
        raise field_error(
            "invalid_amount",
            "amount",
            f"{cur.code} amounts have at most {amount_decimals} decimals",
        )
    memo = check_memo(asset, req.memo)
    priority = check_priority(asset, req.priority)
    if req.fee_mode not in FEE_MODES:
        raise field_error(
            "validation_error", "fee_mode", f"fee_mode must be one of {', '.join(FEE_MODES)}"
        )
    if req.callback_url is not None:
        webhooks.check_url(
            req.callback_url, field="callback_url", allow_private=ctx.settings.webhook_allow_private
        )
    chain = ctx.chain(asset.network)
    address = None
    if req.address is not None:
        try:
            address = chain.validate_address(req.address)
        except ValueError as exc:
            raise field_error("invalid_address", "address", str(exc)) from exc
    try:
        source = ctx.rates.resolve(req.rate_source)
    except RateError as exc:
        raise field_error("rate_source_not_available", "rate_source", str(exc)) from exc

    payout_price = (
        await _price(ctx, payout_code, cur.code, source, "payout_currency")
        if cur.code != payout_code
        else None
    )
    debit_price = (
        await _price(ctx, payout_code, debit_code, source, "balance_currency")
        if debit_code != payout_code
        else None
    )
    network_fee = await ctx.network_fees.estimate(chain, asset, priority)
    plan = quotes.plan(
        req.amount,
        payout_currency=payout_code,
        payout_decimals=precision,
        payout_price=payout_price,
        debit_currency=debit_code,
        debit_decimals=debit.decimals,
        debit_price=debit_price,
        network_fee=network_fee,
        service=ctx.service_fee(merchant_fees, payout_code),
        fee_mode=req.fee_mode,
    )
    check_limits(asset, plan.payout_amount)
    # The floor is checked on what the merchant asked for: a fiat amount as given (its
    # conversion rounds down), a crypto amount as the payout amount.
    if cur.fiat:
        await _check_worth(ctx, req.amount, cur.code, cur.decimals, source)
    else:
        await _check_worth(ctx, plan.payout_amount, asset.currency, precision, source)
    exact_rate: Fraction | None = None
    rate_quote: str | None = None
    if debit_price is not None:
        exact_rate, rate_quote = debit_price, debit_code
    elif payout_price is not None:
        exact_rate, rate_quote = payout_price, cur.code
    rate_value: Decimal | None = None
    if exact_rate is not None:
        # Shown at the scale the payouts table keeps (NUMERIC(38, 18) on PostgreSQL), so
        # the quote, the created payout and every later read show the same rate on both
        # databases. The amounts above were computed at the exact rate.
        rate_value = quantize(to_decimal(exact_rate), MAX_DECIMALS, ROUND_HALF_EVEN)
    return Quote(
        req,
        asset,
        address,
        memo,
        priority,
        plan,
        rate_value,
        rate_quote,
        source if rate_value is not None else None,
        ctx.clock.now(),
    )


async def _check_worth(
    ctx: Context, amount: Decimal, currency: str, decimals: int, source: str
) -> None:
    """Bitclear's minPayoutAmount: a payout must be worth at least 20 EUR (configurable).
    Compared unrounded, so exactly 20 EUR's worth passes; the message rounds up."""
    if ctx.settings.min_payout_eur <= 0:
        return
    minimum = await min_payout_amount(ctx, currency, source)
    if amount < minimum:
        raise field_error(
            "amount_too_small",
            "amount",
            min=fmt(quantize(minimum, decimals, ROUND_DEBIT).normalize()),
            currency=currency,
        )


@dataclass(frozen=True, slots=True)
class Placement:
    """One payout to store: who asks, what it costs, and the caller's access policy
    (the cooldown and the address allowlist are checked when it is placed)."""

    merchant_id: str
    quote: Quote
    policy: MerchantPolicy | None = None


class Placed(NamedTuple):
    """A placement's answer: the payout, whether this placement created it, and for one
    it created the view its `payout.created` event carries, for the API to answer with
    (built once: building views is a measurable part of an intake request's CPU)."""

    payout: Payout
    created: bool
    view: dict[str, Any] | None = None


async def place(
    uow: UnitOfWork, ctx: Context, merchant_id: str, q: Quote, policy: MerchantPolicy | None = None
) -> Placed:
    """Store the payout and hold its funds. Returns (payout, created); a repeated
    order_id returns the existing payout and changes nothing."""
    answer = (await place_many(uow, ctx, [Placement(merchant_id, q, policy)]))[0]
    if isinstance(answer, PayoutdError):
        raise answer
    return answer


@overload
async def place_many(
    uow: UnitOfWork,
    ctx: Context,
    items: Sequence[Placement],
    *,
    all_or_none: Literal[False] = False,
) -> list[Placed | PayoutdError]: ...


@overload
async def place_many(
    uow: UnitOfWork, ctx: Context, items: Sequence[Placement], *, all_or_none: Literal[True]
) -> list[Placed | PayoutdError] | None: ...


async def place_many(
    uow: UnitOfWork, ctx: Context, items: Sequence[Placement], *, all_or_none: bool = False
) -> list[Placed | PayoutdError] | None:
    """Creating payouts: the one entry point every caller goes through (the API's
    routes, its fast lane and every way it grows). Stores the payouts and holds their
    funds in the caller's transaction, with the answer each would get alone: the payout
    and whether it was created (a repeated order_id answers the stored payout and
    creates nothing), or the refusal. A refused item writes nothing; holds are granted
    in the order of `items` (domain.ledger.grant_holds). No two items may share an
    order_id (the caller puts repeats into a later call, where they find the first one
    stored).

    `all_or_none`: write every item or none, deciding every hold at once (the store may
    do it in one statement): None when a hold does not fit, and then nothing was
    written; the items are decided one by one in another call. Raises
    `services.ports.NotWritten` when nothing was written for sure (an item failed before
    anything was sent, or the store refused the statement), so the items may be placed
    again; any other error leaves the outcome unknown."""
    now = ctx.clock.now()
    if all_or_none:
        try:
            answers, new = await _fresh(uow, ctx, items, now)
            writes = _writes(new, now)
        except Exception as exc:  # nothing was sent: the caller may try them one by one
            raise NotWritten(exc) from exc
        inserted = await uow.placements.add_if_funded(*writes)
        if inserted is None:
            return None
        return await _answer_inserted(uow, ctx, new, inserted, answers, writes[2])
    answers, new = await _fresh(uow, ctx, items, now)
    # Repeats of a stored order_id are not looked up first: the INSERT below finds them
    # (ON CONFLICT DO NOTHING) and they are answered then. Looking first cost a round
    # trip per batch for what is rare, and on PostgreSQL that trip was the most
    # expensive part of the batch (bench/README.md, "Where the time goes").
    holding = [(i, p) for i, p in new if INITIAL[p.status] is Funds.HOLD]
    verdicts = await uow.ledger.check_holds([_hold_request(p) for _, p in holding])
    if any(v is not None for v in verdicts) and any(p.order_id is not None for _, p in holding):
        # Something was refused, and some of these may be repeats: a repeat is answered
        # with its stored payout, never refused (for funds its payout already holds), and
        # the funds it was counted for here belong to the others. check_holds may also
        # have waited on the accounts' locks for another transaction that has since
        # stored some of these order_ids. So: repeats out, holds decided again.
        stored = await uow.payouts.by_order_ids(
            [(p.merchant_id, p.order_id) for _, p in holding if p.order_id is not None]
        )
        if stored:
            _answer_repeats(stored, new, answers)
            new = [(i, p) for i, p in new if answers[i] is None]
            holding = [(i, p) for i, p in holding if answers[i] is None]
            verdicts = await uow.ledger.check_holds([_hold_request(p) for _, p in holding])
    for (i, p), refusal in zip(holding, verdicts, strict=True):
        if refusal is not None:
            answers[i] = _hold_refusal(p, refusal)
    new = [(i, p) for i, p in new if answers[i] is None]
    writes = _writes(new, now)
    inserted = await uow.placements.add(*writes)
    return await _answer_inserted(uow, ctx, new, inserted, answers, writes[2])


Answers = list[Placed | PayoutdError | None]


async def _fresh(
    uow: UnitOfWork, ctx: Context, items: Sequence[Placement], now: datetime
) -> tuple[Answers, list[tuple[int, Payout]]]:
    """Each item's refusal, or its new payout (by item index)."""
    answers: Answers = [None] * len(items)
    fresh: list[tuple[int, Payout]] = []
    for i, item in enumerate(items):
        try:
            fresh.append((i, await _new_payout(uow, ctx, item, now)))
        except PayoutdError as err:
            answers[i] = err
    keys = [(p.merchant_id, p.order_id) for _, p in fresh if p.order_id is not None]
    if len(set(keys)) != len(keys):
        raise ValueError("place_many: two items share an order_id")
    return answers, fresh


def _writes(
    new: Sequence[tuple[int, Payout]], now: datetime
) -> tuple[list[Payout], list[HoldRequest], list[Event], datetime]:
    """What storing `new` writes: the payouts, their holds, their `payout.created`."""
    return (
        [p for _, p in new],
        [_hold_request(p) for _, p in new if INITIAL[p.status] is Funds.HOLD],
        [(events.PAYOUT_CREATED, p.merchant_id, p.id, {"payout": payout_view(p)}) for _, p in new],
        now,
    )


async def _answer_inserted(
    uow: UnitOfWork,
    ctx: Context,
    new: Sequence[tuple[int, Payout]],
    inserted: set[str],
    answers: Answers,
    created: Sequence[Event],
) -> list[Placed | PayoutdError]:
    # A repeat of a stored order_id, or of one another transaction inserted first
    # (committed while we waited on it), is answered with the stored payout; leaving its
    # hold out only leaves more for the others.
    raced = [(i, p) for i, p in new if p.id not in inserted]
    if raced:
        _answer_repeats(
            await uow.payouts.by_order_ids([(p.merchant_id, p.order_id or "") for _, p in raced]),
            raced,
            answers,
        )
        new = [(i, p) for i, p in new if p.id in inserted]
    views = {subject: payload["payout"] for _, _, subject, payload in created}
    for i, p in new:
        answers[i] = Placed(p, True, views[p.id])
        if ctx.metrics is not None:
            ctx.metrics.created(p.network, p.payout_currency)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


async def _new_payout(uow: UnitOfWork, ctx: Context, item: Placement, now: datetime) -> Payout:
    q, req = item.quote, item.quote.request
    # checked here, at placement: a retry of a payout made before a cooldown began gets
    # that payout replayed by its Idempotency-Key, not a refusal that reads as "not paid"
    access.ensure_payouts_allowed(item.policy, now)
    if q.address is None:
        raise field_error("validation_error", "address", "address is required")
    await access.ensure_address_allowed(
        uow, item.policy, item.merchant_id, q.asset.network, q.address
    )
    status = initial_status(approval=req.approval, execute_at=req.execute_at, now=now)
    # An offer keeps its rate, fees and amounts until it expires (Bitclear).
    expires_at = (
        now + timedelta(seconds=ctx.settings.quote_ttl_seconds)
        if status is Status.PENDING_APPROVAL
        else None
    )
    return Payout(
        id=new_id(),
        merchant_id=item.merchant_id,
        order_id=req.order_id,
        status=status,
        amount=req.amount,
        currency=req.currency.upper(),
        payout_amount=q.pricing.payout_amount,
        payout_currency=q.asset.currency,
        network=q.asset.network,
        address=q.address,
        memo=q.memo,
        fee_mode=req.fee_mode,
        priority=q.priority,
        fee_network=q.pricing.fee_network,
        fee_service=q.pricing.fee_service,
        final_amount=q.pricing.final_amount,
        debit_amount=q.plan.debit_amount,
        debit_currency=q.plan.debit_currency,
        rate_value=q.rate_value,
        rate_source=q.rate_source,
        rate_expires_at=expires_at if q.rate_value is not None else None,
        approval=req.approval,
        execute_at=req.execute_at,
        expires_at=expires_at,
        callback_url=req.callback_url,
        comment=req.comment,
        metadata=dict(req.metadata),
        created_at=now,
        updated_at=now,
    )


def _answer_repeats(
    stored: Mapping[tuple[str, str], Payout],
    candidates: Sequence[tuple[int, Payout]],
    answers: Answers,
) -> None:
    """A candidate whose order_id is already stored is answered with that payout."""
    for i, p in candidates:
        existing = stored.get((p.merchant_id, p.order_id or ""))
        if p.order_id is not None and existing is not None:
            answers[i] = Placed(existing, False)


def _hold_request(p: Payout) -> HoldRequest:
    return HoldRequest(p.merchant_id, p.debit_currency, p.debit_amount, p.id)


def _hold_refusal(p: Payout, err: PayoutdError) -> PayoutdError:
    if err.code == "insufficient_funds" and p.debit_currency != p.payout_currency:
        return field_error(
            "insufficient_funds",
            "amount",
            f"Not enough balance for convert {p.debit_currency} to {p.payout_currency}",
        )
    return err


async def apply(
    uow: UnitOfWork, ctx: Context, change: Change, *, ledger_kind: str = "payout"
) -> Payout:
    """Persist one transition with what it does to the money and the events it emits,
    all in the caller's transaction."""
    return (await apply_many(uow, ctx, [change], ledger_kind=ledger_kind))[0]


async def apply_many(
    uow: UnitOfWork, ctx: Context, changes: Sequence[Change], *, ledger_kind: str = "payout"
) -> list[Payout]:
    """`apply` for many transitions made at one moment (a batch's payouts moving
    together): each payout's compare-and-set, then the money of all of them and their
    events in a fixed number of statements."""
    if len({c.after.updated_at for c in changes}) > 1:
        return [
            p for c in changes for p in await apply_many(uow, ctx, [c], ledger_kind=ledger_kind)
        ]
    if not changes:
        return []
    now = changes[0].after.updated_at
    await uow.payouts.save_many(changes)
    holding = [c.after for c in changes if c.funds is Funds.HOLD]
    if holding:
        wanted = [_hold_request(p) for p in holding]
        for p, refusal in zip(holding, await uow.ledger.check_holds(wanted), strict=True):
            if refusal is not None:
                raise _hold_refusal(p, refusal)
        await uow.ledger.add_holds(wanted, now)
    posting = [(c.after.id, payout_posting(c.after)) for c in changes if c.funds is Funds.POST]
    voiding = [c.after.id for c in changes if c.funds is Funds.VOID]
    if posting or voiding:
        await uow.ledger.settle_holds(posting, voiding, ledger_kind, now)
    emitted: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
    for change in changes:
        p = change.after
        if ctx.metrics is not None:
            ctx.metrics.transition(change.old.value, change.new.value)
        view = payout_view(p)
        emitted += [
            (
                type_,
                p.merchant_id,
                p.id,
                {"payout": view, "old_status": change.old.value, "new_status": change.new.value},
            )
            for type_ in events.for_change(change)
        ]
    await uow.outbox.add_many(emitted, now)
    return [c.after for c in changes]


async def get(uow: UnitOfWork, merchant_id: str, payout_id: str) -> Payout:
    payout = await uow.payouts.get(merchant_id, payout_id)
    if payout is None:
        raise PayoutdError("not_found", "Payout not found")
    return payout


async def record_dialect(uow: UnitOfWork, record: DialectRecord) -> None:
    """Keep which provider dialect created a payout, in the transaction that creates it:
    its callback_url then hears that provider's webhooks (services.webhooks)."""
    await uow.payouts.add_dialect_record(record)


async def by_idempotency_key(uow: UnitOfWork, merchant_id: str, key: str) -> Payout | None:
    """The payout a native request with this Idempotency-Key created (its answer, kept
    under the key, was 201 and that payout); None for any other key: unknown, expired,
    still running, or one whose request refused or created nothing (a cancel's)."""
    stored = await uow.idempotency.get(merchant_id, key)
    if stored is None or stored.status != "completed" or stored.response_status != 201:
        return None
    body = stored.response_body
    if not isinstance(body, dict) or body.get("object") != "payout":
        return None
    return await uow.payouts.get(merchant_id, str(body["id"]))


async def find(
    uow: UnitOfWork, merchant_id: str, *, payout_id: str | None, order_id: str | None
) -> Payout:
    """A payout by its order_id (which wins when both are given, as Cryptomus's
    payout/info has it) or by its id."""
    if order_id is not None:
        found = (await uow.payouts.by_order_ids([(merchant_id, order_id)])).get(
            (merchant_id, order_id)
        )
        if found is None:
            raise PayoutdError("not_found", "Payout not found")
        return found
    if payout_id is None:
        raise PayoutdError("not_found", "Payout not found")
    return await get(uow, merchant_id, payout_id)


async def cancel(uow: UnitOfWork, ctx: Context, merchant_id: str, payout_id: str) -> Payout:
    payout = await uow.payouts.get(merchant_id, payout_id, for_update=True)
    if payout is None:
        raise PayoutdError("not_found", "Payout not found")
    return await apply(uow, ctx, transition(payout, Status.CANCELLED, now=ctx.clock.now()))


async def approve(
    uow: UnitOfWork, ctx: Context, merchant_id: str, payout_id: str
) -> tuple[Payout, bool]:
    """Approve an offer at its quoted amounts. Returns (payout, approved): an offer past
    its `expires_at` becomes `expired` instead, holds nothing, and the caller answers
    409 `quote_expired` after committing that. An offer already `expired` (by an earlier
    approval or by the worker) gets the same answer: which of them noticed first is
    not the merchant's business. The row lock (PostgreSQL) and the compare-and-set on
    the version make two approvals of one offer take effect once."""
    payout = await uow.payouts.get(merchant_id, payout_id, for_update=True)
    if payout is None:
        raise PayoutdError("not_found", "Payout not found")
    if payout.status is Status.EXPIRED:
        return payout, False
    now = ctx.clock.now()
    if (
        payout.status is Status.PENDING_APPROVAL
        and payout.expires_at is not None
        and now >= payout.expires_at
    ):
        return await apply(uow, ctx, transition(payout, Status.EXPIRED, now=now)), False
    return await apply(uow, ctx, transition(payout, approved_status(payout, now), now=now)), True


async def approve_offer(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    payout_id: str,
    policy: MerchantPolicy | None,
) -> tuple[Payout, bool]:
    """Approving an offer on a merchant's behalf: the one way in for every caller (the
    native route, a dialect's approve). Refused during a new payout key's cooldown, as
    placing a payout is; otherwise `approve`."""
    access.ensure_payouts_allowed(policy, ctx.clock.now())
    return await approve(uow, ctx, merchant_id, payout_id)


async def expire_offers(uow: UnitOfWork, ctx: Context, limit: int = 500) -> int:
    """Offers nobody approved in time become `expired` (the worker's loop)."""
    now = ctx.clock.now()
    stale = await uow.payouts.claim(Status.PENDING_APPROVAL, expires_before=now, limit=limit)
    await apply_many(uow, ctx, [transition(p, Status.EXPIRED, now=now) for p in stale])
    return len(stale)
