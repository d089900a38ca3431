"""Ramp payouts (Sphere): the one entry point per use case. On-ramp: a customer's bank
transfer (matched by its memo) funds the payout, then a native payout sends the
stablecoin. Off-ramp: a deposit into a funding wallet funds it, then a bank payment pays
the customer's bank account. Every transition goes through domain.payout's table, moves
money through the ledger and writes its event in the same transaction.

Money, step by step (the ledger check stays clean after each):
- funded (both kinds): what arrived is credited to the merchant's balance in its own
  currency (bank:USD -> merchant:USD for an on-ramp, chain:USDC -> merchant:USDC for an
  off-ramp).
- on-ramp processing: a native payout (amount in the fiat, USDC/USDT sent, paid from the
  fiat balance, fees from the amount) holds and later posts or voids its own funds; the
  ramp follows it: succeeded when it is paid, failed when it fails (the fiat then stays
  on the merchant's balance, owed to the customer).
- off-ramp processing: the deposited stablecoin is held for the bank payment; succeeded
  posts it (exchanged into the fiat paid and the operator's fee); refunded voids the
  hold: the bank returned the payment, so the stablecoin is the merchant's balance again
  and the merchant settles with its customer.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, TypeVar

from payoutd.domain import ramps as rules
from payoutd.domain.banking import (
    BankAccountRef,
    BankPayment,
    ChainDeposit,
    Direction,
    Originator,
    ReviewItem,
    StatementLine,
)
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.events import RAMP_CREATED
from payoutd.domain.fees import convert_for_bank
from payoutd.domain.ledger import HoldRequest
from payoutd.domain.money import MAX_DECIMALS, ROUND_CREDIT, decimals_of, quantize, to_decimal
from payoutd.domain.parties import AccountStatus, BankAccount, KycStatus, Wallet
from payoutd.domain.payout import (
    Funds,
    RampChange,
    RampPayout,
    RampStatus,
    RampType,
    Status,
    ramp_transition,
)
from payoutd.domain.rates import RateError
from payoutd.ids import new_id
from payoutd.services import parties, payouts
from payoutd.services.context import Context
from payoutd.services.ports import BankRail, PaymentFiles, UnitOfWork
from payoutd.services.views import amount as shown_amount
from payoutd.services.views import ts

# decimals of what a ramp's amount is denominated in
DECIMALS = {"usd": 2, "eur": 2, "usdc": 6, "usdt": 6}
# payments out of a funding account travel on these networks
PAYMENT_NETWORK = {"usd": "ach", "eur": "sepa"}
REVIEW_OPEN = "open"


@dataclass(frozen=True, slots=True)
class RampRequest:
    customer: str
    amount: Decimal
    source: rules.End
    destination: rules.End
    third_party: bool = False
    third_party_message: str | None = None
    wire_message: str | None = None
    lookup_key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _files(ctx: Context) -> PaymentFiles:
    if ctx.payment_files is None:
        raise PayoutdError("bank_rail_unavailable", "No bank file formats are configured")
    return ctx.payment_files


def _usable(ok: bool, field_name: str, message: str) -> None:
    if not ok:
        raise field_error("party_mismatch", field_name, message)


def _bank_detail(account: BankAccount) -> str:
    return rules.masked(account.account_number or account.iban or "")


def bank_ref(account: BankAccount, holder_type: str = "individual") -> BankAccountRef:
    return BankAccountRef(
        holder=account.holder_name,
        currency=account.currency.value.upper(),
        iban=account.iban,
        bic=account.bic,
        routing_number=account.routing_number,
        account_number=account.account_number,
        account_type=account.account_type,
        holder_type=holder_type,
    )


F = TypeVar("F", BankAccount, Wallet)


def _funding(find: Callable[[], F]) -> F:
    """The funding account or wallet for the source, a refusal naming `source.network`."""
    try:
        return find()
    except PayoutdError as err:
        raise field_error(err.code, "source.network", err.message) from None


async def create(uow: UnitOfWork, ctx: Context, merchant_id: str, req: RampRequest) -> RampPayout:
    """A new ramp payout, `pending` until the customer's funds arrive. Refusals name the
    field at fault and write nothing."""
    kind = rules.ramp_type(req.source, req.destination)
    src_cur = req.source.currency.lower()
    if req.amount <= 0:
        raise field_error("invalid_amount", "amount", "amount must be positive")
    if decimals_of(req.amount) > DECIMALS[src_cur]:
        raise field_error(
            "invalid_amount",
            "amount",
            f"{src_cur} amounts have at most {DECIMALS[src_cur]} decimals",
        )
    rules.check_third_party_message(req.third_party_message)
    rules.check_wire_message(req.wire_message)
    rules.check_lookup_key(req.lookup_key)
    customer = await parties.get_customer(uow, merchant_id, req.customer)
    if customer.kyc_status is not KycStatus.APPROVED:
        raise field_error("customer_not_approved", "customer")
    source: BankAccount | Wallet
    destination: BankAccount | Wallet
    funding: BankAccount | Wallet
    if kind is RampType.ON_RAMP:
        source = await parties.get_bank_account(uow, merchant_id, req.source.id)
        destination = await parties.get_wallet(uow, merchant_id, req.destination.id)
        funding = _funding(lambda: parties.funding_account(ctx, src_cur, req.source.network))
        src_detail, fund_detail = _bank_detail(source), _bank_detail(funding)
        dst_detail, wallet_address, bank = destination.address, destination.address, {}
        _usable(source.currency.value == src_cur, "source.currency", "not the account's currency")
        _usable(
            destination.currency.value == req.destination.currency.lower()
            and destination.network.value == req.destination.network,
            "destination.network",
            "not the wallet's currency and network",
        )
    else:
        source = await parties.get_wallet(uow, merchant_id, req.source.id)
        destination = await parties.get_bank_account(uow, merchant_id, req.destination.id)
        funding = _funding(lambda: parties.funding_wallet(ctx, src_cur, req.source.network))
        src_detail, fund_detail = source.address, funding.address
        dst_detail, wallet_address = _bank_detail(destination), source.address
        bank = dataclasses.asdict(bank_ref(destination, customer.type.value))
        _usable(
            source.currency.value == src_cur and source.network.value == req.source.network,
            "source.network",
            "not the wallet's currency and network",
        )
        _usable(
            destination.currency.value == req.destination.currency.lower(),
            "destination.currency",
            "not the account's currency",
        )
    for name, party in (("source.id", source), ("destination.id", destination)):
        _usable(party.customer_id == customer.id, name, "belongs to another customer")
        _usable(party.status is AccountStatus.ACTIVE, name, "is not active")
    now = ctx.clock.now()
    funding_end = rules.End(funding.id, req.source.currency, req.source.network)
    shown = _fmt(req.amount)
    ramp = RampPayout(
        id=new_id(),
        merchant_id=merchant_id,
        customer_id=customer.id,
        number=0,  # the store numbers it
        type=kind,
        status=RampStatus.PENDING,
        amount=req.amount,
        source_id=source.id,
        source_currency=src_cur,
        source_network=req.source.network,
        funding_id=funding.id,
        destination_id=destination.id,
        destination_currency=req.destination.currency.lower(),
        destination_network=req.destination.network,
        memo=rules.new_memo(),
        human=rules.human_instructions(
            amount=shown,
            source=req.source,
            source_detail=src_detail,
            funding=funding_end,
            funding_detail=fund_detail,
            destination=req.destination,
            destination_detail=dst_detail,
        ),
        created_at=now,
        updated_at=now,
        wallet_address=wallet_address,
        bank=bank,
        third_party=req.third_party,
        third_party_message=req.third_party_message,
        wire_message=req.wire_message,
        meta=dict(req.meta),
        lookup_key=req.lookup_key,
    )
    ramp = await uow.ramps.add(ramp)
    await uow.outbox.add(RAMP_CREATED, merchant_id, ramp.id, {"ramp_payout": view(ramp)}, now)
    return ramp


def _fmt(value: Decimal) -> str:
    """An amount in text as the seed's instructions write it ("10" for 10.00)."""
    text = format(value.normalize(), "f")
    return text


