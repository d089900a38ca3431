"""payout_callbacks: the provider dialect a payout's callback_url is spoken to in

A payout created through a provider's wire format (Cryptomus, Spark) gets its status
webhooks in that provider's format, signed with the API key that created it.

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
        "payout_callbacks",
        sa.Column("payout_id", sa.String(length=36), nullable=False),
        sa.Column("dialect", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_callbacks_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("payout_id", name=op.f("pk_payout_callbacks")),
    )


def downgrade() -> None:
    op.drop_table("payout_callbacks")
