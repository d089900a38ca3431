"""ramp payouts and bank rails: ramp_payouts, bank_lines, ramp_deposits, bank_review,
bank_payments, bank_exports

Sphere's payouts between a customer's bank account and wallet (issue 21): the payouts,
the statement lines and chain deposits that fund or settle them (each stored once), the
review queue for money that matched nothing, and the payments (and payment files) out of
the operator's funding accounts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutd.store.types import Amount, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ramp_payouts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("source_currency", sa.String(length=8), nullable=False),
        sa.Column("source_network", sa.String(length=10), nullable=False),
        sa.Column("funding_id", sa.String(length=64), nullable=False),
        sa.Column("destination_id", sa.String(length=64), nullable=False),
        sa.Column("destination_currency", sa.String(length=8), nullable=False),
        sa.Column("destination_network", sa.String(length=10), nullable=False),
        sa.Column("memo", sa.String(length=20), nullable=False),
        sa.Column("human", sa.Text(), nullable=False),
        sa.Column("wallet_address", sa.String(length=128), nullable=False),
        sa.Column("bank", sa.JSON(), nullable=False),
        sa.Column("final_amount", Amount(), nullable=True),
        sa.Column("fee", Amount(), nullable=True),
        sa.Column("rate", Amount(), nullable=True),
        sa.Column("third_party", sa.Boolean(), nullable=False),
        sa.Column("third_party_message", sa.String(length=500), nullable=True),
        sa.Column("wire_message", sa.String(length=110), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("lookup_key", sa.String(length=100), nullable=True),
        sa.Column("payout_id", sa.String(length=36), nullable=True),
        sa.Column("funded_by", sa.String(length=200), nullable=True),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_ramp_payouts_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ramp_payouts")),
        sa.UniqueConstraint(
            "customer_id", "number", name=op.f("uq_ramp_payouts_customer_id_number")
        ),
        sa.UniqueConstraint("memo", name=op.f("uq_ramp_payouts_memo")),
        sa.UniqueConstraint("payout_id", name=op.f("uq_ramp_payouts_payout_id")),
    )
    op.create_index(op.f("ix_ramp_payouts_merchant_id_id"), "ramp_payouts", ["merchant_id", "id"])
    op.create_index(
        op.f("ix_ramp_payouts_merchant_id_lookup_key_id"),
        "ramp_payouts",
        ["merchant_id", "lookup_key", "id"],
    )
    op.create_index(
        op.f("ix_ramp_payouts_status_type_id"), "ramp_payouts", ["status", "type", "id"]
    )
    op.create_table(
        "bank_lines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("booked_on", sa.String(length=10), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("memo", sa.String(length=1000), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=64), nullable=True),
        sa.Column("returned", sa.Boolean(), nullable=False),
        sa.Column("return_reason", sa.String(length=100), nullable=True),
        sa.Column("counterparty", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("ramp_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_lines")),
        sa.UniqueConstraint("account", "reference", name=op.f("uq_bank_lines_account_reference")),
    )
    op.create_table(
        "ramp_deposits",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("network", sa.String(length=10), nullable=False),
        sa.Column("txid", sa.String(length=128), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=True),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("ramp_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ramp_deposits")),
        sa.UniqueConstraint(
            "network", "txid", "log_index", name=op.f("uq_ramp_deposits_network_txid_log_index")
        ),
    )
    op.create_table(
        "bank_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ramp_id", sa.String(length=36), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_review")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_bank_review_subject_id")),
    )
    op.create_index(op.f("ix_bank_review_status_id"), "bank_review", ["status", "id"])
    op.create_table(
        "bank_payments",
        sa.Column("id", sa.String(length=35), nullable=False),
        sa.Column("ramp_id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("creditor", sa.JSON(), nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("export_id", sa.String(length=36), nullable=True),
        sa.Column("settle_after", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_payments")),
        sa.UniqueConstraint("ramp_id", name=op.f("uq_bank_payments_ramp_id")),
    )
    op.create_index(
        op.f("ix_bank_payments_status_currency_id"), "bank_payments", ["status", "currency", "id"]
    )
    op.create_table(
        "bank_exports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("total", Amount(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_exports")),
    )


def downgrade() -> None:
    op.drop_table("bank_exports")
    op.drop_index(op.f("ix_bank_payments_status_currency_id"), table_name="bank_payments")
    op.drop_table("bank_payments")
    op.drop_index(op.f("ix_bank_review_status_id"), table_name="bank_review")
    op.drop_table("bank_review")
    op.drop_table("ramp_deposits")
    op.drop_table("bank_lines")
    op.drop_index(op.f("ix_ramp_payouts_status_type_id"), table_name="ramp_payouts")
    op.drop_index(op.f("ix_ramp_payouts_merchant_id_lookup_key_id"), table_name="ramp_payouts")
    op.drop_index(op.f("ix_ramp_payouts_merchant_id_id"), table_name="ramp_payouts")
    op.drop_table("ramp_payouts")
