"""Ramp payouts on real bank files, on SQLite and PostgreSQL (issue 21's must-show):
on-ramps funded by importing a camt.053 and an MT940 statement and paid in USDC on the
sandbox chain; off-ramps funded by a chain deposit, paid out in a pain.001 file (checked
against the ISO 20022 schema sepaxml ships), then succeeded when a statement's debit
confirms the payment, or refunded when the statement brings it back. The ledger check is
clean after each step. The statements are written here from the formats (camt.053 checked
against its own XSD)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import xmlschema
from lxml import etree

from payoutd.rails.pain001 import xsd_path
from tests import support
from tests.services import ramp_support as rs
from tests.support import Harness, Merchant

pytestmark = pytest.mark.slow

CAMT_XSD = Path(__file__).resolve().parents[1] / "rails" / "data" / "xsd" / "camt.053.001.02.xsd"
CAMT_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
EUR_FUNDING = "DE89370400440532013000"  # the sandbox's EUR funding account
USD_FUNDING = "9900000001"


@pytest.fixture
async def hf(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """Real banks: payments wait for a payment file, statements confirm them."""
    settings = support.test_settings(
        tmp_path, database_url, bank_rail="files", ach_company_id="1234567890"
    )
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


def camt053(entries: list[str], *, iban: str = EUR_FUNDING, ccy: str = "EUR") -> bytes:
    """A bank-to-customer statement (camt.053.001.02) of the funding account."""
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{CAMT_NS}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>STMT-20261208-1</MsgId><CreDtTm>2026-12-08T18:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-20261208-1</Id>
      <ElctrncSeqNb>1</ElctrncSeqNb>
      <CreDtTm>2026-12-08T18:00:00</CreDtTm>
      <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{ccy}</Ccy></Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="{ccy}">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-08</Dt></Dt>
      </Bal>
      {"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""
    data = document.encode()
    xmlschema.XMLSchema(str(CAMT_XSD)).validate(data.decode())
    return data


def camt_entry(
    ref: str,
    amount: str,
    direction: str,
    *,
    memo: str = "",
    end_to_end: str = "NOTPROVIDED",
    returned: str | None = None,
    ccy: str = "EUR",
) -> str:
    family = "RCDT" if direction == "CRDT" else "ICDT"
    return_info = f"<RtrInf><Rsn><Cd>{returned}</Cd></Rsn></RtrInf>" if returned is not None else ""
    return f"""
      <Ntry>
        <Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-12-08</Dt></BookgDt><ValDt><Dt>2026-12-08</Dt></ValDt>
        <AcctSvcrRef>{ref}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>
        </Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>{escape(end_to_end)}</EndToEndId></Refs>
          <RmtInf><Ustrd>{escape(memo)}</Ustrd></RmtInf>
          {return_info}
        </TxDtls></NtryDtls>
      </Ntry>"""


def mt940(lines: list[tuple[str, str, str]], *, account: str = USD_FUNDING) -> bytes:
    """A SWIFT MT940 customer statement of the funding account: (bank reference, amount
    with a decimal comma and C or D, the :86: text) per booked line."""
    body = [":20:MT940-20261208", f":25:{account}", ":28C:1/1", ":60F:C261207USD0,00"]
    for reference, amount, text in lines:
        body.append(f":61:2612081208{amount}NTRFNONREF//{reference}")
        body.append(f":86:{text}")
    body.append(":62F:C261208USD0,00")
    return ("{4:\n" + "\n".join(body) + "\n-}").encode()


async def import_file(h: Harness, data: bytes) -> dict[str, int]:
    r = await h.client.post(
        "/v1/admin/bank/statements",
        content=data,
        headers={**h.admin, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    counts: dict[str, int] = r.json()
    return counts


async def on_ramp_to_succeeded(h: Harness, merchant: Merchant, ramp_id: str) -> None:
    await h.settle()
    done = await rs.status_of(h, merchant, ramp_id)
    assert done["status"] == "succeeded", done
    payout = (
        await h.client.get(f"/v1/payouts/{done['payout_id']}", headers=merchant.headers)
    ).json()
    assert (payout["status"], payout["payout_currency"], payout["address"]) == (
        "paid",
        "USDC",
        rs.SOL_WALLET,
    )
    assert payout["txid"]
    r = await h.client.get("/v1/sandbox/transactions?network=SOL", headers=h.admin)
    assert payout["txid"] in [t["txid"] for t in r.json()["data"]]
    assert (await h.ledger_check())["ok"]


async def test_on_ramp_funded_by_a_camt053_statement(hf: Harness) -> None:
    h = hf
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "250.00", "eur"))
    memo = ramp["instructions"]["memo"]
    statement = camt053(
        [
            # the payer's bank gave its own end-to-end id: the memo still decides
            camt_entry(
                "E-1",
                "250.00",
                "CRDT",
                memo=f"Ada Lovelace {memo.lower()}",
                end_to_end="INV-2024-118",
            ),
            # no memo of ours: the review queue
            camt_entry("E-2", "40.00", "CRDT", memo="PAYOUTD UNKNOWN99"),
        ]
    )
    counts = await import_file(h, statement)
    assert counts == {
        "lines": 2,
        "funded": 1,
        "settled": 0,
        "returned": 0,
        "review": 1,
        "duplicate": 0,
    }
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "funded"
    assert (await h.balances(merchant))["EUR"]["balance"] == "250.00"
    assert (await h.ledger_check())["ok"]
    # the same statement again changes nothing
    again = await import_file(h, statement)
    assert (again["duplicate"], again["funded"], again["review"]) == (2, 0, 0)
    assert (await h.balances(merchant))["EUR"]["balance"] == "250.00"
    review = (await h.client.get("/v1/admin/bank/review", headers=h.admin)).json()["data"]
    assert [(i["amount"], i["reference"]) for i in review] == [("40.00", "E-2")]
    await on_ramp_to_succeeded(h, merchant, ramp["id"])


async def test_on_ramp_funded_by_an_mt940_statement(hf: Harness) -> None:
    h = hf
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "75.50", "usd"))
    other = await rs.create(h, merchant, rs.on_ramp_body(c, "10.00", "usd"))
    memo, other_memo = ramp["instructions"]["memo"], other["instructions"]["memo"]
    statement = mt940(
        [
            ("B1", "C75,50", f"WIRE IN ADA LOVELACE {memo}"),
            # the other payout's memo with another amount: review, it stays pending
            ("B2", "C9,99", f"WIRE IN {other_memo}"),
        ]
    )
    counts = await import_file(h, statement)
    assert (counts["funded"], counts["review"]) == (1, 1)
    assert (await rs.status_of(h, merchant, other["id"]))["status"] == "pending"
    assert (await import_file(h, statement))["duplicate"] == 2
    assert (await h.balances(merchant))["USD"]["balance"] == "75.50"
    await on_ramp_to_succeeded(h, merchant, ramp["id"])
    assert (await rs.status_of(h, merchant, other["id"]))["status"] == "pending"


async def off_ramp_in_a_pain001(
    h: Harness, merchant: Merchant, amount: str
) -> tuple[dict[str, object], str, str]:
    """An EUR off-ramp funded by a deposit on the sandbox chain and exported: (the ramp,
    its end-to-end id, the amount paid)."""
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.off_ramp_body(c, amount, "eur"))
    await rs.deposit_on_chain(h, amount)
    seen = await rs.status_of(h, merchant, str(ramp["id"]))
    assert seen["status"] == "processing"
    assert (await h.ledger_check())["ok"]
    r = await h.client.post("/v1/admin/bank/exports", json={"currency": "eur"}, headers=h.admin)
    assert r.status_code == 200, r.text
    assert r.headers["X-Export-Format"] == "pain.001"
    assert r.headers["X-Export-Payments"] == "1"
    xmlschema.XMLSchema(xsd_path()).validate(r.text)
    tree = etree.fromstring(r.content)
    ns = {"p": str(tree.nsmap[None])}

    def one(path: str) -> str:
        found = tree.findall(path, namespaces=ns)
        assert len(found) == 1, path
        return str(found[0].text)

    end_to_end = one(".//p:CdtTrfTxInf/p:PmtId/p:EndToEndId")
    paid = one(".//p:CdtTrfTxInf/p:Amt/p:InstdAmt")
    iban = one(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN")
    assert iban == rs.IBAN
    assert paid == seen["final_amount"]
    # exported once: the next export finds nothing
    r = await h.client.post("/v1/admin/bank/exports", json={"currency": "eur"}, headers=h.admin)
    assert r.status_code == 204
    return ramp, end_to_end, paid


async def test_off_ramp_paid_in_a_pain001_and_confirmed_by_a_statement(hf: Harness) -> None:
    h = hf
    merchant = await h.merchant()
    ramp, end_to_end, paid = await off_ramp_in_a_pain001(h, merchant, "54")
    # 54 USDC at 1 USD, 1 EUR = 1.08 USD: exactly 50.00 EUR, no service fee in these tests
    assert paid == "50.00"
    usdc = (await h.balances(merchant))["USDC"]
    assert (usdc["balance"], usdc["held"]) == ("54.000000", "54.000000")
    counts = await import_file(
        h, camt053([camt_entry("D-1", paid, "DBIT", memo="payout", end_to_end=end_to_end)])
    )
    assert counts["settled"] == 1
    assert (await rs.status_of(h, merchant, str(ramp["id"])))["status"] == "succeeded"
    usdc = (await h.balances(merchant))["USDC"]
    assert (usdc["balance"], usdc["held"]) == ("0.000000", "0.000000")
    assert (await h.ledger_check())["ok"]
    # the bank returns it after all, on a later statement: an operator looks at it,
    # nothing moves by itself
    late = await import_file(
        h,
        camt053(
            [camt_entry("R-9", paid, "CRDT", memo="RETURN", end_to_end=end_to_end, returned="AC04")]
        ),
    )
    assert (late["returned"], late["review"]) == (0, 1)
    assert (await rs.status_of(h, merchant, str(ramp["id"])))["status"] == "succeeded"
    assert (await h.balances(merchant))["USDC"]["balance"] == "0.000000"
    assert (await h.ledger_check())["ok"]


async def test_off_ramp_refunded_when_the_statement_returns_it(hf: Harness) -> None:
    h = hf
    merchant = await h.merchant()
    ramp, end_to_end, paid = await off_ramp_in_a_pain001(h, merchant, "21.6")
    assert paid == "20.00"
    counts = await import_file(
        h,
        camt053(
            [camt_entry("R-1", paid, "CRDT", memo="RETURN", end_to_end=end_to_end, returned="AC04")]
        ),
    )
    assert counts["returned"] == 1
    seen = await rs.status_of(h, merchant, str(ramp["id"]))
    assert (seen["status"], seen["failure_reason"]) == ("refunded", "AC04")
    # the hold is voided: the stablecoin is the merchant's to settle with its customer
    usdc = (await h.balances(merchant))["USDC"]
    assert (usdc["available"], usdc["held"]) == ("21.600000", "0.000000")
    assert (await h.ledger_check())["ok"]


async def test_usd_off_ramps_leave_in_one_nacha_file(hf: Harness) -> None:
    """Two USD off-ramps exported in one NACHA file, read back by an independent parser
    (carta-ach): each entry the payment's amount, the customer's routing and account
    numbers, and the id the bank's statement echoes, which settles its payout."""
    from ach.parser import Parser

    h = hf
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    made = []
    for amount in ("12.34", "56.78"):
        ramp = await rs.create(h, merchant, rs.off_ramp_body(c, amount, "usd"))
        await rs.deposit_on_chain(h, amount)
        made.append(ramp)
    r = await h.client.post("/v1/admin/bank/exports", json={"currency": "usd"}, headers=h.admin)
    assert r.status_code == 200, r.text
    assert (r.headers["X-Export-Format"], r.headers["X-Export-Total"]) == ("nacha", "69.12")
    parsed = Parser(r.text).as_dict()
    entries = [e["entry_detail"] for b in parsed["batches"] for e in b["entries"]]
    assert sorted(int(e["amount"]) for e in entries) == [1234, 5678]
    for e in entries:
        assert e["recv_dfi_id"] + e["check_digit"] == rs.ROUTING
        assert e["dfi_acnt_num"].strip() == "1000682035"
    ids = [e["ind_id"].strip() for e in entries]
    assert len(set(ids)) == 2 and all(len(i) == 15 for i in ids)
    [first_id] = [e["ind_id"].strip() for e in entries if int(e["amount"]) == 1234]
    # the debit of the first on an MT940 statement (our id echoed back) settles it
    settled = await import_file(h, mt940([("D1", "D12,34", f"/EREF/{first_id}/REMI/USTD//x/")]))
    assert settled["settled"] == 1
    statuses = [(await rs.status_of(h, merchant, p["id"]))["status"] for p in made]
    assert statuses == ["succeeded", "processing"]
    assert (await h.ledger_check())["ok"]


