"""Configuration: environment variables with the PAYOUTD_ prefix, optionally a TOML
file named by PAYOUTD_CONFIG_FILE (environment wins)."""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class FundingBankAccount(BaseModel):
    """One of the operator's own bank accounts that on-ramp customers pay into (and
    off-ramp payments leave from). `id` defaults to one derived from the account, so it
    stays the same across restarts; `networks` to every network of its currency."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    currency: str  # usd or eur
    holder_name: str
    bank_name: str = ""
    bank_address: str | None = None
    routing_number: str | None = None  # usd
    account_number: str | None = None  # usd
    account_type: str = "checking"
    iban: str | None = None  # eur
    bic: str | None = None  # eur
    networks: list[str] | None = None  # e.g. ["wire"]; default: all of the currency's
    sandbox: bool = False  # served by the sandbox bank only, never a real one


class FundingWallet(BaseModel):
    """One of the operator's own wallets that off-ramp customers send stablecoins to."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    network: str  # sol, ethereum or base
    currency: str  # usdc or usdt
    address: str
    # a sandbox wallet is used only while its network runs on the sandbox chain: with a
    # real node configured and no wallet of the operator's, off-ramps on it are refused
    sandbox: bool = False


# the sandbox's funding accounts (the sandbox bank's accounts; the IBAN is the ISO 13616
# documentation example) and wallets (addresses nobody holds a key of: hashes of their
# names, valid for their networks)
_SANDBOX_EVM = {
    "ethereum": "0xE12b6324f8F2F29a864465A6eD47674707abC1CB",
    "base": "0x92De91770cD8999fB9a1FB8C8337aeC379712352",
}
SANDBOX_BANK_ACCOUNTS: tuple[FundingBankAccount, ...] = (
    FundingBankAccount(
        currency="usd",
        holder_name="payoutd sandbox",
        bank_name="payoutd sandbox bank",
        routing_number="101206101",
        account_number="9900000001",
        sandbox=True,
    ),
    FundingBankAccount(
        currency="eur",
        holder_name="payoutd sandbox",
        bank_name="payoutd sandbox bank",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        sandbox=True,
    ),
)
SANDBOX_WALLETS: tuple[FundingWallet, ...] = tuple(
    FundingWallet(network=network, currency=currency, address=address, sandbox=True)
    for network, address in (
        ("sol", "FLWE9QbB2YCpWZezriKdwLPsW6bgktbeUVcPkm44tzaj"),
        *_SANDBOX_EVM.items(),
    )
    for currency in ("usdc", "usdt")
)


