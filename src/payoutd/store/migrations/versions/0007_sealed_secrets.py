"""secrets sealed at rest: wider secret columns, api_keys.secret_sealed, and every
plaintext secret already stored sealed under the master key (payoutd.secretbox)

`payoutd migrate` hands this migration the secret box it built from the settings, so
existing TOTP seeds and webhook and request-signing secrets are sealed here, and opened
again by the downgrade. A database that holds secrets cannot be migrated without it.
Keys made before this revision get no sealed copy of their own secret: only its hash
was ever stored, so there is nothing to seal (provider dialects cannot check signatures
made with such a key; the merchant makes a new one).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from payoutd.secretbox import is_sealed

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> (column, its width before this revision, nullable)
SECRETS = {
    "merchants": (("webhook_secret", 100, True), ("totp_secret", 64, True)),
    "api_keys": (("signing_secret", 100, True),),
    "webhook_endpoints": (("secret", 100, False), ("previous_secret", 100, True)),
}
SEALED = 255


def _widths(width: Callable[[int], int]) -> None:
    for table, columns in SECRETS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, before, nullable in columns:
                batch_op.alter_column(
                    name,
                    existing_type=sa.String(length=before),
                    type_=sa.String(length=width(before)),
                    existing_nullable=nullable,
                )


def _convert(change: Callable[[Any], Callable[[str], str]], wanted: Callable[[str], bool]) -> None:
    """`change(box)` applied to every stored secret for which `wanted` holds."""
    config = op.get_context().config
    box = config.attributes.get("secret_box") if config is not None else None
    conn = op.get_bind()
    for name, columns in SECRETS.items():
        table = sa.table(name, sa.column("id"), *(sa.column(c) for c, _, _ in columns))
        for row in conn.execute(sa.select(table)).all():
            values = {
                c: v for c, v in row._mapping.items() if c != "id" and v is not None and wanted(v)
            }
            if not values:
                continue
            if box is None:
                raise RuntimeError("stored secrets need the master key: run `payoutd migrate`")
            conn.execute(
                sa.update(table)
                .where(table.c.id == row.id)
                .values({c: change(box)(v) for c, v in values.items()})
            )


def upgrade() -> None:
    _widths(lambda before: SEALED)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_sealed", sa.String(length=SEALED), nullable=True))
    _convert(lambda box: box.seal, lambda v: not is_sealed(v))


def downgrade() -> None:
    _convert(lambda box: box.open, is_sealed)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("secret_sealed")
    _widths(lambda before: before)