async def test_an_underpaid_transfer_with_the_payers_end_to_end_id_can_be_assigned(
    hf: Harness,
) -> None:
    """The payer's bank's own EndToEndId names no payment of ours: the line is a
    customer's incoming transfer, which the operator may assign to the payout."""
    h = hf
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "100.00", "eur"))
    memo = ramp["instructions"]["memo"]
    statement = camt053([camt_entry("E-U1", "99.50", "CRDT", memo=memo, end_to_end="INV-2024-119")])
    assert (await import_file(h, statement))["review"] == 1
    [item] = (await h.client.get("/v1/admin/bank/review", headers=h.admin)).json()["data"]
    r = await h.client.post(
        f"/v1/admin/bank/review/{item['id']}/resolve",
        json={"action": "assign", "ramp_id": ramp["id"], "operator": "alice"},
        headers=h.admin,
    )
    assert r.status_code == 200, r.text
    seen = await rs.status_of(h, merchant, ramp["id"])
    assert (seen["status"], seen["amount"]) == ("funded", "99.50")
    assert (await h.balances(merchant))["EUR"]["balance"] == "99.50"
    assert (await h.ledger_check())["ok"]


async def test_a_return_with_a_long_reason_text_is_imported(hf: Harness) -> None:
    """A bank's free-text return reason (no code in it) longer than the column is kept
    shortened, not a 5xx: the line goes to the review queue and nothing moves."""
    h = hf
    reason = "ACCOUNT CLOSED BY THE BENEFICIARY " * 5
    statement = mt940([("B9", "C12,00", f"/RTRN/{reason}/EREF/XYZ")])
    counts = await import_file(h, statement)
    assert (counts["returned"], counts["review"]) == (0, 1)
    assert (await h.ledger_check())["ok"]


