"""webhook_endpoints.format: the provider dialect whose webhooks an endpoint receives

An endpoint subscribed through a provider dialect (Calypso's webhook subscriptions) gets
its deliveries in that provider's body and signature; NULL is payoutd's own (Standard
Webhooks), as every endpoint made before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("format", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("format")