async def get(uow: UnitOfWork, merchant_id: str | None, ramp_id: str) -> RampPayout:
    found = await uow.ramps.get(merchant_id, ramp_id)
    if found is None:
        raise PayoutdError("not_found", "Ramp payout not found")
    return found


def encode_cursor(ramp_id: str) -> str:
    return base64.urlsafe_b64encode(ramp_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise field_error("invalid_cursor", "cursor") from exc
    if not re.fullmatch(r"[0-9a-f-]{36}", decoded):
        raise field_error("invalid_cursor", "cursor")
    return decoded


async def list_page(
    uow: UnitOfWork,
    merchant_id: str | None,
    *,
    lookup_key: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[RampPayout], str | None]:
    """Newest first; the cursor of the next page, or None on the last one."""
    wanted: RampStatus | None = None
    if status is not None:
        try:
            wanted = RampStatus(status)
        except ValueError as exc:
            raise field_error(
                "validation_error",
                "status",
                f"status is one of {', '.join(s.value for s in RampStatus)}",
            ) from exc
    rows = await uow.ramps.page(
        merchant_id,
        lookup_key=lookup_key,
        status=wanted,
        before_id=decode_cursor(cursor),
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more and rows else None


async def cancel(uow: UnitOfWork, ctx: Context, merchant_id: str, ramp_id: str) -> RampPayout:
    """Only before funding: a funded payout is refused (payout_not_cancellable)."""
    ramp = await uow.ramps.get(merchant_id, ramp_id, for_update=True)
    if ramp is None:
        raise PayoutdError("not_found", "Ramp payout not found")
    if ramp.status is RampStatus.CANCELLED:
        return ramp
    return await apply(uow, ctx, ramp_transition(ramp, RampStatus.CANCELLED, now=ctx.clock.now()))


async def apply(uow: UnitOfWork, ctx: Context, change: RampChange) -> RampPayout:
    """Persist one transition with its money and its event, in the caller's transaction."""
    ramp, now = change.after, ctx.clock.now()
    await uow.ramps.save(change)
    if change.funds is Funds.CREDIT:
        received = ramp.amount
        cur = ramp.source_currency.upper()
        entries = (
            rules.received_at_bank(ramp.merchant_id, cur, received)
            if ramp.type is RampType.ON_RAMP
            else rules.received_on_chain(ramp.merchant_id, cur, received)
        )
        await uow.ledger.post("ramp_funded", ramp.id, entries, now)
    elif change.funds is Funds.HOLD:
        wanted = [HoldRequest(ramp.merchant_id, ramp.source_currency.upper(), ramp.amount, ramp.id)]
        refusal = (await uow.ledger.check_holds(wanted))[0]
        if refusal is not None:
            raise refusal
        await uow.ledger.add_holds(wanted, now)
    elif change.funds is Funds.POST:
        await uow.ledger.settle_holds(
            [(ramp.id, rules.bank_payment_posting(ramp))], [], "ramp_payout", now
        )
    elif change.funds is Funds.VOID:
        await uow.ledger.settle_holds([], [ramp.id], "ramp_payout", now)
    await uow.outbox.add(
        f"ramp_payout.{ramp.status.value}",
        ramp.merchant_id,
        ramp.id,
        {"ramp_payout": view(ramp)},
        now,
    )
    return ramp


# -- money coming in --------------------------------------------------------------------


async def _queue(uow: UnitOfWork, kind: str, subject_id: str, reason: str, now: datetime) -> str:
    await uow.bank.add_review(kind, subject_id, reason, now)
    return "review"


async def receive_bank_line(uow: UnitOfWork, ctx: Context, line: StatementLine) -> str:
    """One booked statement line (an import, the sandbox bank): a credit carrying a
    pending on-ramp's memo with its exact amount and currency funds it; our payment's
    debit settles its off-ramp, a return refunds it; anything else waits in the review
    queue and moves no money. A line seen before changes nothing. Returns the outcome:
    funded, settled, returned, review or duplicate."""
    now = ctx.clock.now()
    line_id = await uow.bank.add_line(line, "review", None, now)
    if line_id is None:
        return "duplicate"
    outcome, ramp_id, reason = await _match_line(uow, ctx, line)
    if outcome == "review":
        return await _queue(uow, "bank_line", line_id, reason, now)
    await uow.bank.set_line_outcome(line_id, outcome, ramp_id)
    return outcome


async def _match_line(
    uow: UnitOfWork, ctx: Context, line: StatementLine
) -> tuple[str, str | None, str]:
    now = ctx.clock.now()
    # a payer's own end-to-end id on a customer's transfer names no payment of ours: only
    # an id we gave a payment makes the line about that payment
    payment = await uow.bank.payment(line.end_to_end_id) if line.end_to_end_id else None
    if payment is not None:
        if line.amount != payment.amount or line.currency != payment.currency:
            return "review", None, f"amount or currency differs from our payment {payment.id}"
        ramp = await uow.ramps.get(None, payment.ramp_id, for_update=True)
        assert ramp is not None
        if ramp.status is not RampStatus.PROCESSING or payment.status not in (
            "pending",
            "exported",
        ):
            # e.g. a return after the debit was booked: money moved after the bank
            # confirmed; an operator looks at it
            return "review", None, f"our payment {payment.id} is already {payment.status}"
        if line.returned or line.direction is Direction.CREDIT:
            await uow.bank.set_payment_status(payment.id, payment.status, "returned", now)
            change = ramp_transition(
                ramp, RampStatus.REFUNDED, now=now, failure_reason=line.return_reason
            )
            await apply(uow, ctx, change)
            return "returned", ramp.id, ""
        await uow.bank.set_payment_status(payment.id, payment.status, "settled", now)
        await apply(uow, ctx, ramp_transition(ramp, RampStatus.SUCCEEDED, now=now))
        return "settled", ramp.id, ""
    if line.returned:
        return "review", None, "a return that names no payment of ours"
    if line.direction is not Direction.CREDIT:
        return "review", None, "a debit that names no payment of ours"
    for memo in rules.memo_candidates(line.memo):
        ramp = await uow.ramps.by_memo(memo)
        if ramp is None or ramp.type is not RampType.ON_RAMP:
            continue
        # its status is read under the row's lock: a cancel or another line funding it
        # at the same time is seen here (review), not as a refused transition in _fund
        ramp = await uow.ramps.get(None, ramp.id, for_update=True)
        assert ramp is not None
        if ramp.status is not RampStatus.PENDING:
            return "review", None, f"payout {ramp.id} is already {ramp.status.value}"
        if line.currency != ramp.source_currency.upper() or line.amount != ramp.amount:
            return (
                "review",
                None,
                f"payout {ramp.id} expects {_fmt(ramp.amount)} {ramp.source_currency.upper()}",
            )
        await _fund(uow, ctx, ramp, f"bank_line:{line.account}:{line.reference}")
        return "funded", ramp.id, ""
    return "review", None, "no pending payout carries this memo"


async def _fund(
    uow: UnitOfWork, ctx: Context, ramp: RampPayout, funded_by: str, amount: Decimal | None = None
) -> RampPayout:
    """pending -> funded (the money credited); an off-ramp goes straight on to
    processing: its stablecoin is held for the bank payment in the same transaction, so
    nothing else can spend it meanwhile."""
    locked = await uow.ramps.get(None, ramp.id, for_update=True)
    assert locked is not None
    now = ctx.clock.now()
    changes: dict[str, Any] = {"funded_by": funded_by[:200]}
    if amount is not None:
        changes["amount"] = amount
    funded = await apply(uow, ctx, ramp_transition(locked, RampStatus.FUNDED, now=now, **changes))
    if funded.type is RampType.OFF_RAMP:
        return await _start_bank_payment(uow, ctx, funded)
    return funded


async def receive_deposit(uow: UnitOfWork, ctx: Context, deposit: ChainDeposit) -> str:
    """A transfer into a funding wallet (chainwatch): it funds the pending off-ramp whose
    funding wallet it reached, from the off-ramp's source wallet, in its currency and
    amount; anything else waits in the review queue. A deposit seen before changes
    nothing. Returns funded, review or duplicate."""
    now = ctx.clock.now()
    deposit_id = await uow.bank.add_deposit(deposit, "review", None, now)
    if deposit_id is None:
        return "duplicate"
    network = {v: k for k, v in rules.WALLET_NETWORKS.items()}.get(deposit.network)
    currency = deposit.currency.lower()
    candidates = (
        await uow.ramps.pending_off_ramps(network, currency, deposit.sender)
        if network is not None and deposit.sender
        else []
    )
    reason = "no pending payout from this sender"
    matching: list[RampPayout] = []
    for ramp in candidates:
        try:
            funding = parties.funding_wallet(ctx, currency, ramp.source_network)
        except PayoutdError:
            continue
        if funding.id != ramp.funding_id or funding.address != deposit.address:
            reason = "not sent to the payout's funding wallet"
            continue
        if deposit.amount != ramp.amount:
            reason = f"payout {ramp.id} expects {_fmt(ramp.amount)} {currency.upper()}"
            continue
        matching.append(ramp)
    # a sender address is no merchant's own (any merchant may name it for a customer's
    # wallet): a deposit that fits payouts of two merchants is credited to neither
    if len({r.merchant_id for r in matching}) > 1:
        reason = "payouts of more than one merchant expect this deposit"
        matching = []
    for candidate in matching:
        # read again under the row's lock: a cancel or another deposit funding it at the
        # same time leaves it out here instead of refusing the transition in _fund
        locked = await uow.ramps.get(None, candidate.id, for_update=True)
        if locked is None or locked.status is not RampStatus.PENDING:
            continue
        await _fund(uow, ctx, locked, f"deposit:{deposit.network}:{deposit.txid}:{deposit.index}")
        await uow.bank.set_deposit_outcome(deposit_id, "funded", locked.id)
        return "funded"
    return await _queue(uow, "deposit", deposit_id, reason, now)


async def review_queue(
    uow: UnitOfWork, status: str | None = REVIEW_OPEN, *, limit: int = 100
) -> list[ReviewItem]:
    """The review queue, newest first (status None: every item)."""
    return await uow.bank.review_items(status, limit=limit)


def funding_watch(ctx: Context) -> dict[str, list[str]]:
    """The funding wallets the worker watches for off-ramp deposits, by payoutd network
    code (services.funding; the deposits it sees go to `receive_deposit`). Sandbox
    wallets only while their network runs on the sandbox chain (services.parties)."""
    watched: dict[str, list[str]] = {}
    for wallet in parties.funding_wallets(ctx):
        network = rules.WALLET_NETWORKS[wallet.network.value]
        chain = ctx.chains.get(network)
        if chain is None or (wallet.sandbox and chain.mode != "sandbox"):
            continue
        if wallet.address not in watched.setdefault(network, []):
            watched[network].append(wallet.address)
    return watched


def review_decision(action: str, ramp_id: str | None) -> str | None:
    """The ramp payout an operator's decision on a review item funds (None: dismissed),
    however it was asked for (the admin API, the CLI, the dashboard): assign names one,
    dismiss names none."""
    if action == "assign" and not ramp_id:
        raise field_error("validation_error", "ramp_id", "assign names the ramp payout")
    if action == "dismiss" and ramp_id:
        raise field_error("validation_error", "ramp_id", "dismiss names no ramp payout")
    return ramp_id if action == "assign" else None


async def resolve_review(
    uow: UnitOfWork,
    ctx: Context,
    item_id: str,
    *,
    by: str,
    ramp_id: str | None = None,
    note: str | None = None,
) -> ReviewItem:
    """An operator's decision on a queued line or deposit: assign it to a pending ramp
    payout of the matching kind and currency (the payout is funded with what actually
    arrived, which becomes its amount), or dismiss it (ramp_id None: nothing moves, the
    operator handles the money outside payoutd)."""
    item = await uow.bank.review_item(item_id, for_update=True)
    if item is None:
        raise PayoutdError("not_found", "Review item not found")
    if item.status != REVIEW_OPEN:
        raise PayoutdError("review_item_resolved")
    now = ctx.clock.now()
    if ramp_id is None:
        await uow.bank.resolve_review(item_id, "dismissed", None, by, note, now)
    else:
        ramp = await uow.ramps.get(None, ramp_id, for_update=True)
        if ramp is None:
            raise field_error("not_found", "ramp_id", "Ramp payout not found")
        want = RampType.ON_RAMP if item.kind == "bank_line" else RampType.OFF_RAMP
        if ramp.type is not want or ramp.status is not RampStatus.PENDING:
            raise field_error(
                "invalid_transition",
                "ramp_id",
                f"a {item.kind} funds a pending {want.value} payout only",
            )
        if item.currency.upper() != ramp.source_currency.upper():
            raise field_error("validation_error", "ramp_id", "the payout expects another currency")
        places = DECIMALS[ramp.source_currency.lower()]
        if decimals_of(item.amount) > places:
            # what arrived becomes the payout's amount and the merchant's balance
            raise field_error(
                "invalid_amount",
                "ramp_id",
                f"{ramp.source_currency} amounts have at most {places} decimals",
            )
        if item.kind == "bank_line":
            line = await uow.bank.line(item.subject_id)
            # a payer's own end-to-end id is no payment of ours (see _match_line): only
            # a line naming one of our payments is not a customer's transfer
            e2e = line.end_to_end_id if line is not None else None
            ours = e2e is not None and await uow.bank.payment(e2e) is not None
            if line is None or line.direction is not Direction.CREDIT or ours:
                raise field_error(
                    "validation_error", "ramp_id", "only incoming transfers fund a payout"
                )
        await _fund(uow, ctx, ramp, f"review:{item.id}", amount=item.amount)
        if item.kind == "bank_line":
            await uow.bank.set_line_outcome(item.subject_id, "funded", ramp.id)
        else:
            await uow.bank.set_deposit_outcome(item.subject_id, "funded", ramp.id)
        await uow.bank.resolve_review(item_id, "assigned", ramp.id, by, note, now)
    resolved = await uow.bank.review_item(item_id)
    assert resolved is not None
    return resolved


# -- the other leg ------------------------------------------------------------------------


async def _rate(ctx: Context, base: str, quote: str) -> Fraction:
    try:
        rate = await ctx.rates.rate(base, quote, ctx.rates.resolve(None))
    except RateError as exc:
        raise field_error("rate_unavailable", "destination.currency", str(exc)) from exc
    return rate.exact if rate.exact is not None else Fraction(rate.value)


async def _start_bank_payment(uow: UnitOfWork, ctx: Context, ramp: RampPayout) -> RampPayout:
    """funded -> processing for an off-ramp: priced at the rate source's exact rate, the
    stablecoin held, the payment to the customer's bank account recorded (handed to the
    sandbox bank, or waiting for the next payment file)."""
    now = ctx.clock.now()
    fiat = ramp.destination_currency.upper()
    exact = await _rate(ctx, ramp.source_currency.upper(), fiat)
    fees = (await uow.service_fees.of_many([ramp.merchant_id])).get(ramp.merchant_id, {})
    try:
        priced = convert_for_bank(
            ramp.amount, exact, DECIMALS[ramp.destination_currency], ctx.service_fee(fees, fiat)
        )
    except PayoutdError as err:
        return await apply(
            uow, ctx, ramp_transition(ramp, RampStatus.FAILED, now=now, failure_reason=err.message)
        )
    rate = quantize(to_decimal(exact), MAX_DECIMALS, ROUND_HALF_EVEN)
    processing = await apply(
        uow,
        ctx,
        ramp_transition(
            ramp,
            RampStatus.PROCESSING,
            now=now,
            final_amount=priced.final_amount,
            fee=priced.fee,
            rate=rate,
        ),
    )
    rail = ctx.bank_rail
    sandbox = rail is not None and rail.accepts_payments()
    await uow.bank.add_payment(
        BankPayment(
            id=new_payment_id(),
            ramp_id=ramp.id,
            merchant_id=ramp.merchant_id,
            amount=priced.final_amount,
            currency=fiat,
            creditor=BankAccountRef(**ramp.bank),
            remittance=(ramp.wire_message or ramp.memo).replace("\n", " ")[:140],
            status="exported" if sandbox else "pending",
            settle_after=now + timedelta(seconds=rail.settle_seconds)
            if sandbox and rail is not None
            else None,
        ),
        now,
    )
    return processing


def new_payment_id() -> str:
    """The end-to-end id of a ramp's bank payment, which the bank's statement echoes:
    NACHA's individual identification number carries at most 15 characters (SEPA's
    EndToEndId 35), so "P" and 14 memo symbols (about 68 random bits; the primary key
    refuses a repeat)."""
    return "P" + rules.new_memo()[:14]


async def start_on_ramps(uow: UnitOfWork, ctx: Context, limit: int = 50) -> int:
    """The worker's step for funded on-ramps: the stablecoin leg is placed as a native
    payout (the one entry point, services.payouts): the fiat amount, sent as the
    destination's stablecoin on its network, paid from the fiat balance the funding
    credited, fees from the amount. The ramp is `processing` while it travels; a payout
    the engine refuses fails the ramp (the fiat stays on the merchant's balance)."""
    moved = 0
    for ramp in await uow.ramps.in_status(RampStatus.FUNDED, RampType.ON_RAMP, limit=limit):
        now = ctx.clock.now()
        fees = (await uow.service_fees.of_many([ramp.merchant_id])).get(ramp.merchant_id, {})
        request = payouts.PayoutRequest(
            amount=ramp.amount,
            currency=ramp.source_currency.upper(),
            address=ramp.wallet_address,
            network=rules.WALLET_NETWORKS[ramp.destination_network],
            payout_currency=ramp.destination_currency.upper(),
            balance_currency=ramp.source_currency.upper(),
            fee_mode="from_amount",
            order_id=f"ramp:{ramp.id}",
            comment=f"on-ramp {ramp.memo}",
            metadata={"ramp_payout": ramp.id},
        )
        try:
            quote = await payouts.quote(ctx, fees, request)
            placed = await payouts.place(uow, ctx, ramp.merchant_id, quote)
        except PayoutdError as err:
            await apply(
                uow,
                ctx,
                ramp_transition(ramp, RampStatus.FAILED, now=now, failure_reason=err.message),
            )
        else:
            p = placed.payout
            await apply(
                uow,
                ctx,
                ramp_transition(
                    ramp,
                    RampStatus.PROCESSING,
                    now=now,
                    payout_id=p.id,
                    final_amount=p.final_amount,
                    fee=p.fee_total,
                    rate=p.rate_value,
                ),
            )
        moved += 1
    return moved


async def follow_on_ramps(uow: UnitOfWork, ctx: Context, limit: int = 200) -> int:
    """Processing on-ramps follow their native payout: succeeded once it is paid, failed
    when it fails or is cancelled."""
    moved = 0
    for ramp in await uow.ramps.in_status(RampStatus.PROCESSING, RampType.ON_RAMP, limit=limit):
        if ramp.payout_id is None:
            continue
        payout = await uow.payouts.get(ramp.merchant_id, ramp.payout_id)
        if payout is None:
            continue
        now = ctx.clock.now()
        if payout.status is Status.PAID:
            await apply(
                uow,
                ctx,
                ramp_transition(
                    ramp, RampStatus.SUCCEEDED, now=now, final_amount=payout.final_amount
                ),
            )
        elif payout.status in (Status.FAILED, Status.CANCELLED, Status.EXPIRED):
            await apply(
                uow,
                ctx,
                ramp_transition(
                    ramp,
                    RampStatus.FAILED,
                    now=now,
                    failure_reason=payout.failure_reason or f"the payout {payout.status.value}",
                ),
            )
        else:
            continue
        moved += 1
    return moved


# -- payments out -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Export:
    id: str
    currency: str
    format: str
    payments: int
    total: Decimal
    content: bytes
    filename: str


def originator(ctx: Context, currency: str) -> Originator:
    """The funding account payments of `currency` leave from, as the payment file names it
    (NACHA's company id from the configuration)."""
    account = parties.funding_account(ctx, currency.lower(), PAYMENT_NETWORK[currency.lower()])
    return Originator(
        account=bank_ref(account, "business"),
        company_name=account.holder_name,
        company_id=ctx.settings.ach_company_id,
        destination_name=account.bank_name,
    )


async def export_payments(uow: UnitOfWork, ctx: Context, currency: str) -> Export | None:
    """One payment file (pain.001 for EUR, NACHA for USD) of the off-ramp payments not
    exported yet, each then marked exported with the file's id; None when there is
    nothing to export. Exporting again finds nothing new: a payment is in one file only."""
    cur = currency.upper()
    if cur.lower() not in PAYMENT_NETWORK:
        raise field_error("validation_error", "currency", "currency is usd or eur")
    files = _files(ctx)
    payments = await uow.bank.unexported(cur)
    if not payments:
        return None
    now = ctx.clock.now()
    export_id = new_id().replace("-", "")  # a SEPA message id: at most 35 characters
    day = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
    name, content = files.export(
        originator(ctx, cur),
        [p.outgoing() for p in payments],
        reference=export_id,
        created_at=now,
        execution_date=now.date(),
        file_number=await uow.bank.exports_since(cur, day) + 1,
    )
    for p in payments:
        if not await uow.bank.set_payment_status(
            p.id, "pending", "exported", now, export_id=export_id
        ):
            raise RuntimeError(f"payment {p.id} was exported by another transaction")
    # payments are in cents: the total is exact at 2 places (PostgreSQL reads 18)
    total = quantize(sum((p.amount for p in payments), Decimal(0)), 2, ROUND_CREDIT)
    fmt_name = "pain.001" if cur == "EUR" else "nacha"
    await uow.bank.add_export(
        export_id, cur, fmt_name, len(payments), total, content.decode("ascii"), now
    )
    return Export(export_id, cur, fmt_name, len(payments), total, content, name)


async def import_statement(uow: UnitOfWork, ctx: Context, data: bytes) -> dict[str, int]:
    """Every line of a camt.053 or MT940 statement through receive_bank_line (a file that
    cannot be read is refused whole: statement_unreadable); the count of each outcome."""
    lines = _files(ctx).read(data)
    counts = {"funded": 0, "settled": 0, "returned": 0, "review": 0, "duplicate": 0}
    for line in lines:
        counts[await receive_bank_line(uow, ctx, line)] += 1
    return counts


# -- the sandbox bank ------------------------------------------------------------------------


def _sandbox(ctx: Context) -> BankRail:
    rail = ctx.bank_rail
    if rail is None or not rail.accepts_payments():
        raise PayoutdError("bank_rail_unavailable", "The sandbox bank is not the bank rail")
    return rail


async def sandbox_transfer(
    uow: UnitOfWork, ctx: Context, *, amount: Decimal, currency: str, memo: str, network: str
) -> tuple[StatementLine, str]:
    """The sandbox bank books an incoming transfer to the funding account of `currency`
    and `network`, with `memo` as its remittance information."""
    _sandbox(ctx)
    cur = currency.lower()
    if cur not in rules.BANK_NETWORKS:
        raise field_error("validation_error", "currency", "currency is usd or eur")
    if network not in rules.BANK_NETWORKS[cur]:
        raise field_error("validation_error", "network", f"{cur} does not travel by {network}")
    if amount <= 0 or decimals_of(amount) > DECIMALS[cur]:
        raise field_error("invalid_amount", "amount")
    account = parties.funding_account(ctx, cur, network)
    now = ctx.clock.now()
    line = StatementLine(
        reference=f"SANDBOX-{new_id()}",
        account=account.iban or account.account_number or account.id,
        booked_on=now.date(),
        amount=amount,
        currency=cur.upper(),
        direction=Direction.CREDIT,
        memo=memo,
        counterparty="sandbox bank",
    )
    return line, await receive_bank_line(uow, ctx, line)


def _payment_line(ctx: Context, payment: BankPayment, *, returned: bool) -> StatementLine:
    today: date = ctx.clock.now().date()
    account = parties.funding_account(
        ctx, payment.currency.lower(), PAYMENT_NETWORK[payment.currency.lower()]
    )
    return StatementLine(
        reference=f"SANDBOX-{'RET' if returned else 'DBT'}-{payment.id}",
        account=account.iban or account.account_number or account.id,
        booked_on=today,
        amount=payment.amount,
        currency=payment.currency,
        direction=Direction.CREDIT if returned else Direction.DEBIT,
        memo=payment.remittance,
        end_to_end_id=payment.id,
        returned=returned,
        return_reason="sandbox: returned when told" if returned else None,
    )


async def sandbox_settle(uow: UnitOfWork, ctx: Context) -> int:
    """The sandbox bank books the debit of each payment whose delay has passed."""
    rail = ctx.bank_rail
    if rail is None or not rail.accepts_payments():
        return 0
    due = await uow.bank.sandbox_due(ctx.clock.now())
    for payment in due:
        await receive_bank_line(uow, ctx, _payment_line(ctx, payment, returned=False))
    return len(due)


async def sandbox_return(
    uow: UnitOfWork, ctx: Context, payment_ref: str
) -> tuple[StatementLine, str]:
    """The sandbox bank returns a payment (by its id or its ramp payout's id) not settled
    yet: the ramp payout is refunded."""
    _sandbox(ctx)
    payment = await uow.bank.payment(payment_ref) or await uow.bank.payment_of(payment_ref)
    if payment is None:
        raise PayoutdError("not_found", "No payment with that id")
    if payment.status != "exported":
        raise PayoutdError(
            "invalid_transition", f"The payment is {payment.status} and cannot be returned"
        )
    line = _payment_line(ctx, payment, returned=True)
    return line, await receive_bank_line(uow, ctx, line)


# -- views ------------------------------------------------------------------------------------


def view(r: RampPayout) -> dict[str, Any]:
    """payoutd's own JSON of a ramp payout (the native API and the events)."""
    src, dst = r.source_currency.upper(), r.destination_currency.upper()
    # both are in what the customer receives: the stablecoin of an on-ramp (its payout's
    # fees), the fiat of an off-ramp
    final_cur = fee_cur = dst
    return {
        "id": r.id,
        "object": "ramp_payout",
        "number": r.number,
        "type": r.type.value,
        "status": r.status.value,
        "customer": r.customer_id,
        "amount": shown_amount(r.amount, src),
        "currency": r.source_currency,
        "final_amount": shown_amount(r.final_amount, final_cur),
        "fee": shown_amount(r.fee, fee_cur),
        "rate": None if r.rate is None else format(r.rate.normalize(), "f"),
        "source": {"id": r.source_id, "currency": r.source_currency, "network": r.source_network},
        "funding": {
            "id": r.funding_id,
            "currency": r.source_currency,
            "network": r.source_network,
        },
        "destination": {
            "id": r.destination_id,
            "currency": r.destination_currency,
            "network": r.destination_network,
        },
        "instructions": {"memo": r.memo, "human": r.human},
        "third_party": r.third_party,
        "third_party_message": r.third_party_message,
        "wire_message": r.wire_message,
        "lookup_key": r.lookup_key,
        "meta": r.meta,
        "payout_id": r.payout_id,
        "failure_reason": r.failure_reason,
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
    }


def review_view(item: ReviewItem) -> dict[str, Any]:
    """A review queue item as the admin API and the CLI show it."""
    return {
        "id": item.id,
        "kind": item.kind,
        "reason": item.reason,
        "status": item.status,
        "amount": shown_amount(item.amount, item.currency.upper()),
        "currency": item.currency.upper(),
        "memo": item.memo,
        "reference": item.reference,
        "ramp_id": item.ramp_id,
        "resolved_by": item.resolved_by,
        "note": item.note,
        "created_at": ts(item.created_at),
        "resolved_at": ts(item.resolved_at),
    }
