"""The operator's command line: `payoutd serve`, `migrate`, `merchant create`,
`merchant totp enrol|reset`, `merchant cooldown lift`, `deposit`, `ledger check`,
`customers create|list|kyc`, `bank-accounts create|list`, `wallets create|list`,
`payouts import|export`. `--json`
prints machine-readable output."""

from __future__ import annotations

import asyncio
import json as jsonlib
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import make_url

from payoutd.bootstrap import Runtime, build, settle_heap
from payoutd.config import Settings, load_settings
from payoutd.domain.errors import PayoutdError
from payoutd.domain.money import parse_amount

if TYPE_CHECKING:
    from payoutd.services.context import Context
    from payoutd.services.ports import UnitOfWork

app = typer.Typer(
    help="payoutd: a self-hosted crypto payout engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
merchant_app = typer.Typer(help="Merchants and their first API key.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
operator_app = typer.Typer(help="Operator API keys (scope admin).", no_args_is_help=True)
app.add_typer(merchant_app, name="merchant")
totp_app = typer.Typer(
    help="A merchant's two-factor authentication (the operator's, never an API key's).",
    no_args_is_help=True,
)
cooldown_app = typer.Typer(
    help="The payout cooldown a new payout key starts.", no_args_is_help=True
)
merchant_app.add_typer(totp_app, name="totp")
merchant_app.add_typer(cooldown_app, name="cooldown")
app.add_typer(ledger_app, name="ledger")
app.add_typer(operator_app, name="operator-key")
secrets_app = typer.Typer(help="The master keys that seal stored secrets.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
review_app = typer.Typer(
    help="Payouts whose chain outcome needs a human (needs_review).", no_args_is_help=True
)
app.add_typer(review_app, name="review")
bank_app = typer.Typer(
    help="The operator's bank: payment files out, statements in, the review queue.",
    no_args_is_help=True,
)
bank_review_app = typer.Typer(
    help="Money that matched no ramp payout, waiting for an operator.", no_args_is_help=True
)
bank_app.add_typer(bank_review_app, name="review")
app.add_typer(bank_app, name="bank")
ramps_app = typer.Typer(help="Ramp payouts (bank account <-> wallet).", no_args_is_help=True)
app.add_typer(ramps_app, name="ramps")
customers_app = typer.Typer(
    help="A merchant's customers of ramp payouts, and their KYC status.", no_args_is_help=True
)
app.add_typer(customers_app, name="customers")
bank_accounts_app = typer.Typer(
    help="Customers' bank accounts (usd: ACH/wire, eur: SEPA).", no_args_is_help=True
)
app.add_typer(bank_accounts_app, name="bank-accounts")
wallets_app = typer.Typer(
    help="Customers' stablecoin wallets (usdc/usdt on sol, ethereum, base).", no_args_is_help=True
)
app.add_typer(wallets_app, name="wallets")
payouts_app = typer.Typer(
    help="Mass payouts: import a CSV of payouts, export payouts as CSV.", no_args_is_help=True
)
app.add_typer(payouts_app, name="payouts")

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class Role(StrEnum):
    all = "all"
    api = "api"
    worker = "worker"


class NoDatabase(Exception):
    """The command would open a database that is not there."""


def _run(job: Callable[[Runtime], Awaitable[T]], *, create: bool = False) -> T:
    """Run `job` on the configured database, migrated first. Only `create` (migrate) may
    make a database: any other command run from another directory, or without the
    server's PAYOUTD_DATA_DIR, would otherwise make a second, empty one whose keys the
    server then refuses."""
    settings = load_settings()

    async def main() -> T:
        rt = build(settings)
        try:
            if not create:
                await _ensure_database(rt, settings)
            from payoutd.store.migrate import upgrade

            await upgrade(rt.db.engine, secrets=rt.secrets)
            return await job(rt)
        finally:
            await rt.close()

    try:
        if not create:
            _ensure_sqlite_file(settings)
        return asyncio.run(main())
    except PayoutdError as err:
        err_console.print(f"[red]error[/red] {err.code}: {err.message}")
        raise typer.Exit(2) from None
    except NoDatabase as err:
        err_console.print(f"[red]error[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


_WHERE = (
    "run `payoutd migrate` to create one, or point PAYOUTD_DATA_DIR (or "
    "PAYOUTD_DATABASE_URL) at the server's database"
)


def _ensure_sqlite_file(settings: Settings) -> None:
    """SQLite makes a missing file on connect: look before anything connects."""
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise NoDatabase(f"no payoutd database at {url.database}: {_WHERE}")


async def _ensure_database(rt: Runtime, settings: Settings) -> None:
    """PostgreSQL never makes a database on connect, but say which one is missing."""
    if not rt.db.is_postgres:
        return
    try:
        async with rt.db.engine.connect():
            pass
    except Exception as exc:
        shown = make_url(settings.url).render_as_string(hide_password=True)
        raise NoDatabase(f"cannot open the database {shown} ({exc}): {_WHERE}") from exc


def _in_unit(call: Callable[[UnitOfWork, Context], Awaitable[T]]) -> T:
    """`call` in one read-write transaction on the configured database (_run)."""

    async def job(rt: Runtime) -> T:
        async with rt.db.unit() as uow:
            return await call(uow, rt.ctx)

    return _run(job)


def _reading(call: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """`call` in one read-only transaction on the configured database (_run)."""

    async def job(rt: Runtime) -> T:
        async with rt.db.read() as uow:
            return await call(uow)

    return _run(job)


def _read_file(path: Path) -> bytes:
    """The file a command was given, or a clean refusal naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PayoutdError("bad_request", f"cannot read {path}: {exc.strerror}") from None


def _print(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(jsonlib.dumps(data))
    else:
        console.print(text)


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    _run(lambda rt: asyncio.sleep(0), create=True)
    console.print("migrations applied")


@app.command()
def serve(
    role: Annotated[Role, typer.Option(help="all: API and worker; api; worker")] = Role.all,
    host: Annotated[str | None, typer.Option(help="Overrides PAYOUTD_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides PAYOUTD_PORT")] = None,
    processes: Annotated[
        int | None,
        typer.Option(min=1, help="API processes (--role api); overrides PAYOUTD_API_PROCESSES"),
    ] = None,
) -> None:
    """Run payoutd: migrations first, then the API and/or the worker loops."""
    from payoutd.logging import configure
    from payoutd.store.migrate import upgrade

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    if processes:
        overrides["api_processes"] = processes
    settings = load_settings(**overrides)
    configure(settings.log_level, json=settings.log_json)
    if settings.api_processes > 1:
        _serve_processes(settings, role)
        return

    async def main() -> None:
        # A worker takes SIGTERM as "finish and exit 0" from its first moment: a supervisor
        # may stop it while it is still migrating.
        stop = _stop_on_signals() if role is Role.worker else None
        rt = build(settings)
        try:
            await upgrade(rt.db.engine, secrets=rt.secrets)
            if stop is not None:
                await _worker_only(rt, stop)
                return
            # the API stack is imported only by processes that serve it
            import uvicorn

            from payoutd.api.app import create_app

            application = create_app(rt, run_worker=role is Role.all)
            config = uvicorn.Config(
                application,
                host=settings.host,
                port=settings.port,
                log_level=settings.log_level,
                access_log=False,
                **_proxy_options(settings),
            )
            server = uvicorn.Server(config)
            settle_heap()
            await server.serve()
        finally:
            await rt.close()

    # uvloop (a dependency through uvicorn[standard]): the event loop is most of a busy
    # API process's own time
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _serve_processes(settings: Settings, role: Role) -> None:
    """The API in several processes sharing one listening socket (uvicorn's supervisor
    restarts one that dies). Each builds its own runtime; the worker loops run apart."""
    import os

    import uvicorn

    from payoutd.store.migrate import upgrade

    if role is not Role.api:
        err_console.print(
            "[red]error[/red] validation_error: more than one process serves "
            "the API only: use --role api, and run --role worker beside it"
        )
        raise typer.Exit(2)
    if not settings.url.startswith("postgresql"):
        err_console.print(
            "[red]error[/red] validation_error: several API processes need "
            "PostgreSQL (SQLite has one writer: one process serves it best)"
        )
        raise typer.Exit(2)

    async def migrate() -> None:
        rt = build(settings)
        try:
            await upgrade(rt.db.engine, secrets=rt.secrets)
        finally:
            await rt.close()

    asyncio.run(migrate())
    # the processes read their settings from the environment, overrides included
    os.environ["PAYOUTD_HOST"], os.environ["PAYOUTD_PORT"] = settings.host, str(settings.port)
    os.environ["PAYOUTD_API_PROCESSES"] = str(settings.api_processes)
    uvicorn.run(
        "payoutd.api.asgi:app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.api_processes,
        log_level=settings.log_level,
        access_log=False,
        **_proxy_options(settings),
    )


def _proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, and the
    client's address decides IP allowlists and the audit trail's `source`: forwarded
    headers count only from the proxies PAYOUTD_FORWARDED_ALLOW_IPS names (none by
    default)."""
    allowed = settings.forwarded_allow_ips.strip()
    return {"proxy_headers": bool(allowed), "forwarded_allow_ips": allowed or None}


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _worker_only(rt: Runtime, stop: asyncio.Event) -> None:
    from payoutd.worker.runner import Worker

    if stop.is_set():
        return
    worker = Worker(rt.db, rt.ctx, rt.sender)
    settle_heap()
    worker.start()
    await stop.wait()
    await worker.stop()


@merchant_app.command("create")
def merchant_create(name: str, as_json: JsonOpt = False) -> None:
    """Create a merchant; prints its id and first API key (shown only once)."""
    from payoutd.services.merchants import create_merchant

    async def job(rt: Runtime) -> dict[str, Any]:
        async with rt.db.unit() as uow:
            merchant, issued = await create_merchant(uow, rt.ctx, name)
        return {"merchant_id": merchant.id, "api_key": issued.plaintext}

    out = _run(job)
    _print(
        out,
        as_json,
        f"merchant_id: {out['merchant_id']}\napi_key:     {out['api_key']}\n"
        "(the key is shown only once)",
    )


def _cli_actor() -> dict[str, str]:
    """Who acts, for the audit trail, when the operator runs a command."""
    return {
        "actor": f"operator:{os.environ.get('USER', 'cli')} (cli)",
        "source": f"cli@{socket.gethostname()}",
    }


def _totp_command(change: str, merchant: str, as_json: bool) -> None:
    from payoutd.services import access

    act = access.enrol_totp if change == "enrol" else access.reset_totp

    async def job(rt: Runtime) -> dict[str, Any]:
        async with rt.db.unit() as uow:
            secret, uri = await act(uow, rt.ctx, merchant, **_cli_actor())
        return {"merchant_id": merchant, "secret": secret, "otpauth_uri": uri}

    out = _run(job)
    _print(
        out,
        as_json,
        f"secret:      {out['secret']}\notpauth_uri: {out['otpauth_uri']}\n"
        "(shown only once: give it to the account's owner)",
    )


@totp_app.command("enrol")
def totp_enrol(merchant: str, as_json: JsonOpt = False) -> None:
    """Bind two-factor authentication to MERCHANT (once); prints the secret once."""
    _totp_command("enrol", merchant, as_json)


@totp_app.command("reset")
def totp_reset(merchant: str, as_json: JsonOpt = False) -> None:
    """Replace MERCHANT's TOTP secret (a lost device, a lockout); prints it once."""
    _totp_command("reset", merchant, as_json)


@cooldown_app.command("lift")
def cooldown_lift(merchant: str, as_json: JsonOpt = False) -> None:
    """End MERCHANT's payout cooldown now (audited)."""
    from payoutd.services import access
    from payoutd.services.views import ts

    async def job(rt: Runtime) -> dict[str, Any]:
        async with rt.db.unit() as uow:
            was = await access.lift_cooldown(uow, rt.ctx, merchant, **_cli_actor())
        return {"merchant_id": merchant, "payouts_blocked_until": None, "lifted_until": ts(was)}

    out = _run(job)
    _print(
        out,
        as_json,
        f"cooldown lifted (it ran until {out['lifted_until']})"
        if out["lifted_until"]
        else "no cooldown was running; none is now",
    )


@operator_app.command("create")
def operator_key_create(
    name: Annotated[str, typer.Option()] = "operator", as_json: JsonOpt = False
) -> None:
    """Create an operator key (scope admin) for the /v1/admin calls."""
    from payoutd.services.merchants import create_operator_key

    async def job(rt: Runtime) -> dict[str, Any]:
        async with rt.db.unit() as uow:
            issued = await create_operator_key(uow, rt.ctx, name)
        return {"api_key": issued.plaintext, "scopes": sorted(issued.key.scopes)}

    out = _run(job)
    _print(out, as_json, f"api_key: {out['api_key']}\n(the key is shown only once)")


@app.command()
def deposit(merchant: str, currency: str, amount: str, as_json: JsonOpt = False) -> None:
    """Credit MERCHANT's CURRENCY balance with AMOUNT through the ledger."""
    from payoutd.services.merchants import deposit as credit
    from payoutd.services.views import amount as shown

    try:
        value: Decimal = parse_amount(amount)
    except ValueError as exc:
        err_console.print(f"[red]error[/red] invalid_amount: amount {exc}")
        raise typer.Exit(2) from None

    async def job(rt: Runtime) -> dict[str, Any]:
        async with rt.db.unit() as uow:
            tx_id = await credit(uow, rt.ctx, merchant, currency, value, **_cli_actor())
            balance = await uow.ledger.balance(merchant, currency.upper())
        assert balance is not None
        code = currency.upper()
        # at the currency's precision, as the API shows balances (PostgreSQL gives 18 places)
        return {
            "transaction_id": tx_id,
            "merchant_id": merchant,
            "currency": code,
            "amount": shown(value, code),
            "available": shown(balance.available, code),
        }

    out = _run(job)
    _print(
        out, as_json, f"deposited {out['amount']} {out['currency']}; available {out['available']}"
    )


@ledger_app.command("check")
def ledger_check(as_json: JsonOpt = False) -> None:
    """Verify the ledger; exits 0 when clean, 1 otherwise."""

    async def job(rt: Runtime) -> dict[str, Any]:
        async with rt.db.snapshot() as uow:
            return (await uow.ledger.check()).as_dict()

    report = _run(job)
    if as_json:
        typer.echo(jsonlib.dumps(report))
    else:
        status = "[green]clean[/green]" if report["ok"] else "[red]NOT CLEAN[/red]"
        console.print(
            f"ledger {status}: {report['transactions']} transactions, "
            f"{report['entries']} entries, {report['accounts']} accounts"
        )
        for problem in report["problems"]:
            console.print(f"  - {problem}")
    raise typer.Exit(0 if report["ok"] else 1)


@review_app.command("list")
def review_list(as_json: JsonOpt = False) -> None:
    """List payouts in needs_review."""
    from payoutd.services import review
    from payoutd.services.views import payout_view

    async def job(rt: Runtime) -> list[dict[str, Any]]:
        async with rt.db.read() as uow:
            return [payout_view(p) for p in await review.pending(uow)]

    found = _run(job)
    if as_json:
        typer.echo(jsonlib.dumps({"data": found}))
        return
    if not found:
        console.print("nothing needs review")
    for p in found:
        console.print(
            f"{p['id']}  {p['final_amount']} {p['payout_currency']} -> {p['address']}"
            f"  txid {p['txid']}  ({p['failure_reason']})"
        )


@review_app.command("resolve")
def review_resolve(
    payout_id: str,
    paid: Annotated[bool, typer.Option("--paid", help="It was paid: give --txid")] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="Nothing was paid: return the funds")
    ] = False,
    txid: Annotated[str | None, typer.Option(help="The transaction that paid it")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, for the audit trail")] = None,
    operator: Annotated[
        str, typer.Option(help="Who resolves it, for the audit trail")
    ] = os.environ.get("USER", "operator"),
    as_json: JsonOpt = False,
) -> None:
    """Resolve a needs_review payout as --paid --txid X, or --failed (funds returned)."""
    from payoutd.services import review
    from payoutd.services.views import payout_view

    if paid == failed:
        err_console.print("[red]error[/red] say exactly one of --paid or --failed")
        raise typer.Exit(2)
    outcome = "paid" if paid else "failed"

    resolved = _in_unit(
        lambda uow, ctx: review.resolve(
            uow,
            ctx,
            payout_id,
            outcome,
            txid=txid,
            reason=reason,
            actor=f"{operator} (cli)",
            source=f"cli@{socket.gethostname()}",
        )
    )
    out = payout_view(resolved)
    _print(out, as_json, f"{out['id']} is now {out['status']}")


@bank_app.command("export")
def bank_export(
    currency: Annotated[str, typer.Option(help="eur (a SEPA pain.001) or usd (a NACHA file)")],
    out: Annotated[Path, typer.Option(help="Where to write the payment file")],
    as_json: JsonOpt = False,
) -> None:
    """Write the payment file of the off-ramp payments not exported yet (exits 0 with no
    file when none waits). Each payment goes into one file only: upload it to the bank."""
    from payoutd.services import ramps

    export = _in_unit(lambda uow, ctx: ramps.export_payments(uow, ctx, currency))
    if export is None:
        _print({"exported": 0}, as_json, "no payment waits for export")
        return
    out.write_bytes(export.content)
    data = {
        "exported": export.payments,
        "id": export.id,
        "format": export.format,
        "total": format(export.total, "f"),
        "currency": export.currency,
        "file": str(out),
    }
    _print(
        data,
        as_json,
        f"wrote {export.format} {out}: {export.payments} payments, "
        f"{data['total']} {export.currency}",
    )


@bank_app.command("import")
def bank_import(
    file: Annotated[Path, typer.Argument(help="A camt.053 or MT940 statement")],
    as_json: JsonOpt = False,
) -> None:
    """Import a bank statement: lines carrying a pending on-ramp's memo fund it, our
    payments' debits and returns settle or refund their off-ramps, the rest waits for
    review. A statement imported again changes nothing."""
    from payoutd.services import ramps

    # read once the database is known to be there (_run): a command run in the wrong
    # place says so before anything else
    counts = _in_unit(lambda uow, ctx: ramps.import_statement(uow, ctx, _read_file(file)))
    _print(
        {"lines": sum(counts.values()), **counts},
        as_json,
        ", ".join(f"{n} {outcome}" for outcome, n in counts.items()),
    )


@bank_review_app.command("list")
def bank_review_list(
    status: Annotated[str, typer.Option(help="open, assigned, dismissed or all")] = "open",
    as_json: JsonOpt = False,
) -> None:
    """List the bank review queue."""
    from payoutd.services import ramps

    items = _reading(lambda uow: ramps.review_queue(uow, None if status == "all" else status))
    _listed(
        [ramps.review_view(i) for i in items],
        as_json,
        lambda i: (
            f"{i['id']}  {i['status']}  {i['kind']}  {i['amount']} {i['currency']}  "
            f"{i['reference']}  {i['memo']!r}  ({i['reason']})"
        ),
        empty="the review queue is empty",
    )


@bank_review_app.command("resolve")
def bank_review_resolve(
    item_id: str,
    assign: Annotated[
        str | None, typer.Option("--assign", help="Fund this pending ramp payout with it")
    ] = None,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="Move nothing")] = False,
    note: Annotated[str | None, typer.Option(help="Why, for the record")] = None,
    operator: Annotated[str, typer.Option(help="Who resolves it, for the record")] = os.environ.get(
        "USER", "operator"
    ),
    as_json: JsonOpt = False,
) -> None:
    """Resolve a review item: --assign RAMP_ID or --dismiss."""
    from payoutd.services import ramps

    if (assign is None) == (not dismiss):
        err_console.print("[red]error[/red] say exactly one of --assign RAMP_ID or --dismiss")
        raise typer.Exit(2)

    item = _in_unit(
        lambda uow, ctx: ramps.resolve_review(
            uow, ctx, item_id, by=f"{operator} (cli)", ramp_id=assign, note=note
        )
    )
    out = ramps.review_view(item)
    _print(out, as_json, f"{out['id']} is now {out['status']}")


@ramps_app.command("list")
def ramps_list(
    merchant: Annotated[str | None, typer.Option(help="Only this merchant's")] = None,
    lookup_key: Annotated[str | None, typer.Option(help="Only those with this key")] = None,
    status: Annotated[str | None, typer.Option(help="Only those in this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List ramp payouts, newest first."""
    from payoutd.services import ramps

    page, _ = _reading(
        lambda uow: ramps.list_page(
            uow, merchant, lookup_key=lookup_key, status=status, limit=limit
        )
    )
    _listed(
        [ramps.view(r) for r in page],
        as_json,
        lambda r: (
            f"{r['id']}  {r['type']}  {r['status']}  {r['amount']} {r['currency']} -> "
            f"{r['final_amount'] or '?'} {r['destination']['currency']}  "
            f"memo {r['instructions']['memo']}"
        ),
        empty=None,
    )


@secrets_app.command("rotate")
def secrets_rotate(
    operator: Annotated[
        str, typer.Option(help="Who rotates, for the audit trail")
    ] = os.environ.get("USER", "operator"),
    as_json: JsonOpt = False,
) -> None:
    """Reseal every stored secret under a new master key. With the key file: a new key is
    put first, everything resealed under it, and only it and the key it replaced are kept
    (the next rotation retires that one). With PAYOUTD_SECRET_KEY: put the new key first
    there, rotate, then drop the old one from it and restart."""
    from payoutd.services.sealing import reseal_all

    async def job(rt: Runtime) -> dict[str, Any]:
        if rt.secrets.key_file is not None:
            rt.secrets.add_key()
        async with rt.db.unit() as uow:
            count = await reseal_all(
                uow, rt.ctx, actor=f"{operator} (cli)", source=f"cli@{socket.gethostname()}"
            )
        rt.secrets.retire_old_keys()
        return {"resealed": count, "keys": len(rt.secrets.keys)}

    out = _run(job)
    _print(
        out,
        as_json,
        f"{out['resealed']} secrets resealed under the new key ({out['keys']} keys kept)",
    )


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a new master key, for PAYOUTD_SECRET_KEY."""
    from payoutd.secretbox import new_key

    typer.echo(new_key())


# -- the parties of ramp payouts ---------------------------------------------------------

LookupOpt = Annotated[str | None, typer.Option("--lookup-key", help="Your lookup key")]
LimitOpt = Annotated[int, typer.Option(min=1, max=200, help="How many, newest first")]


def _listed(
    rows: list[dict[str, Any]],
    as_json: bool,
    line: Callable[[dict[str, Any]], str],
    *,
    empty: str | None = "none",
) -> None:
    """`{"data": rows}` with --json, else a line a row (`empty`, if any, for none)."""
    if as_json:
        typer.echo(jsonlib.dumps({"data": rows}))
        return
    if not rows and empty is not None:
        console.print(empty)
    for row in rows:
        console.print(line(row), highlight=False)


@customers_app.command("create")
def customers_create(
    merchant: str,
    name: Annotated[str, typer.Option(help="The customer's name")],
    type_: Annotated[str, typer.Option("--type", help="individual or business")] = "individual",
    email: Annotated[str | None, typer.Option(help="Contact address")] = None,
    lookup_key: LookupOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a customer of MERCHANT (KYC pending)."""
    from payoutd.services import parties
    from payoutd.services.views import customer_view

    req = parties.CustomerRequest(type=type_, name=name, email=email, lookup_key=lookup_key)

    out = customer_view(_in_unit(lambda uow, ctx: parties.create_customer(uow, ctx, merchant, req)))
    _print(out, as_json, f"{out['id']}  {out['type']}  {out['name']}  kyc {out['kyc_status']}")


@customers_app.command("list")
def customers_list(
    merchant: str, lookup_key: LookupOpt = None, limit: LimitOpt = 50, as_json: JsonOpt = False
) -> None:
    """MERCHANT's customers, newest first."""
    from payoutd.services import parties
    from payoutd.services.views import customer_view

    found = _reading(
        lambda uow: parties.list_customers(uow, merchant, lookup_key=lookup_key, limit=limit)
    )
    _listed(
        [customer_view(c) for c in found],
        as_json,
        lambda c: f"{c['id']}  {c['type']}  {c['name']}  kyc {c['kyc_status']}",
    )


@customers_app.command("kyc")
def customers_kyc(
    customer: str,
    status: Annotated[str, typer.Argument(help="pending, approved or rejected")],
    operator: Annotated[
        str, typer.Option(help="Who decides, for the audit trail")
    ] = os.environ.get("USER", "operator"),
    as_json: JsonOpt = False,
) -> None:
    """Set CUSTOMER's KYC status (the operator's decision, kept in the audit log)."""
    from payoutd.services import parties
    from payoutd.services.views import customer_view

    changed = _in_unit(
        lambda uow, ctx: parties.set_kyc(uow, ctx, customer, status, actor=f"cli:{operator}")
    )
    out = customer_view(changed)
    _print(out, as_json, f"{out['id']}  kyc {out['kyc_status']}")


@bank_accounts_app.command("create")
def bank_accounts_create(
    merchant: str,
    customer: Annotated[str, typer.Option(help="The customer's id")],
    currency: Annotated[str, typer.Option(help="usd or eur")],
    holder_name: Annotated[str, typer.Option(help="The account holder")],
    bank_name: Annotated[str, typer.Option(help="The bank's name")] = "",
    routing_number: Annotated[str | None, typer.Option(help="usd: ABA routing number")] = None,
    account_number: Annotated[str | None, typer.Option(help="usd: 4 to 17 digits")] = None,
    account_type: Annotated[str, typer.Option(help="usd: checking or savings")] = "checking",
    iban: Annotated[str | None, typer.Option(help="eur: the IBAN")] = None,
    bic: Annotated[str | None, typer.Option(help="eur: the BIC")] = None,
    lookup_key: LookupOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a bank account to one of MERCHANT's customers."""
    from payoutd.services import parties
    from payoutd.services.views import bank_account_view

    req = parties.BankAccountRequest(
        customer_id=customer,
        currency=currency,
        holder_name=holder_name,
        bank_name=bank_name,
        routing_number=routing_number,
        account_number=account_number,
        account_type=account_type,
        iban=iban,
        bic=bic,
        lookup_key=lookup_key,
    )

    made = _in_unit(lambda uow, ctx: parties.create_bank_account(uow, ctx, merchant, req))
    out = bank_account_view(made)
    _print(out, as_json, f"{out['id']}  {out['currency']}  ****{out['last4']}  {out['status']}")


@bank_accounts_app.command("list")
def bank_accounts_list(
    merchant: str,
    customer: Annotated[str | None, typer.Option(help="Only this customer's")] = None,
    lookup_key: LookupOpt = None,
    limit: LimitOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """The bank accounts of MERCHANT's customers, newest first."""
    from payoutd.services import parties
    from payoutd.services.views import bank_account_view

    found = _reading(
        lambda uow: parties.list_bank_accounts(
            uow, merchant, lookup_key=lookup_key, customer_id=customer, limit=limit
        )
    )
    _listed(
        [bank_account_view(a) for a in found],
        as_json,
        lambda a: f"{a['id']}  {a['customer']}  {a['currency']}  ****{a['last4']}  {a['status']}",
    )


@wallets_app.command("create")
def wallets_create(
    merchant: str,
    customer: Annotated[str, typer.Option(help="The customer's id")],
    network: Annotated[str, typer.Option(help="sol, ethereum or base")],
    currency: Annotated[str, typer.Option(help="usdc or usdt")],
    address: Annotated[str, typer.Option(help="The wallet's address")],
    lookup_key: LookupOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a wallet to one of MERCHANT's customers."""
    from payoutd.services import parties
    from payoutd.services.views import wallet_view

    req = parties.WalletRequest(
        customer_id=customer,
        network=network,
        currency=currency,
        address=address,
        lookup_key=lookup_key,
    )

    out = wallet_view(_in_unit(lambda uow, ctx: parties.create_wallet(uow, ctx, merchant, req)))
    _print(out, as_json, f"{out['id']}  {out['currency']} on {out['network']}  {out['address']}")


@wallets_app.command("list")
def wallets_list(
    merchant: str,
    customer: Annotated[str | None, typer.Option(help="Only this customer's")] = None,
    lookup_key: LookupOpt = None,
    limit: LimitOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """The wallets of MERCHANT's customers, newest first."""
    from payoutd.services import parties
    from payoutd.services.views import wallet_view

    found = _reading(
        lambda uow: parties.list_wallets(
            uow, merchant, lookup_key=lookup_key, customer_id=customer, limit=limit
        )
    )
    _listed(
        [wallet_view(w) for w in found],
        as_json,
        lambda w: f"{w['id']}  {w['customer']}  {w['currency']} on {w['network']}  {w['address']}",
    )


@payouts_app.command("import")
def payouts_import(
    file: Annotated[Path, typer.Argument(help="A CSV whose header names the payout API's fields")],
    merchant: Annotated[str, typer.Option(help="The merchant whose balances pay")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Price and check every row; create nothing")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write the per-row results to this CSV file")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a payout for every row of FILE, each through the same path as POST
    /v1/payouts. A refused row stops nothing; exits 1 when any row was refused. Rows
    without order_id get one derived from the file, so importing it again creates
    nothing new."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from payoutd.domain.imports import PayoutImport, read_csv
    from payoutd.ids import new_id
    from payoutd.services import imports
    from payoutd.worker.imports import run as run_import

    async def job(rt: Runtime) -> dict[str, Any]:
        parsed = read_csv(_read_file(file))
        owner = new_id()
        async with rt.db.unit() as uow:
            imp = await imports.create(uow, rt.ctx, merchant, parsed, dry_run=dry_run, owner=owner)
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, disable=as_json, transient=False) as progress:
            task = progress.add_task(
                "dry run" if dry_run else "importing", total=imp.total, rate="-"
            )
            started, first = time.monotonic(), imp.next_row

            def advance(now: PayoutImport) -> None:
                elapsed = time.monotonic() - started
                rate = (now.next_row - first) / elapsed if elapsed > 0 else 0.0
                progress.update(task, completed=now.next_row, rate=f"{rate:,.0f}")

            imp = await run_import(rt.db, rt.ctx, imp, owner, advance)
        rows = []
        async with rt.db.read() as uow:
            after: int | None = None
            while True:
                found = await uow.imports.results(imp.id, after_number=after, limit=1000)
                rows += [imports.row_view(r) for r in found]
                if len(found) < 1000:
                    break
                after = found[-1].number
        return {**imports.import_view(imp), "rows": rows}

    out = _run(job)
    if report is not None:
        _write_report(report, out["rows"])
    if as_json:
        typer.echo(jsonlib.dumps(out))
    else:
        verb = "would be accepted" if dry_run else "accepted"
        console.print(
            f"import {out['id']}: {out['total']} rows, {out['accepted']} {verb}, "
            f"{out['existing']} existing, {out['refused']} refused",
            soft_wrap=True,
        )
        for row in out["rows"]:
            if row["status"] == "refused":
                err = row["error"]
                console.print(
                    f"  row {row['row']}: {err['code']} ({err['field'] or '-'}): {err['message']}",
                    highlight=False,
                    soft_wrap=True,
                )
    raise typer.Exit(1 if out["refused"] else 0)


REPORT_COLUMNS = (
    "row",
    "status",
    "order_id",
    "payout_id",
    "error_code",
    "error_field",
    "error_message",
)


def _write_report(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for row in rows:
            err = row["error"] or {}
            writer.writerow(
                [
                    row["row"],
                    row["status"],
                    row["order_id"] or "",
                    row["payout_id"] or "",
                    err.get("code") or "",
                    err.get("field") or "",
                    err.get("message") or "",
                ]
            )


@payouts_app.command("export")
def payouts_export(
    merchant: Annotated[str, typer.Option(help="Whose payouts")],
    status: Annotated[str | None, typer.Option(help="Only payouts in this status")] = None,
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: stdout)")] = None,
) -> None:
    """Write MERCHANT's payouts as CSV, newest first: the import's columns, with each
    payout's id, status, fees, txid and times."""
    import csv
    import io

    from payoutd.domain.payout import Status
    from payoutd.services import imports

    if status is not None and status not in {s.value for s in Status}:
        err_console.print(
            f"[red]error[/red] validation_error: status must be one of "
            f"{', '.join(s.value for s in Status)}"
        )
        raise typer.Exit(2)

    async def job(rt: Runtime) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        before: str | None = None
        async with rt.db.read() as uow:
            if await uow.merchants.get(merchant) is None:
                raise PayoutdError("merchant_not_found")
            while True:
                page = await uow.payouts.page(merchant, status=status, before_id=before, limit=500)
                rows += [imports.export_row(p) for p in page]
                if len(page) < 500:
                    return rows
                before = page[-1].id

    rows = _run(job)
    keys = sorted({k for row in rows for k in row if k.startswith("metadata.")})
    columns = imports.export_columns([k.removeprefix("metadata.") for k in keys])
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    if out is None:
        typer.echo(buffer.getvalue(), nl=False)
    else:
        out.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        err_console.print(f"{len(rows)} payouts written to {out}")


def main() -> None:
    app()
