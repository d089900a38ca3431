"""`payoutd secrets rotate`: every stored secret resealed under the newest master key."""

from __future__ import annotations

from payoutd.services.context import Context
from payoutd.services.ports import UnitOfWork


async def reseal_all(
    uow: UnitOfWork, ctx: Context, *, actor: str, source: str | None = None
) -> int:
    """How many secrets were resealed. In one transaction: a rotation cut short leaves
    every secret sealed as before, and the old keys still open them."""
    count = await uow.sealed.reseal(ctx.secrets.reseal)
    await uow.audit.record(
        actor=actor,
        action="secrets.rotated",
        now=ctx.clock.now(),
        source=source,
        details={"resealed": count},
    )
    return count
