"""A key's secret stays retrievable (sealed) for provider dialects, which check md5 and
HMAC signatures made with it; what is stored is neither it nor any other secret."""

from __future__ import annotations

from sqlalchemy import select

from payoutd.services import merchants
from payoutd.services.sealing import reseal_all
from payoutd.store.sealed import SEALED_COLUMNS
from tests.support import Harness


async def test_a_new_key_keeps_its_secret_sealed_and_retrievable(h: Harness) -> None:
    m = await h.merchant()
    r = await h.client.post(
        "/v1/api-keys", headers=m.headers, json={"scopes": ["read"], "signed_requests": True}
    )
    assert r.status_code == 201, r.text
    made = r.json()
    prefix, secret = merchants.key_prefix(made["key"])
    async with h.rt.db.read() as uow:
        key = await uow.merchants.key_by_prefix(prefix)
    assert key is not None and key.secret_sealed is not None
    assert merchants.key_secret(h.rt.ctx, key) == secret
    assert secret not in key.secret_sealed
    assert key.signing_secret is not None and made["signing_secret"] not in key.signing_secret
    assert h.rt.ctx.secrets.open(key.signing_secret) == made["signing_secret"]


async def test_rotation_reseals_every_stored_secret_under_the_new_key(h: Harness) -> None:
    m = await h.merchant()
    enrolled = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    assert enrolled.status_code == 201, enrolled.text
    assert (await h.client.post("/v1/webhook-secret", headers=m.headers)).status_code == 200
    box = h.rt.secrets
    old = box.keys[0]
    box.add_key()
    async with h.rt.db.unit() as uow:
        count = await reseal_all(uow, h.rt.ctx, actor="tests")
    box.retire_old_keys()
    assert count == 4  # the operator's and the merchant's key, TOTP, the callback secret
    only_new = type(box)(box.keys[:1])
    assert box.keys[0] != old
    async with h.rt.db.read() as uow:
        for table, names in SEALED_COLUMNS.items():
            for row in await uow.conn.execute(select(*(table.c[n] for n in names))):
                for value in row:
                    if value is not None:
                        only_new.open(value)  # raises unless sealed under the new key
