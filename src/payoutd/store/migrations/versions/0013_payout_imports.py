"""payout_imports, payout_import_rows: mass payouts from CSV or JSON (issue 22)

An import keeps its rows as read and how far it got; each row's result (the payout it
created or found, or the refusal) is written in the transaction that placed it.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from payoutd.store.types import UTCDateTime

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_imports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("next_row", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("existing", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=36), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_payout_imports_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_imports")),
    )
    op.create_index(
        op.f("ix_payout_imports_merchant_id_id"), "payout_imports", ["merchant_id", "id"]
    )
    op.create_index(
        op.f("ix_payout_imports_status_created_at"), "payout_imports", ["status", "created_at"]
    )
    op.create_table(
        "payout_import_rows",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("order_id", sa.String(length=100), nullable=True),
        sa.Column("payout_id", sa.String(length=36), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.String(length=1000), nullable=True),
        sa.Column("error_field", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["payout_imports.id"],
            name=op.f("fk_payout_import_rows_import_id_payout_imports"),
        ),
        sa.PrimaryKeyConstraint("import_id", "row_number", name=op.f("pk_payout_import_rows")),
    )


def downgrade() -> None:
    op.drop_table("payout_import_rows")
    op.drop_index(op.f("ix_payout_imports_status_created_at"), table_name="payout_imports")
    op.drop_index(op.f("ix_payout_imports_merchant_id_id"), table_name="payout_imports")
    op.drop_table("payout_imports")
