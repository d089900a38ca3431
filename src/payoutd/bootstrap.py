"""The only place engines, chains and clients are built."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from functools import partial

from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from payoutd import json_text
from payoutd.chains import config as chains_config
from payoutd.chains.sandbox import SandboxChain
from payoutd.config import Settings
from payoutd.dialects import bitclear, calypso, cryptomus, sphere_payouts
from payoutd.domain.assets import CURRENCIES, NETWORKS
from payoutd.metrics import Metrics
from payoutd.rails.files import BankFiles
from payoutd.rails.sandbox import FileBank, SandboxBank
from payoutd.rate_limits import RateLimits
from payoutd.rates import RateSources
from payoutd.secretbox import KEY_FILE, KeyFile, SecretBox, parse_keys
from payoutd.services import parties
from payoutd.services.context import Context
from payoutd.services.network_fees import NetworkFees
from payoutd.services.ports import (
    BankRail,
    CallbackFormat,
    Chain,
    Clock,
    EndpointFormat,
    SystemClock,
)
from payoutd.store import pool_checks, sqlite_driver
from payoutd.store.db import Database, tune_sqlite
from payoutd.webhooks.delivery import Sender

# the webhook formats of the provider dialects, by the name a payout records
CALLBACK_FORMATS: dict[str, CallbackFormat] = {
    "cryptomus": cryptomus.CallbackFormat(),
    "spark": cryptomus.CallbackFormat(),
    "bitclear": bitclear.CallbackFormat(),
}
# the webhook formats of endpoints subscribed through a dialect, by the endpoint's format
ENDPOINT_FORMATS: dict[str, EndpointFormat] = {
    calypso.FORMAT: calypso.EndpointFormat(),
    sphere_payouts.FORMAT: sphere_payouts.EndpointFormat(),
}


@dataclass
class Runtime:
    settings: Settings
    db: Database
    ctx: Context

    rates: RateSources
    metrics: Metrics
    sender: Sender
    secrets: SecretBox
    rate_limits: RateLimits

    async def close(self) -> None:
        await self.sender.aclose()
        await self.rates.aclose()
        await self.db.dispose()


def build_database(settings: Settings, secrets: SecretBox | None = None) -> Database:
    """`secrets` opens the personal data some tables keep sealed (bank account numbers);
    a database built without it refuses to read or write those."""
    url = settings.url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = make_url(url).database or ""
        # payoutd's own SQLite connection under SQLAlchemy's aiosqlite dialect: a thread
        # hop only for calls that can wait (payoutd.store.sqlite_driver)
        # (one more than asked for: the process's write connection is kept out of the
        # pool's use, payoutd.store.sqlite_writer)
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size + 1,
            max_overflow=0,
            async_creator=partial(sqlite_driver.connect, path),
            json_serializer=json_text.dumps_text,
        )
        tune_sqlite(engine)
    else:
        asyncpg = make_url(url).get_driver_name() == "asyncpg"
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=10,
            pool_pre_ping=not asyncpg,
            json_serializer=json_text.dumps_text,
        )
        if asyncpg:
            pool_checks.install(engine)  # a ping only where a connection may have died
    return Database(engine, secrets)


def build_secrets(settings: Settings) -> SecretBox:
    """The master keys: PAYOUTD_SECRET_KEY, else the data directory's key file (made on
    first start; with PostgreSQL too, so every process of one deployment must share it)."""
    if settings.secret_key is not None:
        return SecretBox(parse_keys(settings.secret_key.get_secret_value()))
    return SecretBox.from_file(KeyFile(settings.data_dir / KEY_FILE))


def build_chains(settings: Settings, db: Database) -> dict[str, Chain]:
    """Networks named in the chains file get their adapter; every other network (all of
    them, with no chains file) runs on the sandbox chain."""
    configured = chains_config.load(settings.chains_file) if settings.chains_file else {}
    chains: dict[str, Chain] = {}
    for code in NETWORKS:
        cfg = configured.get(code)
        if cfg is None or cfg.adapter == "sandbox":
            chains[code] = SandboxChain(
                code,
                db,
                confirmations=(
                    cfg.confirmations
                    if cfg and cfg.confirmations
                    else settings.sandbox_confirmations
                ),
                batch_window_seconds=(
                    cfg.batch_window_seconds
                    if cfg and cfg.batch_window_seconds is not None
                    else settings.sandbox_batch_window_seconds
                ),
                broadcast_seconds=settings.sandbox_broadcast_seconds,
                fee_estimate_seconds=settings.sandbox_fee_estimate_seconds,
            )
        else:
            chains[code] = live_chain(cfg)
    return chains


def live_chain(cfg: chains_config.NetworkConfig) -> Chain:
    """Adapters are imported only when configured: their clients are heavy."""
    if cfg.adapter == "utxo":
        from payoutd.chains.utxo.adapter import UtxoChain

        chain: Chain = UtxoChain.from_config(cfg)
        return chain
    if cfg.adapter == "evm":
        from payoutd.chains.evm.adapter import EvmChain

        chain = EvmChain.from_config(cfg)
        return chain
    if cfg.adapter == "tron":
        from payoutd.chains.tron.adapter import TronChain

        chain = TronChain.from_config(cfg)
        return chain
    if cfg.adapter == "solana":
        from payoutd.chains.solana.adapter import SolanaChain

        chain = SolanaChain.from_config(cfg)
        return chain
    if cfg.adapter == "ton":
        from payoutd.chains.ton.adapter import TonChain

        chain = TonChain.from_config(cfg)
        return chain
    raise chains_config.ChainsFileError(f"{cfg.network}: no adapter {cfg.adapter!r}")


def build_rates(settings: Settings, clock: Clock) -> RateSources:
    return RateSources(
        settings.rate_sources,
        default=settings.rate_source_default,
        rates_file=settings.rates_file,
        api_urls=settings.rate_api_urls,
        cache_ttl=settings.rate_cache_ttl_seconds,
        max_age=settings.rate_max_age_seconds,
        clock=clock.now,
    )


def extra_fiat(rates: RateSources) -> frozenset[str]:
    """Fiat currencies the static rates file prices beyond those payoutd knows."""
    static = rates.static
    if static is None:
        return frozenset()
    named = {code for pair in static.pairs for code in pair}
    return frozenset(code for code in named if code not in CURRENCIES)


def build_bank_rail(settings: Settings) -> BankRail:
    """The sandbox bank by default; `bank_rail = "files"` for real banks (payment files
    out, statements in)."""
    if settings.bank_rail == "files":
        return FileBank()
    return SandboxBank(settle_seconds=settings.sandbox_bank_settle_seconds)


def build(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    secrets = build_secrets(settings)
    db = build_database(settings, secrets)
    rates = build_rates(settings, clock)
    metrics = Metrics()
    ctx = Context(
        clock=clock,
        chains=build_chains(settings, db),
        settings=settings,
        rates=rates,
        secrets=secrets,
        extra_fiat=extra_fiat(rates),
        metrics=metrics,
        network_fees=NetworkFees(
            settings.network_fee_ttl_seconds, settings.network_fee_max_age_seconds
        ),
        callback_formats=CALLBACK_FORMATS,
        endpoint_formats=ENDPOINT_FORMATS,
        bank_rail=build_bank_rail(settings),
        payment_files=BankFiles(),
    )
    # a funding account or wallet the configuration got wrong stops the start, named
    parties.check_funding(ctx)
    sender = Sender(
        allow_private=settings.webhook_allow_private, timeout=settings.webhook_timeout_seconds
    )
    return Runtime(
        settings,
        db,
        ctx,
        rates,
        metrics,
        sender,
        secrets,
        RateLimits(settings.rate_limit_storage_url),
    )


def settle_heap() -> None:
    """For a long-running process, once everything is built (imports, runtime, app):
    collect, then move what survives out of the garbage collector's sight (gc.freeze).
    Otherwise every full collection walks all of it, and every request in flight waits
    for it: that pause was the intake's p99 (bench/README.md, "Where the time goes").
    Only objects made later are collected as before."""
    gc.collect()
    gc.freeze()
