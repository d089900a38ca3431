"""chain_deposits and chain_cursors: off-ramp funding seen on chain

Transfers into the operator's funding wallets are recorded once per (network, txid,
output_index), and each network's deposit watch keeps the first block it has not scanned
yet. The sandbox chain's simulated incoming transfers name their sender.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import payoutd.store.types

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_deposits",
        sa.Column("network", sa.String(length=10), nullable=False),
        sa.Column("txid", sa.String(length=128), nullable=False),
        sa.Column("output_index", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("amount", payoutd.store.types.Amount(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=True),
        sa.Column("seen_at", payoutd.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("network", "txid", "output_index", name=op.f("pk_chain_deposits")),
    )
    op.create_table(
        "chain_cursors",
        sa.Column("network", sa.String(length=10), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", payoutd.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("network", name=op.f("pk_chain_cursors")),
    )
    with op.batch_alter_table("sandbox_transactions") as batch:
        batch.add_column(sa.Column("sender", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_transactions") as batch:
        batch.drop_column("sender")
    op.drop_table("chain_cursors")
    op.drop_table("chain_deposits")
