"""drop two indexes no query reads: holds (account_id, status), outbox (merchant_id, seq)

Every accepted payout writes a hold and a `payout.created` event, and each index on
them is one more B-tree page written for it, at a place of its own (one per account,
one per merchant): on SQLite about a tenth of the intake's work per payout
(bench/README.md, "Where the time goes"). No statement looks holds up by account or
events by merchant; the ledger check reads the pending holds by status, which the first
index did not serve either.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holds_account_id_status"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_merchant_id_seq"))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_merchant_id_seq"), ["merchant_id", "seq"], unique=False
        )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_holds_account_id_status"), ["account_id", "status"], unique=False
        )