@pytest.mark.postgres
async def test_the_same_statement_imported_twice_at_once_funds_once(pg: Harness) -> None:
    import asyncio

    h = pg
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramps = [await rs.create(h, merchant, rs.on_ramp_body(c, "30.00", "eur")) for _ in range(3)]
    statement = camt053(
        [
            camt_entry(f"E-C{n}", "30.00", "CRDT", memo=r["instructions"]["memo"])
            for n, r in enumerate(ramps)
        ]
        + [camt_entry("E-CX", "5.00", "CRDT", memo="nothing of ours")]
    )
    answers = await asyncio.gather(
        *(
            h.client.post(
                "/v1/admin/bank/statements",
                content=statement,
                headers={**h.admin, "Content-Type": "application/octet-stream"},
            )
            for _ in range(3)
        )
    )
    assert [r.status_code for r in answers] == [200, 200, 200], [r.text for r in answers]
    counts = [r.json() for r in answers]
    assert sorted(c["funded"] for c in counts) == [0, 0, 3]
    assert sum(c["review"] for c in counts) == 1
    assert (await h.balances(merchant))["EUR"]["balance"] == "90.00"
    review = (await h.client.get("/v1/admin/bank/review", headers=h.admin)).json()["data"]
    assert len(review) == 1
    assert (await h.ledger_check())["ok"]


