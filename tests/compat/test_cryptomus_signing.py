"""Issue 19, must show: the dialect checks `sign` = md5(base64(body) + payout key) over
the body's bytes as they arrived. The same payout signed in each of four serialisations
clients use is accepted; a body changed by one byte after signing, or signed by anything
but a live payouts key of the named merchant, is refused with the provider's 401 and does
nothing. Both mounts, both databases."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.compat.client import SERIALISATIONS, sign
from tests.compat.cryptomus_helpers import (
    CALLBACK,
    MOUNT_IDS,
    MOUNTS,
    result,
    signed,
    state,
    usdt,
)
from tests.support import Harness

INVALID_SIGN = {"state": 1, "message": "Invalid Sign"}
# a parameter the dialect does not know is ignored, as the provider's API does: it carries
# the non-ASCII characters the serialisations differ on (order_id is alpha_dash only)
DESCRIPTION = "Zahlung für Müller"


def body(order_id: str) -> dict[str, object]:
    # url_callback carries the "/" some clients escape as "\/"
    return usdt(order_id, url_callback=CALLBACK, description=DESCRIPTION)


def test_the_four_serialisations_differ_where_clients_differ() -> None:
    """Otherwise the acceptance test below would prove less than it says."""
    made = {name: encode(body("x")) for name, encode in SERIALISATIONS.items()}
    assert set(made) == {"compact", "spaced", "escaped-slashes", "escaped-non-ascii"}
    assert len(set(made.values())) == 4
    assert b'", "' in made["spaced"] and b'", "' not in made["compact"]
    assert b"\\/" in made["escaped-slashes"] and b"\\/" not in made["compact"]
    assert "ü".encode() in made["escaped-slashes"]
    assert b"\\u00fc" in made["escaped-non-ascii"] and "ü".encode() not in made["escaped-non-ascii"]
    assert all(json.loads(raw) == body("x") for raw in made.values())


@pytest.mark.parametrize("mount", MOUNTS, ids=MOUNT_IDS)
async def test_each_serialisation_of_the_same_payout_is_accepted(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    made = {}
    for name in SERIALISATIONS:
        before = await state(h, m)
        r = await signed(h, m, mount, serialise=name).payout(**body(f"sig-{name}"))
        made[name] = result(r)["uuid"]
        after = await state(h, m)
        assert after.payouts == before.payouts + 1, name
        assert after.balances["USDT"][1] > before.balances["USDT"][1], name  # held
    assert len(set(made.values())) == len(SERIALISATIONS)


@pytest.mark.parametrize("mount", MOUNTS, ids=MOUNT_IDS)
async def test_a_body_changed_by_one_byte_after_signing_is_refused(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    client = signed(h, m, mount)
    raw = SERIALISATIONS["compact"](body("tampered"))
    signature = sign(raw, m.key)
    changed = raw.replace(b'"amount":"5"', b'"amount":"6"')
    assert sum(a != b for a, b in zip(raw, changed, strict=True)) == 1
    before = await state(h, m)
    r = await client.call("payout", body=changed, signature=signature)
    assert (r.status_code, r.json()) == (401, INVALID_SIGN), r.text
    assert await state(h, m) == before
    # the untouched bytes under the same signature are accepted: only the byte differed
    result(await client.call("payout", body=raw, signature=signature))
    assert (await state(h, m)).payouts == before.payouts + 1


@pytest.mark.parametrize("mount", MOUNTS, ids=MOUNT_IDS)
async def test_missing_or_foreign_credentials_are_refused(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    other = await h.merchant("Other", USDT="100")
    raw = SERIALISATIONS["compact"](body("creds"))
    good = {"merchant": m.id, "sign": sign(raw, m.key), "Content-Type": "application/json"}
    refused = {
        "no sign": {k: v for k, v in good.items() if k != "sign"},
        "empty sign": {**good, "sign": ""},
        "no merchant": {k: v for k, v in good.items() if k != "merchant"},
        "not a uuid": {**good, "merchant": "acme"},
        "unknown merchant": {**good, "merchant": str(uuid.uuid4())},
        # the other merchant's id with this merchant's key, and the other's key for this one
        "other merchant": {**good, "merchant": other.id},
        "other's key": {**good, "sign": sign(raw, other.key)},
    }
    before = await state(h, m)
    for name, headers in refused.items():
        r = await h.client.post(f"{mount}/payout", content=raw, headers=headers)
        assert (r.status_code, r.json()) == (401, INVALID_SIGN), (name, r.text)
    assert await state(h, m) == before
    r = await h.client.post(f"{mount}/payout", content=raw, headers=good)
    assert result(r)["status"] == "process"


@pytest.mark.parametrize("mount", MOUNTS, ids=MOUNT_IDS)
async def test_a_read_key_or_a_revoked_key_cannot_sign(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    r = await h.client.post("/v1/api-keys", headers=m.headers, json={"scopes": ["read"]})
    assert r.status_code == 201, r.text
    read_key = r.json()["key"]
    before = await state(h, m)
    for path in ("payout", "balance"):  # not even the reads: it is no payout key
        r = await signed(h, m, mount, key=read_key).call(path, body(f"read-{path}"))
        assert (r.status_code, r.json()) == (401, INVALID_SIGN), (path, r.text)
    # the payout key works, until it is revoked
    client = signed(h, m, mount)
    result(await client.balance())
    r = await h.client.get("/v1/api-keys", headers=m.headers)
    (key_id,) = [k["id"] for k in r.json()["data"] if m.key.startswith(f"{k['prefix']}_")]
    r = await h.client.delete(f"/v1/api-keys/{key_id}", headers=m.headers)
    assert r.status_code == 204, r.text
    for path in ("payout", "balance"):
        r = await client.call(path, body(f"revoked-{path}"))
        assert (r.status_code, r.json()) == (401, INVALID_SIGN), (path, r.text)
    assert await state(h, m) == before


@pytest.mark.parametrize("mount", MOUNTS, ids=MOUNT_IDS)
async def test_an_empty_body_is_signed_as_the_empty_string(h: Harness, mount: str) -> None:
    m = await h.merchant(USDT="100")
    client = signed(h, m, mount)
    for path in ("balance", "payout/services"):
        r = await client.call(path)  # no data: b"" signed as ""
        assert r.request.content == b"" and r.request.headers["sign"] == sign(b"", m.key)
        assert result(r), path
        # and an empty body under any other signature is refused
        r = await client.call(path, body=b"", signature=sign(b"{}", m.key))
        assert (r.status_code, r.json()) == (401, INVALID_SIGN), (path, r.text)
