"""access: wrong TOTP codes and used request signatures, in the database

Both limits must hold across API processes and restarts: the count of a merchant's
recent wrong TOTP codes (the lockout) and the signatures of signed requests already
accepted (the replay guard) were kept in each process's memory, or not at all.

Revision ID: 0008
Revises: 0007w
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import payoutd.store.types

revision = "0008"
down_revision = "0007w"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "totp_failures",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("failed_at", payoutd.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_totp_failures_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_totp_failures")),
    )
    with op.batch_alter_table("totp_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_totp_failures_merchant_id_failed_at"),
            ["merchant_id", "failed_at"],
            unique=False,
        )
    op.create_table(
        "used_signatures",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("expires_at", payoutd.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "signature", name=op.f("pk_used_signatures")),
    )
    with op.batch_alter_table("used_signatures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_used_signatures_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("used_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_signatures_expires_at"))
    op.drop_table("used_signatures")
    with op.batch_alter_table("totp_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_totp_failures_merchant_id_failed_at"))
    op.drop_table("totp_failures")