async def test_a_line_with_a_long_end_to_end_reference_is_imported(hf: Harness) -> None:
    """A payer's end-to-end reference longer than any of ours (free text in `:86:`) is
    no 5xx: the line names no payment of ours and waits for review."""
    h = hf
    statement = mt940([("B10", "C12,00", f"/EREF/{'X' * 80}/REMI/USTD//nothing of ours/")])
    counts = await import_file(h, statement)
    assert (counts["review"], counts["settled"]) == (1, 0)
    assert (await h.ledger_check())["ok"]


@pytest.mark.parametrize(
    ("valid", "broken"),
    [
        (EUR_FUNDING.encode(), b"9" * 70),  # an account id longer than Max34Text
        (b"<AcctSvcrRef>E-L1<", b"<AcctSvcrRef>" + b"R" * 250 + b"<"),  # Max35Text
        (b'Ccy="EUR">12.00', b'Ccy="EURO">12.00'),  # no ISO 4217 code
        (b'Ccy="EUR">12.00', b'Ccy="EUR">1E+30'),  # past 18 digits
    ],
    ids=["account", "reference", "currency", "amount"],
)
async def test_a_camt053_past_the_schemas_limits_is_refused_whole(
    hf: Harness, valid: bytes, broken: bytes
) -> None:
    """A camt.053 whose account id, reference, currency or amount breaks the schema's
    limits is refused whole with a 4xx (statement_unreadable), nothing imported: on
    PostgreSQL it was a 5xx when the value did not fit its column."""
    h = hf
    statement = camt053([camt_entry("E-L1", "12.00", "CRDT", memo="nothing of ours")])
    assert valid in statement
    r = await h.client.post(
        "/v1/admin/bank/statements",
        content=statement.replace(valid, broken),
        headers={**h.admin, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "statement_unreadable"
    review = (await h.client.get("/v1/admin/bank/review", headers=h.admin)).json()["data"]
    assert review == []


async def test_a_line_with_more_decimals_than_its_currency_funds_nothing(hf: Harness) -> None:
    """camt.053 allows five decimals; euros have two. Such a line waits in the review
    queue, and assigning it to a payout is refused: a euro balance never holds
    fractions of a cent."""
    h = hf
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "12.34", "eur"))
    memo = ramp["instructions"]["memo"]
    assert (await import_file(h, camt053([camt_entry("E-D1", "12.345", "CRDT", memo=memo)])))[
        "review"
    ] == 1
    [item] = (await h.client.get("/v1/admin/bank/review", headers=h.admin)).json()["data"]
    r = await h.client.post(
        f"/v1/admin/bank/review/{item['id']}/resolve",
        json={"action": "assign", "ramp_id": ramp["id"], "operator": "alice"},
        headers=h.admin,
    )
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], list(r.json()["error"]["fields"])) == (
        "invalid_amount",
        ["ramp_id"],
    )
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "pending"
    assert "EUR" not in await h.balances(merchant)
    assert (await h.ledger_check())["ok"]
