"""customers, bank_accounts, wallets: the parties of ramp payouts (Sphere)

A merchant's customers, their bank accounts (account numbers and IBANs sealed by
payoutd.secretbox, as every other secret at rest) and their stablecoin wallets. New
tables only: nothing stored before changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutd.store.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("kyc_status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("lookup_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_customers_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(
        op.f("ix_customers_merchant_id_lookup_key"),
        "customers",
        ["merchant_id", "lookup_key"],
    )
    op.create_table(
        "bank_accounts",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=48), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("routing_number", sa.String(length=9), nullable=True),
        sa.Column("account_number", sa.String(length=255), nullable=True),
        sa.Column("account_type", sa.String(length=16), nullable=False),
        sa.Column("iban", sa.String(length=255), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("bank_address", sa.String(length=300), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("lookup_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_bank_accounts_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_bank_accounts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_accounts")),
    )
    op.create_index(
        op.f("ix_bank_accounts_merchant_id_lookup_key"),
        "bank_accounts",
        ["merchant_id", "lookup_key"],
    )
    op.create_table(
        "wallets",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=48), nullable=False),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("lookup_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_wallets_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_wallets_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
    )
    op.create_index(
        op.f("ix_wallets_merchant_id_lookup_key"), "wallets", ["merchant_id", "lookup_key"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_wallets_merchant_id_lookup_key"), table_name="wallets")
    op.drop_table("wallets")
    op.drop_index(op.f("ix_bank_accounts_merchant_id_lookup_key"), table_name="bank_accounts")
    op.drop_table("bank_accounts")
    op.drop_index(op.f("ix_customers_merchant_id_lookup_key"), table_name="customers")
    op.drop_table("customers")
