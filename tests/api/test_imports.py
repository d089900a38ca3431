"""Mass payouts (issue 22) through the API on SQLite and PostgreSQL: a file of payouts
with five bad rows is uploaded, the worker's job places it, every good row becomes a
payout through the one entry point, the bad ones are reported with their reason and row
number and move no money, and importing the same file again creates nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from payoutd.domain.imports import derived_order_id
from payoutd.services import imports as import_service
from payoutd.store.tables import holds, payouts
from payoutd.worker.imports import import_pass
from tests.support import Harness, Merchant

LTC_ADDR = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"
HEADER = "amount,currency,address,order_id,comment,metadata.team"


def payouts_file(rows: int) -> tuple[bytes, dict[int, tuple[str, str]]]:
    """`rows` LTC payouts, five of them bad (one of each kind), and what each bad row
    must be refused with: {row number: (code, field)}. The CSV header is row 1."""
    at = {rows // 5 * k + 2: k for k in range(5)}  # spread over the file
    bad: dict[int, tuple[str, str]] = {}
    lines = [HEADER]
    for number in range(2, rows + 2):
        amount, currency, address, order_id = "0.001", "LTC", LTC_ADDR, ""
        kind = at.get(number)
        if kind == 0:
            address = "LTnotAnAddress"
            bad[number] = ("invalid_address", "address")
        elif kind == 1:
            currency = "XYZ"
            bad[number] = ("currency_not_found", "currency")
        elif kind == 2:
            amount = "0.0001"  # LTC's minimum is 0.001
            bad[number] = ("amount_too_small", "amount")
        elif kind == 3:
            # the row before names the same order_id: it is placed, this one refused
            lines[-1] = lines[-1].replace(",,row", ",dup-1,row", 1)
            order_id = "dup-1"
            bad[number] = ("validation_error", "order_id")
        elif kind == 4:
            amount = '"1,5"'  # a decimal comma, quoted as a spreadsheet writes it
            bad[number] = ("invalid_amount", "amount")
        lines.append(f'{amount},{currency},{address},{order_id},row {number},"t{number % 3}"')
    return ("\n".join(lines) + "\n").encode(), bad


async def upload(h: Harness, m: Merchant, body: bytes, **params: Any) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/payout-imports",
        content=body,
        params=params,
        headers={**m.headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    created: dict[str, Any] = r.json()
    assert created["status"] == "queued" and created["processed"] == 0
    return created


async def all_rows(h: Harness, m: Merchant, import_id: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await h.client.get(
            f"/v1/payout-imports/{import_id}/rows",
            headers=m.headers,
            params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})},
        )
        assert r.status_code == 200, r.text
        found += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return found


async def counts(h: Harness, merchant_id: str) -> tuple[int, int, Decimal]:
    """(payouts, holds, sum of the debits of the merchant's payouts) as stored."""
    async with h.rt.db.engine.connect() as conn:
        n = (
            await conn.execute(
                select(func.count())
                .select_from(payouts)
                .where(payouts.c.merchant_id == merchant_id)
            )
        ).scalar_one()
        held = (await conn.execute(select(func.count()).select_from(holds))).scalar_one()
        debits = [
            Decimal(str(d))
            for (d,) in await conn.execute(
                select(payouts.c.debit_amount).where(payouts.c.merchant_id == merchant_id)
            )
        ]
    return n, held, sum(debits, Decimal(0))


@pytest.mark.slow
async def test_a_file_with_five_bad_rows(h: Harness, db_kind: str) -> None:
    size = 5000 if db_kind == "sqlite" else 1000
    body, bad = payouts_file(size)
    m = await h.merchant("Payroll", LTC="100")
    imp = await upload(h, m, body)

    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    r = await h.client.get(f"/v1/payout-imports/{imp['id']}", headers=m.headers)
    done = r.json()
    assert (done["status"], done["total"], done["processed"]) == ("done", size, size)
    assert (done["accepted"], done["existing"], done["refused"]) == (size - 5, 0, 5)
    assert done["finished_at"] is not None

    refused = await all_rows(h, m, imp["id"], status="refused")
    assert {r["row"]: (r["error"]["code"], r["error"]["field"]) for r in refused} == bad
    assert all(r["payout_id"] is None and r["error"]["message"] for r in refused)
    rows = await all_rows(h, m, imp["id"])
    assert [r["row"] for r in rows] == list(range(2, size + 2))
    accepted = [r for r in rows if r["status"] == "accepted"]
    assert len(accepted) == size - 5 and len({r["payout_id"] for r in accepted}) == size - 5
    # a row without order_id got one derived from the file and its row number
    assert rows[0]["order_id"] == derived_order_id(imp_digest(body), 2)

    # Money moved for the accepted rows only: one hold per payout, the balance held is
    # exactly their debits, and the ledger balances.
    n, held, debits = await counts(h, m.id)
    assert (n, held) == (size - 5, size - 5)
    balance = (await h.balances(m))["LTC"]
    assert Decimal(balance["held"]) == debits
    assert Decimal(balance["available"]) + debits == Decimal("100")
    assert (await h.ledger_check())["ok"]

    # The payouts are the API's own: listed, with the row's fields.
    r = await h.client.get("/v1/payouts", headers=m.headers, params={"order_id": "dup-1"})
    [dup] = r.json()["data"]
    assert dup["status"] == "queued" and dup["address"] == LTC_ADDR
    assert dup["metadata"]["team"] in {"t0", "t1", "t2"}

    # The same file again creates nothing: every good row answers its payout.
    again = await upload(h, m, body)
    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    r = await h.client.get(f"/v1/payout-imports/{again['id']}", headers=m.headers)
    second = r.json()
    assert (second["accepted"], second["existing"], second["refused"]) == (0, size - 5, 5)
    second_rows = await all_rows(h, m, again["id"])
    assert {r["row"]: r["payout_id"] for r in second_rows if r["status"] == "existing"} == {
        r["row"]: r["payout_id"] for r in accepted
    }
    assert await counts(h, m.id) == (n, held, debits)
    assert (await h.balances(m))["LTC"] == balance
    assert (await h.ledger_check())["ok"]

    r = await h.client.get("/v1/payout-imports", headers=m.headers, params={"limit": 1})
    page = r.json()
    assert [i["id"] for i in page["data"]] == [again["id"]] and page["next_cursor"]


def imp_digest(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


async def test_json_rows_dry_run_and_progress(h: Harness) -> None:
    m = await h.merchant("Acme", LTC="0.0025")
    rows = [
        {"amount": "0.001", "currency": "LTC", "address": LTC_ADDR, "order_id": "a"},
        {"amount": "0.001", "currency": "LTC", "address": LTC_ADDR, "metadata": {"k": "v"}},
        # the balance covers two
        {"amount": "0.001", "currency": "LTC", "address": LTC_ADDR, "order_id": "c"},
        {"amount": "1,5", "currency": "LTC", "address": LTC_ADDR},
    ]
    r = await h.client.post(
        "/v1/payout-imports", json={"rows": rows}, params={"dry_run": "true"}, headers=m.headers
    )
    assert r.status_code == 202, r.text
    dry = r.json()
    assert dry["dry_run"] is True
    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    results = await all_rows(h, m, dry["id"])
    assert [(x["row"], x["status"]) for x in results] == [
        (1, "accepted"),
        (2, "accepted"),
        (3, "refused"),
        (4, "refused"),
    ]
    assert results[2]["error"]["code"] == "insufficient_funds"
    assert results[3]["error"]["code"] == "invalid_amount"
    assert results[3]["error"]["field"] == "amount"
    assert all(x["payout_id"] is None for x in results)
    assert (await counts(h, m.id))[0] == 0  # a dry run creates nothing
    assert (await h.balances(m))["LTC"]["held"] == "0.00000000"

    r = await h.client.post("/v1/payout-imports", json={"rows": rows}, headers=m.headers)
    real = r.json()
    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    r = await h.client.get(f"/v1/payout-imports/{real['id']}", headers=m.headers)
    assert (r.json()["accepted"], r.json()["refused"]) == (2, 2)
    assert (await counts(h, m.id))[0] == 2
    assert (await h.ledger_check())["ok"]


async def test_unknown_columns_and_too_many_rows_are_refused_up_front(h: Harness) -> None:
    m = await h.merchant("Acme", LTC="1")
    csv_headers = {**m.headers, "Content-Type": "text/csv"}
    r = await h.client.post(
        "/v1/payout-imports",
        content=f"amount,currency,address,colour,size\n0.001,LTC,{LTC_ADDR},red,9\n",
        headers=csv_headers,
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert "colour" in err["message"] and "size" in err["message"]
    assert set(err["fields"]) == {"colour", "size"}

    r = await h.client.post(
        "/v1/payout-imports", json={"rows": [{"amount": "1", "colour": "red"}]}, headers=m.headers
    )
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"colour"}
    # JSON rows hold strings, as the API's amounts are: a number refuses the upload
    r = await h.client.post(
        "/v1/payout-imports",
        json={"rows": [{"amount": 1, "currency": "LTC", "address": LTC_ADDR}]},
        headers=m.headers,
    )
    assert r.status_code == 422, r.text
    assert "rows.0.amount" in r.json()["error"]["message"]

    many = "amount,currency,address\n" + f"0.001,LTC,{LTC_ADDR}\n" * 10_001
    r = await h.client.post("/v1/payout-imports", content=many, headers=csv_headers)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    r = await h.client.post("/v1/payout-imports", content="amount\n", headers=m.headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    async with h.rt.db.read() as uow:
        assert await uow.imports.page(m.id, before_id=None, limit=10) == []


async def test_scopes_and_tenants(h: Harness) -> None:
    m = await h.merchant("Acme", LTC="1")
    other = await h.merchant("Other")
    imp = await upload(h, m, f"amount,currency,address\n0.001,LTC,{LTC_ADDR}\n".encode())
    r = await h.client.get(f"/v1/payout-imports/{imp['id']}", headers=other.headers)
    assert r.status_code == 404
    r = await h.client.get(f"/v1/payout-imports/{imp['id']}/rows", headers=other.headers)
    assert r.status_code == 404
    r = await h.client.get("/v1/payout-imports", headers=other.headers)
    assert r.json()["data"] == []
    r = await h.client.post(
        "/v1/api-keys", headers=m.headers, json={"scopes": ["read"], "name": "ro"}
    )
    assert r.status_code == 201, r.text
    read_only = {"Authorization": f"Bearer {r.json()['key']}"}
    r = await h.client.post(
        "/v1/payout-imports",
        content=f"amount,currency,address\n0.001,LTC,{LTC_ADDR}\n",
        headers={**read_only, "Content-Type": "text/csv"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_scope"
    r = await h.client.get(f"/v1/payout-imports/{imp['id']}", headers=read_only)
    assert r.status_code == 200


async def test_a_worker_that_dies_mid_file_is_resumed(h: Harness) -> None:
    """A chunk commits with its results and the import's progress, or not at all: a
    worker killed between chunks leaves the import `running` under a lease; once the
    lease runs out the next pass resumes at the first row without a result."""
    m = await h.merchant("Acme", LTC="10")
    body = ("amount,currency,address\n" + f"0.001,LTC,{LTC_ADDR}\n" * 25).encode()
    imp = await upload(h, m, body)
    owner = "worker-that-dies"
    async with h.rt.db.unit() as uow:
        claimed = await import_service.claim(uow, h.rt.ctx, owner)
    assert claimed is not None and claimed.id == imp["id"]
    async with h.rt.db.read() as uow:
        rows = await uow.imports.rows(claimed.id)
        terms = await import_service.terms(uow, m.id)
    chunk = rows[:10]
    priced = await import_service.price(h.rt.ctx, terms, chunk)
    async with h.rt.db.unit() as uow:
        await import_service.place(uow, h.rt.ctx, claimed, owner, chunk, priced, terms)
    # ... and the process dies here. Its lease holds the import for a while:
    assert await import_pass(h.rt.db, h.rt.ctx) == 0
    h.clock.advance(import_service.LEASE.total_seconds() + 1)
    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    r = await h.client.get(f"/v1/payout-imports/{imp['id']}", headers=m.headers)
    assert (r.json()["status"], r.json()["accepted"], r.json()["processed"]) == ("done", 25, 25)
    assert (await counts(h, m.id))[:2] == (25, 25)
    assert [x["row"] for x in await all_rows(h, m, imp["id"])] == list(range(2, 27))
    # the dead worker's late chunk finds the lease gone: nothing of it commits
    with pytest.raises(import_service.LeaseLost):
        async with h.rt.db.unit() as uow:
            await import_service.place(uow, h.rt.ctx, claimed, owner, chunk, priced, terms)
    assert (await counts(h, m.id))[:2] == (25, 25)


async def test_a_row_is_the_same_payout_as_post_v1_payouts(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import's row goes through the one entry point (`services.payouts.quote` and
    `place_many`) and leaves exactly what the same body sent to `POST /v1/payouts` leaves:
    the payout, its hold, its event, its ledger entries."""
    from payoutd.services import payouts as payout_service
    from tests.outcomes import rows_of, same_shape

    calls: list[int] = []
    real = payout_service.place_many

    async def spy(uow: Any, ctx: Any, items: Any, **kw: Any) -> Any:
        calls.append(len(items))
        return await real(uow, ctx, items, **kw)

    body = {
        "amount": "0.5",
        "currency": "LTC",
        "address": LTC_ADDR,
        "order_id": "same-1",
        "comment": "same input",
        "metadata": {"k": "v"},
    }
    by_api = await h.merchant("By API", LTC="2")
    r = await h.client.post("/v1/payouts", json=body, headers=by_api.headers)
    assert r.status_code == 201, r.text

    monkeypatch.setattr(payout_service, "place_many", spy)
    by_import = await h.merchant("By import", LTC="2")
    r = await h.client.post("/v1/payout-imports", json={"rows": [body]}, headers=by_import.headers)
    assert r.status_code == 202, r.text
    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    assert calls == [1]
    [row] = await all_rows(h, by_import, r.json()["id"])
    got = await h.client.get(f"/v1/payouts/{row['payout_id']}", headers=by_import.headers)
    listed = await h.client.get(
        "/v1/payouts", params={"order_id": "same-1"}, headers=by_api.headers
    )
    assert same_shape(got.json()) == same_shape(listed.json()["data"][0])
    assert await rows_of(h, by_import) == await rows_of(h, by_api)


@pytest.mark.parametrize("dry_run", [True, False])
async def test_the_merchants_access_rules_hold_for_every_row(h: Harness, dry_run: bool) -> None:
    """A cooldown refuses an import's rows as it refuses POST /v1/payouts, in a dry run
    too: the worker places them on the merchant's behalf with its current policy."""
    from datetime import timedelta

    m = await h.merchant("Acme", LTC="1")
    async with h.rt.db.unit() as uow:
        await uow.merchants.forbid_payouts_until(m.id, h.clock.now() + timedelta(hours=1))
    body = f"amount,currency,address\n0.001,LTC,{LTC_ADDR}\n0.001,LTC,{LTC_ADDR}\n".encode()
    imp = await upload(h, m, body, **({"dry_run": "true"} if dry_run else {}))
    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    rows = await all_rows(h, m, imp["id"])
    assert [(r["status"], r["error"]["code"]) for r in rows] == [
        ("refused", "payouts_forbidden"),
        ("refused", "payouts_forbidden"),
    ]
    assert (await counts(h, m.id))[0] == 0


async def test_an_error_that_is_no_rows_fails_the_import(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a refusal of a row: something broke (here, pricing itself). The import is
    `failed` with the error, what was placed stays placed, and the same file again
    places only the rest."""
    m = await h.merchant("Acme", LTC="1")
    body = ("amount,currency,address\n" + f"0.001,LTC,{LTC_ADDR}\n" * 300).encode()
    imp = await upload(h, m, body)
    real = import_service.price
    calls = 0

    async def flaky(ctx: Any, terms: Any, rows: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the rates went away")
        return await real(ctx, terms, rows)

    monkeypatch.setattr(import_service, "price", flaky)
    with pytest.raises(RuntimeError):
        await import_pass(h.rt.db, h.rt.ctx)
    r = await h.client.get(f"/v1/payout-imports/{imp['id']}", headers=m.headers)
    failed = r.json()
    assert failed["status"] == "failed" and "the rates went away" in failed["error"]
    assert failed["processed"] == failed["accepted"] == import_service.CHUNK_ROWS
    assert await import_pass(h.rt.db, h.rt.ctx) == 0  # a failed import is left alone

    monkeypatch.setattr(import_service, "price", real)
    again = await upload(h, m, body)
    assert await import_pass(h.rt.db, h.rt.ctx) == 1
    r = await h.client.get(f"/v1/payout-imports/{again['id']}", headers=m.headers)
    assert (r.json()["existing"], r.json()["accepted"]) == (256, 300 - 256)
    assert (await counts(h, m.id))[0] == 300


async def test_a_file_has_a_body_limit_of_its_own(h: Harness) -> None:
    """A mass payout's file is larger than any other request's body: its route takes up
    to `import_body_max_bytes`; every other route keeps `request_body_max_bytes`."""
    m = await h.merchant("Acme", LTC="10")
    limit = h.rt.settings.request_body_max_bytes
    body = "amount,currency,address,comment\n" + f"0.001,LTC,{LTC_ADDR},{'x' * 900}\n" * 100
    assert limit < len(body) < h.rt.settings.import_body_max_bytes
    headers = {**m.headers, "Content-Type": "text/csv"}
    r = await h.client.post("/v1/payout-imports", content=body, headers=headers)
    assert r.status_code == 202, r.text
    r = await h.client.post("/v1/payouts", content=body, headers=headers)
    assert r.status_code == 413


async def test_an_upload_retried_with_its_idempotency_key_is_one_import(h: Harness) -> None:
    m = await h.merchant("Acme", LTC="1")
    body = f"amount,currency,address\n0.001,LTC,{LTC_ADDR}\n"
    headers = {**m.headers, "Content-Type": "text/csv", "Idempotency-Key": "upload-1"}
    first = await h.client.post("/v1/payout-imports", content=body, headers=headers)
    again = await h.client.post("/v1/payout-imports", content=body, headers=headers)
    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await h.client.post("/v1/payout-imports", content=body + body[-40:], headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    r = await h.client.get("/v1/payout-imports", headers=m.headers)
    assert [i["id"] for i in r.json()["data"]] == [first.json()["id"]]
