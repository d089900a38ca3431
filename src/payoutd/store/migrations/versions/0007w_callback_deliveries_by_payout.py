"""webhook deliveries to a payout's callback_url name the payout

The merchant reads a payout's callback deliveries (GET /v1/payouts/{id}/deliveries):
they are found by the payout, without scanning the outbox (which has no index on its
subject, for the intake's sake: migration 0006). Existing callback deliveries get the
subject of their event.

Revision ID: 0007w
Revises: 0007
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007w"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_payout_id"), ["payout_id"], unique=False
        )
    op.execute(
        "UPDATE webhook_deliveries SET payout_id = (SELECT outbox.subject_id FROM outbox "
        "WHERE outbox.id = webhook_deliveries.event_id) WHERE endpoint_id IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_payout_id"))
        batch_op.drop_column("payout_id")
