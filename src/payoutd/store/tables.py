"""The schema, as SQLAlchemy Core tables. Alembic migrations create exactly this
(tests compare the two)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from payoutd.store.types import Amount, UTCDateTime

# a Fernet token of a secret of up to 100 characters (payoutd.secretbox)
SEALED = 255

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite needs INTEGER PRIMARY KEY for rowid autoincrement; BIGINT elsewhere.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

merchants = Table(
    "merchants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # the secret columns hold values sealed by payoutd.secretbox, never plaintext
    # signs deliveries to a payout's own callback_url (Standard Webhooks whsec_...)
    Column("webhook_secret", String(SEALED), nullable=True),
    # two-factor: the TOTP secret, and the last time step a code was accepted for (a
    # code is good once)
    Column("totp_secret", String(SEALED), nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
    # a new payout key blocks payouts until then (Spark, Cryptomus: "You are forbidden")
    Column("payouts_forbidden_until", UTCDateTime(), nullable=True),
    # when on, payouts go only to the merchant's saved addresses
    Column("address_allowlist", Boolean, nullable=False, server_default=false()),
)

merchant_addresses = Table(
    "merchant_addresses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("network", String(10), nullable=False),
    Column("address", String(128), nullable=False),
    Column("label", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("merchant_id", "network", "address"),
)

# Wrong TOTP codes, per merchant, for the limit on guessing: counted in the database so it
# holds across API processes and restarts. Rows older than the window go as new ones come.
totp_failures = Table(
    "totp_failures",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("failed_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id", "failed_at"),
)

# Signatures of accepted signed requests, kept until their timestamp leaves the window
# (after that the timestamp alone refuses them): a signed request is used once, by every
# API process, also after a restart.
used_signatures = Table(
    "used_signatures",
    metadata,
    Column("key_id", String(36), primary_key=True),
    Column("signature", String(64), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index(None, "expires_at"),
)

# The operator's service fee for one merchant and currency (Calypso's `calypsoFee`);
# without a row the configured default applies.
service_fees = Table(
    "service_fees",
    metadata,
    Column("merchant_id", String(36), ForeignKey("merchants.id"), primary_key=True),
    Column("currency", String(10), primary_key=True),
    Column("percent", Amount(), nullable=False),
    Column("fixed", Amount(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    # NULL for operator keys (scope `admin`), which belong to no merchant
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=True),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("scopes", String(100), nullable=False),
    Column("name", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("ip_allowlist", JSON, nullable=True),  # CIDRs; NULL: any address
    Column("rate_limit_per_minute", Integer, nullable=True),  # NULL: the default
    # optional request signing: HMAC-SHA256 over method, path, timestamp and body
    Column("signing_secret", String(SEALED), nullable=True),
    # the key's secret, sealed: provider dialects verify md5/HMAC signatures made with it
    # (key_hash finds the key). NULL for keys made before it was kept (migration 0007)
    Column("secret_sealed", String(SEALED), nullable=True),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", String(120), primary_key=True),  # e.g. merchant:<id>:USDT, chain:BTC
    Column("kind", String(20), nullable=False),
    Column("merchant_id", String(36), nullable=True),
    Column("currency", String(10), nullable=False),
    # balance = sum of this account's entries; held = sum of its pending holds
    Column("balance", Amount(), nullable=False),
    Column("held", Amount(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(30), nullable=False),  # deposit, payout, network_fee, reversal
    Column("reference", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("transaction_id", String(36), ForeignKey("ledger_transactions.id"), nullable=False),
    Column("account_id", String(120), ForeignKey("ledger_accounts.id"), nullable=False),
    Column("currency", String(10), nullable=False),
    Column("amount", Amount(), nullable=False),
    Index(None, "transaction_id"),
    Index(None, "account_id"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(120), ForeignKey("ledger_accounts.id"), nullable=False),
    Column("currency", String(10), nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("status", String(10), nullable=False),  # pending, posted, voided
    Column("payout_id", String(36), nullable=False, unique=True),
    Column("transaction_id", String(36), nullable=True),  # the posting, once posted
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # (no index on account_id: nothing looks holds up by account, and each index here is
    # a write to a page of its own for every payout accepted; migration 0006)
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("order_id", String(100), nullable=True),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(10), nullable=False),
    Column("payout_amount", Amount(), nullable=False),
    Column("payout_currency", String(10), nullable=False),
    Column("network", String(10), nullable=False),
    Column("address", String(128), nullable=False),
    Column("memo", String(64), nullable=True),
    Column("fee_mode", String(12), nullable=False),
    Column("priority", String(12), nullable=True),
    Column("fee_network", Amount(), nullable=False),
    Column("fee_service", Amount(), nullable=False),
    Column("final_amount", Amount(), nullable=False),
    Column("debit_amount", Amount(), nullable=False),
    Column("debit_currency", String(10), nullable=False),
    Column("rate_value", Amount(), nullable=True),
    Column("rate_source", String(20), nullable=True),
    Column("rate_expires_at", UTCDateTime(), nullable=True),
    Column("approval", String(8), nullable=False),
    Column("execute_at", UTCDateTime(), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("callback_url", String(2048), nullable=True),
    Column("comment", String(1000), nullable=True),
    Column("metadata", JSON, nullable=False),
    Column("txid", String(128), nullable=True),
    Column("confirmations", Integer, nullable=False),
    Column("batch_id", String(36), nullable=True),
    Column("failure_reason", String(500), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("merchant_id", "order_id"),
    # the listing: newest first per merchant, ids are time-ordered
    Index(None, "merchant_id", "id"),
    Index(None, "merchant_id", "status", "id"),
    # the executor's queue: work of one network and currency in arrival order
    Index(None, "status", "network", "payout_currency", "id"),
    Index(None, "batch_id"),
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("network", String(10), nullable=False),
    Column("currency", String(10), nullable=False),
    # prepared (signed and recorded, maybe not broadcast), broadcast, confirmed,
    # failed (definitively rejected), needs_review
    Column("status", String(16), nullable=False),
    Column("txid", String(128), nullable=True),
    Column("raw_tx", Text, nullable=True),
    Column("fee", Amount(), nullable=True),
    Column("fee_currency", String(10), nullable=True),
    # what the same payouts would have paid one transaction each, at the same fee rate
    Column("unbatched_fee", Amount(), nullable=True),
    Column("output_count", Integer, nullable=True),
    Column("output_txids", JSON, nullable=True),  # account chains: one tx per output
    Column("sequence_end", BigInteger, nullable=True),  # account chains: last nonce used
    Column("payout_count", Integer, nullable=False),
    Column("confirmations", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("broadcast_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "status"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),  # the event's stable id
    Column("merchant_id", String(36), nullable=True),
    Column("type", String(40), nullable=False),
    Column("subject_id", String(36), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # set once the event was fanned out to webhook deliveries
    Column("dispatched_at", UTCDateTime(), nullable=True),
    # the dispatcher's scan; nothing reads events by merchant (migration 0006)
    Index(None, "dispatched_at", "seq"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("merchant_id", String(36), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", String(12), nullable=False),  # in_progress, completed
    Column("response_status", Integer, nullable=True),
    Column("response_body", JSON, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime(), nullable=False),
)

sandbox_transactions = Table(
    "sandbox_transactions",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("txid", String(128), nullable=False, unique=True),
    Column("network", String(10), nullable=False),
    Column("currency", String(10), nullable=False),
    Column("fee", Amount(), nullable=False),
    Column("outputs", JSON, nullable=False),
    Column("status", String(12), nullable=False),  # mempool, mined, dropped
    Column("block_height", Integer, nullable=True),
    Column("release_height", Integer, nullable=False),  # not mined below this height (delay)
    Column("created_at", UTCDateTime(), nullable=False),
    # who paid a simulated incoming transfer (POST /v1/sandbox/deposits); NULL for the
    # sandbox hot wallet's own batches
    Column("sender", String(128), nullable=True),
    Index(None, "network", "status"),
)

sandbox_blocks = Table(
    "sandbox_blocks",
    metadata,
    Column("network", String(10), primary_key=True),
    Column("height", Integer, primary_key=True),
    Column("mined_at", UTCDateTime(), nullable=False),
)

sandbox_rules = Table(
    "sandbox_rules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("network", String(10), nullable=True),  # NULL: every network
    Column("address", String(128), nullable=False),
    Column("action", String(10), nullable=False),  # reject, drop, delay
    Column("blocks", Integer, nullable=False),  # for delay
    Column("created_at", UTCDateTime(), nullable=False),
)

# Append-only record of who did what: operator deposits, review resolutions, key and
# allowlist changes. Never updated, never deleted.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("actor", String(200), nullable=False),  # "operator:<name>", "key:<prefix>"
    Column("action", String(60), nullable=False),
    Column("merchant_id", String(36), nullable=True),
    Column("subject_id", String(64), nullable=True),
    Column("details", JSON, nullable=False),
    Column("source", String(100), nullable=True),  # IP address, "cli@host"
    Column("created_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id", "seq"),
    Index(None, "subject_id"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("event_types", JSON, nullable=False),  # e.g. ["payout.paid"]; ["*"]: all
    Column("description", String(500), nullable=True),
    Column("secret", String(SEALED), nullable=False),
    # during a rotation the previous secret signs too, until it expires
    Column("previous_secret", String(SEALED), nullable=True),
    Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
    Column("status", String(10), nullable=False),  # enabled, disabled, deleted
    Column("disabled_reason", String(500), nullable=True),
    Column("failing_since", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # a provider dialect's webhook format (e.g. "calypso"); NULL: Standard Webhooks
    Column("format", String(16), nullable=True),
    Index(None, "merchant_id", "status"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("merchant_id", String(36), nullable=False),
    Column("endpoint_id", String(36), nullable=True),  # NULL: a payout's callback_url
    Column("payout_id", String(36), nullable=True),  # the payout, for its callback_url
    Column("url", String(2048), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("event_type", String(40), nullable=False),
    # pending (waiting for its next attempt), delivered, failed (retries exhausted),
    # cancelled (its endpoint was disabled or deleted)
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("last_latency_ms", Integer, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    UniqueConstraint("event_id", "endpoint_id", "url"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "endpoint_id", "event_seq"),
    Index(None, "payout_id"),
)

# A payout a provider dialect created: which dialect, the API key that created it (its
# secret signs the provider's webhooks), and what the provider shows that payoutd's own
# payout does not keep (Bitclear's priceCurrency and priceAmount).
payout_dialects = Table(
    "payout_dialects",
    metadata,
    Column("payout_id", String(36), ForeignKey("payouts.id"), primary_key=True),
    Column("dialect", String(16), nullable=False),
    Column("key_id", String(36), nullable=True),
    Column("details", JSON, nullable=False),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("delivery_id", String(36), ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    Index(None, "delivery_id"),
)

# Transfers into the operator's funding wallets seen on chain (payoutd.services.funding),
# each once: the key is what names a transfer on its chain, so a rescan or a second
# worker finds the row already there and hands nothing on twice.
chain_deposits = Table(
    "chain_deposits",
    metadata,
    Column("network", String(10), primary_key=True),
    Column("txid", String(128), primary_key=True),
    Column("output_index", Integer, primary_key=True),  # EVM log index, sandbox output
    Column("currency", String(10), nullable=False),
    Column("address", String(128), nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("confirmations", Integer, nullable=False),  # when it was recorded
    Column("sender", String(128), nullable=True),
    Column("seen_at", UTCDateTime(), nullable=False),
)

# Per network, the first block the deposit watch has not scanned yet.
chain_cursors = Table(
    "chain_cursors",
    metadata,
    Column("network", String(10), primary_key=True),
    Column("next_block", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# The parties of ramp payouts (Sphere): a merchant's customers, their bank accounts and
# wallets. Ids are Sphere's (`customer_` + 32 hex...), time-ordered, so lists page by id.
# The operator's funding accounts and wallets are configuration, not rows.
customers = Table(
    "customers",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("type", String(16), nullable=False),
    Column("kyc_status", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=True),
    Column("meta", JSON, nullable=False),
    Column("lookup_key", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id", "lookup_key"),
)

bank_accounts = Table(
    "bank_accounts",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("customer_id", String(48), ForeignKey("customers.id"), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("holder_name", String(200), nullable=False),
    Column("bank_name", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    # personal data: the account number and the IBAN are sealed (payoutd.secretbox), and
    # only their last four digits are kept in the clear, for display
    Column("routing_number", String(9), nullable=True),
    Column("account_number", String(SEALED), nullable=True),
    Column("account_type", String(16), nullable=False),
    Column("iban", String(SEALED), nullable=True),
    Column("bic", String(11), nullable=True),
    Column("last4", String(4), nullable=False),
    Column("bank_address", String(300), nullable=True),
    Column("meta", JSON, nullable=False),
    Column("lookup_key", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id", "lookup_key"),
)

wallets = Table(
    "wallets",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("customer_id", String(48), ForeignKey("customers.id"), nullable=False),
    Column("network", String(16), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("address", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("meta", JSON, nullable=False),
    Column("lookup_key", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "merchant_id", "lookup_key"),
)

# Mass payouts (issue 22): an uploaded file of payouts, processed in the background one
# chunk of rows per transaction. `rows` keeps the rows as read (domain.imports.Row);
# `next_row` is how many of them have a result, so a worker that dies mid-file is
# followed by one that resumes there (the lease says whose turn it is).
payout_imports = Table(
    "payout_imports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("status", String(12), nullable=False),  # queued, running, done, failed
    Column("dry_run", Boolean, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("rows", JSON, nullable=False),
    Column("total", Integer, nullable=False),
    Column("next_row", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("existing", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("lease_owner", String(36), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("error", String(500), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Index(None, "merchant_id", "id"),
    # the worker's queue: imports not finished
    Index(None, "status", "created_at"),
)

# One row's result: the payout it created or found, or why it was refused.
payout_import_rows = Table(
    "payout_import_rows",
    metadata,
    Column("import_id", String(36), ForeignKey("payout_imports.id"), primary_key=True),
    Column("row_number", Integer, primary_key=True),
    Column("status", String(10), nullable=False),  # accepted, existing, refused
    Column("order_id", String(100), nullable=True),
    Column("payout_id", String(36), nullable=True),
    Column("error_code", String(40), nullable=True),
    Column("error_message", String(1000), nullable=True),
    Column("error_field", String(64), nullable=True),
)

# Ramp payouts (Sphere): money between a customer's bank account and wallet. The parties
# are named by id; what moving the money needs is kept by value (domain.payout.RampPayout).
ramp_payouts = Table(
    "ramp_payouts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("merchant_id", String(36), ForeignKey("merchants.id"), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("number", Integer, nullable=False),
    Column("type", String(8), nullable=False),
    Column("status", String(12), nullable=False),
    Column("version", Integer, nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("source_currency", String(8), nullable=False),
    Column("source_network", String(10), nullable=False),
    Column("funding_id", String(64), nullable=False),
    Column("destination_id", String(64), nullable=False),
    Column("destination_currency", String(8), nullable=False),
    Column("destination_network", String(10), nullable=False),
    Column("memo", String(20), nullable=False, unique=True),
    Column("human", Text, nullable=False),
    Column("wallet_address", String(128), nullable=False),
    Column("bank", JSON, nullable=False),
    Column("final_amount", Amount(), nullable=True),
    Column("fee", Amount(), nullable=True),
    Column("rate", Amount(), nullable=True),
    Column("third_party", Boolean, nullable=False),
    Column("third_party_message", String(500), nullable=True),
    Column("wire_message", String(110), nullable=True),
    Column("meta", JSON, nullable=False),
    Column("lookup_key", String(100), nullable=True),
    Column("payout_id", String(36), nullable=True, unique=True),
    Column("funded_by", String(200), nullable=True),
    Column("failure_reason", String(500), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # `number` counts each customer's payouts: two creations racing for the same number
    # cannot both insert it
    UniqueConstraint("customer_id", "number"),
    Index(None, "merchant_id", "id"),
    Index(None, "merchant_id", "lookup_key", "id"),
    Index(None, "status", "type", "id"),
)


# Lines of the operator's bank statements (camt.053, MT940) and of the sandbox bank, as
# they were received: (account, reference) once, so importing a statement twice adds
# nothing and moves no money twice.
bank_lines = Table(
    "bank_lines",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account", String(64), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("booked_on", String(10), nullable=False),  # ISO date
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("direction", String(6), nullable=False),
    Column("memo", String(1000), nullable=False),
    Column("end_to_end_id", String(64), nullable=True),
    Column("returned", Boolean, nullable=False),
    Column("return_reason", String(100), nullable=True),
    Column("counterparty", String(200), nullable=True),
    # funded, settled, returned, review, ignored
    Column("outcome", String(10), nullable=False),
    Column("ramp_id", String(36), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account", "reference"),
)


# Transfers into the funding wallets (off-ramp funding), once per (network, txid, index).
ramp_deposits = Table(
    "ramp_deposits",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("network", String(10), nullable=False),
    Column("txid", String(128), nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("currency", String(10), nullable=False),
    Column("address", String(128), nullable=False),
    Column("sender", String(128), nullable=True),
    Column("amount", Amount(), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("outcome", String(10), nullable=False),  # funded, review, ignored
    Column("ramp_id", String(36), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("network", "txid", "log_index"),
)


# Money that arrived and matched no ramp payout exactly: an operator assigns it to a
# payout or dismisses it. Nothing moves until then.
bank_review = Table(
    "bank_review",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(12), nullable=False),  # bank_line or deposit
    Column("subject_id", String(36), nullable=False, unique=True),
    Column("reason", String(200), nullable=False),
    Column("status", String(10), nullable=False),  # open, assigned, dismissed
    Column("ramp_id", String(36), nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("note", String(500), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Index(None, "status", "id"),
)


# Payments out of the operator's funding accounts (off-ramps' bank legs). `id` travels as
# the end-to-end id, so the statement's debit or return finds its payment.
bank_payments = Table(
    "bank_payments",
    metadata,
    Column("id", String(35), primary_key=True),
    Column("ramp_id", String(36), nullable=False, unique=True),
    Column("merchant_id", String(36), nullable=False),
    Column("amount", Amount(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("creditor", JSON, nullable=False),
    Column("remittance", String(140), nullable=False),
    # pending (not exported), exported, settled, returned
    Column("status", String(10), nullable=False),
    Column("export_id", String(36), nullable=True),
    # the sandbox bank settles it on its own after this
    Column("settle_after", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "status", "currency", "id"),
)


# Payment files written for the bank (pain.001, NACHA), kept so the same file can be
# fetched again.
bank_exports = Table(
    "bank_exports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("format", String(10), nullable=False),
    Column("payments", Integer, nullable=False),
    Column("total", Amount(), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