class Funding(BaseModel):
    """`[[funding.bank_accounts]]` and `[[funding.wallets]]` of the TOML file (or
    PAYOUTD_FUNDING as JSON). Each list left out keeps the sandbox's."""

    model_config = ConfigDict(extra="forbid")

    bank_accounts: list[FundingBankAccount] = Field(
        default_factory=lambda: list(SANDBOX_BANK_ACCOUNTS)
    )
    wallets: list[FundingWallet] = Field(default_factory=lambda: list(SANDBOX_WALLETS))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYOUTD_", extra="ignore")

    data_dir: Path = Path(".payoutd")
    database_url: str | None = None  # e.g. postgresql+asyncpg://user@host/db
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    log_json: bool = False

    # payouts
    quote_ttl_seconds: int = 3600
    batch_window_seconds: float = 60.0
    batch_max_outputs: int = 500
    # the most one batch may pay in network fees, per network, in its native coin; a batch
    # over it is split (e.g. PAYOUTD_BATCH_MAX_FEE='{"BTC": "0.001"}')
    batch_max_fee: dict[str, Decimal] = {}
    service_fee_percent: Decimal = Decimal(0)
    service_fee_fixed: Decimal = Decimal(0)
    min_payout_eur: Decimal = Decimal(20)  # Bitclear's minPayoutAmount: worth 20 EUR

    # rates
    rates_file: Path | None = None  # None: the shipped sample (fixed, illustrative values)
    rate_sources: list[str] = ["static", "Binance", "Kucoin"]
    rate_source_default: str = "static"
    rate_cache_ttl_seconds: float = 30.0
    rate_max_age_seconds: float = 300.0
    rate_api_urls: dict[str, str] = {}

    # how long a quote's network fee estimate is kept before the chain is asked again
    # (meanwhile quotes use it); one older than the max age is never used
    network_fee_ttl_seconds: float = Field(default=10.0, ge=0)
    network_fee_max_age_seconds: float = Field(default=300.0, ge=0)

    # the worker
    worker_interval_seconds: float = 1.0
    idempotency_lock_seconds: int = 60

    # access
    payout_key_cooldown_hours: float = 24.0
    api_rate_limit_per_minute: int = 6000  # per key, unless the key sets its own
    request_signature_window_seconds: int = 300
    # where per-key request counts live: memory:// holds for one API process only; with
    # several, shared storage such as redis://127.0.0.1:6379 (the `limits` library's URLs)
    rate_limit_storage_url: str = "memory://"
    # wrong TOTP codes a merchant may send within the window before every code is refused
    totp_max_failures: int = Field(default=5, ge=1)
    totp_failure_window_seconds: int = Field(default=900, ge=1)
    # proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs
    # or networks, "*" for any); empty: none, the client is the connection's peer
    forwarded_allow_ips: str = ""
    # how long an API process keeps a key's row (key, merchant policy, fees) before it
    # reads it again; changes made through this process's API apply at once (0: no cache)
    auth_cache_seconds: float = Field(default=1.0, ge=0)
    # the master keys that seal stored secrets (payoutd.secretbox): Fernet keys,
    # comma-separated, newest first; unset: the key file `secret.key` in data_dir
    secret_key: SecretStr | None = None

    # when set, GET /metrics needs `Authorization: Bearer <token>` (the port may be reachable
    # by more than the Prometheus server)
    metrics_token: SecretStr | None = None

    # a request body over this is answered 413 payload_too_large, unread
    request_body_max_bytes: int = Field(default=64 * 1024, ge=1024)
    # the body of POST /v1/payout-imports: a file of up to 10,000 payouts
    import_body_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    # webhooks
    webhook_allow_private: bool = False  # true only for development and tests
    webhook_timeout_seconds: float = 15.0
    webhook_disable_after_hours: float = 72.0  # an endpoint failing this long is disabled
    webhook_rotation_overlap_seconds: int = 86400
    webhook_concurrency: int = 16

    # networks that leave the sandbox: see payoutd.chains.config
    chains_file: Path | None = None

    # the operator's funding bank accounts and wallets of ramp payouts (Sphere)
    funding: Funding = Field(default_factory=Funding)

    # the sandbox chain
    sandbox_block_seconds: float = 2.0
    sandbox_batch_window_seconds: float = 2.0
    sandbox_confirmations: int = 2
    # how long the sandbox takes to answer a broadcast, as a node's RPC call does (half
    # before the transaction is in its mempool, half after)
    sandbox_broadcast_seconds: float = Field(default=0.0, ge=0)
    # how long the sandbox takes to estimate a fee (a quote's, and a batch's when it is
    # prepared), as a node's estimatesmartfee does
    sandbox_fee_estimate_seconds: float = Field(default=0.0, ge=0)

    # bank rails of ramp payouts: "sandbox" (the embedded sandbox bank takes payments and
    # settles them after sandbox_bank_settle_seconds) or "files" (payments wait for
    # `payoutd bank export`; statements confirm them)
    bank_rail: Literal["sandbox", "files"] = "sandbox"
    sandbox_bank_settle_seconds: float = Field(default=5.0, ge=0)
    # NACHA's Company Identification of the operator (often "1" + the EIN): USD payment
    # files need it
    ach_company_id: str = ""

    db_pool_size: int = Field(default=20, ge=1)
    # API processes of `serve --role api` (each with its own pool of db_pool_size); more
    # than one needs PostgreSQL, where they scale the intake over the machine's cores
    api_processes: int = Field(default=1, ge=1)

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'payoutd.db').resolve()}"


def load_settings(**overrides: Any) -> Settings:
    file_values: dict[str, Any] = {}
    path = os.environ.get("PAYOUTD_CONFIG_FILE")
    if path:
        with open(path, "rb") as fh:
            file_values = tomllib.load(fh)
    env_keys = {k.removeprefix("PAYOUTD_").lower() for k in os.environ if k.startswith("PAYOUTD_")}
    merged = {k: v for k, v in file_values.items() if k not in env_keys}
    merged.update(overrides)
    return Settings(**merged)
