"""payout_dialects: the provider dialect that created a payout

A payout created through a provider's wire format (Cryptomus, Spark, Bitclear) gets its
status webhooks in that provider's format, signed with the API key that created it, and
keeps what the provider shows that the payout itself does not (Bitclear's price).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_dialects",
        sa.Column("payout_id", sa.String(length=36), nullable=False),
        sa.Column("dialect", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_dialects_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("payout_id", name=op.f("pk_payout_dialects")),
    )


def downgrade() -> None:
    op.drop_table("payout_dialects")
