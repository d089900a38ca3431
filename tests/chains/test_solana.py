"""The Solana adapter end to end against a real local network (Surfpool's Surfnet,
tests/chains/surfpool.py): SOL and USDC payouts through the API and the worker (USDC
at its real mint address, moved by the real token program), several recipients in one
transaction, token accounts created for recipients without one, the hot wallet's
balance guard, forged and refused sends, blockhash expiry, and a worker SIGKILLed
between recording a batch and sending it."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from sqlalchemy import update

from payoutd.chains import config as chains_config
from payoutd.chains.solana.adapter import (
    PACKET_DATA_SIZE,
    Recorded,
    SolanaChain,
    associated_token_account,
)
from payoutd.domain.assets import ASSETS
from payoutd.domain.batches import Batch
from payoutd.domain.batching import Output
from payoutd.services import execution
from payoutd.services.ports import ChainUnavailable, OutputRejected, PreparedTx, Rejected
from payoutd.store.tables import batches
from payoutd.worker import jobs
from tests import support
from tests.chains.surfpool import KEY_ENV, MINTS, Surfnet, secret_text
from tests.chains.surfpool import surfpool as surfpool  # the session fixture
from tests.support import Harness, Merchant

SOL = ASSETS[("SOL", "SOL")]
USDC = ASSETS[("USDC", "SOL")]
ROOT = Path(__file__).resolve().parents[2]


def recipient() -> str:
    return str(Keypair().pubkey())


@pytest.fixture
def wallet(surfpool: Surfnet, monkeypatch: pytest.MonkeyPatch) -> Keypair:
    """A fresh hot wallet for each test (100 SOL, a million USDC and USDT), its key in
    the environment as the chains file names it."""
    keypair = surfpool.hot_wallet()
    monkeypatch.setenv(KEY_ENV, secret_text(keypair))
    return keypair


def chain_of(surfpool: Surfnet, tmp_path: Path) -> SolanaChain:
    return SolanaChain.from_config(chains_config.load(surfpool.chains_file(tmp_path))["SOL"])


@asynccontextmanager
async def sol_harness(
    surfpool: Surfnet, tmp_path: Path, database_url: str | None, *, fresh: bool = True
) -> AsyncIterator[Harness]:
    settings = support.test_settings(
        tmp_path, database_url, chains_file=surfpool.chains_file(tmp_path)
    )
    async with support.harness(settings, truncate=fresh and database_url is not None) as h:
        yield h


@pytest.fixture
async def h(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path, database_url: str | None
) -> AsyncIterator[Harness]:
    async with sol_harness(surfpool, tmp_path, database_url) as harness:
        yield harness


async def pay(
    h: Harness, m: Merchant, amount: str, currency: str, address: str, **extra: object
) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": amount, "currency": currency, "network": "SOL", "address": address} | extra,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def batch(h: Harness, batch_id: str) -> Batch:
    async with h.rt.db.read() as uow:
        found = await uow.batches.get(batch_id)
    assert found is not None
    return found


async def confirm(h: Harness, surfpool: Surfnet) -> None:
    """Past the 2 confirmations the chains file asks for, then let the worker see it."""
    surfpool.mine(2)
    await h.tick()


def signatures_of(surfpool: Surfnet, address: str) -> list[str]:
    found = surfpool.rpc("getSignaturesForAddress", [address, {"commitment": "confirmed"}])
    return [s["signature"] for s in found]


async def test_sol_and_usdc_payouts_reach_the_recipients(
    h: Harness, surfpool: Surfnet, wallet: Keypair
) -> None:
    hot = str(wallet.pubkey())
    m = await h.merchant(SOL="10", USDC="1000")
    r1, r2, r3 = recipient(), recipient(), recipient()
    p1 = await pay(h, m, "0.5", "SOL", r1)
    p2 = await pay(h, m, "0.25", "SOL", r2)
    p3 = await pay(h, m, "12.5", "USDC", r3)  # r3 has no USDC account yet
    assert Decimal(p1["fees"]["network"]) > 0
    assert p3["fees"]["network"] == "0.500000"  # the flat token fee, in USDC
    sol_before = surfpool.sol_balance(hot)
    usdc_before = surfpool.token_balance(hot, "USDC")
    ata = str(associated_token_account(Pubkey.from_string(r3), Pubkey.from_string(MINTS["USDC"])))
    assert not surfpool.has_account(ata)

    await h.tick()  # recorded, then sent: Surfnet includes them on arrival
    await confirm(h, surfpool)

    done = [await h.payout(m, p["id"]) for p in (p1, p2, p3)]
    assert [p["status"] for p in done] == ["paid"] * 3
    assert surfpool.sol_balance(r1) == Decimal(done[0]["final_amount"]) == Decimal("0.5")
    assert surfpool.sol_balance(r2) == Decimal(done[1]["final_amount"]) == Decimal("0.25")
    assert surfpool.token_balance(r3, "USDC") == Decimal("12.5")
    assert surfpool.has_account(ata)  # created for the recipient, idempotently
    assert surfpool.token_balance(hot, "USDC") == usdc_before - Decimal("12.5")
    # both SOL payouts in one transaction: one signature, one fee
    assert done[0]["batch_id"] == done[1]["batch_id"] != done[2]["batch_id"]
    assert done[0]["txid"] == done[1]["txid"]
    sol_batch, usdc_batch = await batch(h, done[0]["batch_id"]), await batch(h, done[2]["batch_id"])
    assert sol_batch.fee is not None and usdc_batch.fee is not None
    # the hot wallet spent exactly what was recorded: amounts, fees, the new account's rent
    rent = Decimal(int(surfpool.rpc("getMinimumBalanceForRentExemption", [165]))).scaleb(-9)
    assert usdc_batch.fee > rent
    assert sol_before - surfpool.sol_balance(hot) == (
        Decimal("0.75") + sol_batch.fee + usdc_batch.fee
    )
    balances = await h.balances(m)
    assert Decimal(balances["SOL"]["held"]) == 0 and Decimal(balances["USDC"]["held"]) == 0
    assert (await h.ledger_check())["ok"]


async def test_from_amount_sol_pays_its_fee_out_of_the_output(
    h: Harness, surfpool: Surfnet
) -> None:
    m = await h.merchant(SOL="1")
    r = recipient()
    p = await pay(h, m, "0.1", "SOL", r, fee_mode="from_amount")
    await h.tick()
    await confirm(h, surfpool)
    done = await h.payout(m, p["id"])
    assert done["status"] == "paid"
    final = Decimal(done["final_amount"])
    assert surfpool.sol_balance(r) == final
    assert final + Decimal(done["fees"]["network"]) == Decimal("0.1")
    assert (await h.ledger_check())["ok"]


async def test_many_recipients_share_transactions_up_to_the_size_limit(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path
) -> None:
    chain = chain_of(surfpool, tmp_path)
    sol_to = [recipient() for _ in range(30)]
    usdc_to = [recipient() for _ in range(14)]  # none has a USDC account
    sol = await chain.prepare(
        "many-sol",
        SOL,
        [Output(a, Decimal("0.01")) for a in sol_to],
        None,
        payout_count=30,
        next_sequence=None,
    )
    usdc = await chain.prepare(
        "many-usdc",
        USDC,
        [Output(a, Decimal("2")) for a in usdc_to],
        None,
        payout_count=14,
        next_sequence=None,
    )
    for tx, count in ((sol, 30), (usdc, 14)):
        recorded = Recorded.loads(tx.raw)
        sizes = [len(t) for t in recorded.transactions]
        assert 1 < len(sizes) < count  # batched, yet split where one would not fit
        assert all(s <= PACKET_DATA_SIZE for s in sizes)
        # each transaction carries as many as fit: one more would not have
        assert sizes[0] > PACKET_DATA_SIZE - 100
        assert sorted(i for g in recorded.outputs for i in g) == list(range(count))
        assert len(set(tx.output_txids)) == len(sizes)
        assert tx.unbatched_fee is not None and tx.fee < tx.unbatched_fee
        await chain.broadcast(tx)
    surfpool.mine(2)
    assert (await chain.status(sol)).state == "mined"
    state = await chain.status(usdc)
    assert state.state == "mined" and not state.failed_outputs
    assert {surfpool.sol_balance(a) for a in sol_to} == {Decimal("0.01")}
    assert {surfpool.token_balance(a, "USDC") for a in usdc_to} == {Decimal(2)}


async def test_a_token_account_given_as_a_recipient_is_refused(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path
) -> None:
    chain = chain_of(surfpool, tmp_path)
    holder = recipient()
    surfpool.fund_tokens(holder, "USDC", Decimal(1))
    ata = str(
        associated_token_account(Pubkey.from_string(holder), Pubkey.from_string(MINTS["USDC"]))
    )
    with pytest.raises(OutputRejected, match="token account, not a wallet") as caught:
        await chain.prepare(
            "to-ata",
            USDC,
            [Output(recipient(), Decimal(1)), Output(ata, Decimal(1))],
            None,
            payout_count=2,
            next_sequence=None,
        )
    assert caught.value.indices == frozenset({1})


async def test_an_insufficient_hot_wallet_is_refused_before_sending(
    h: Harness, surfpool: Surfnet, wallet: Keypair
) -> None:
    hot = str(wallet.pubkey())
    held = surfpool.token_balance(hot, "USDC")
    m = await h.merchant(USDC=str(held + 1000))
    p = await pay(h, m, str(held + 500), "USDC", recipient())
    reason = await h.rt.ctx.chain("SOL").shortfall(USDC, [Output(recipient(), held + 500)])
    assert reason is not None and "USDC" in reason
    before = signatures_of(surfpool, hot)
    await h.tick()
    await h.tick()
    assert (await h.payout(m, p["id"]))["status"] == "queued"
    assert signatures_of(surfpool, hot) == before  # nothing signed went out
    surfpool.fund_tokens(hot, "USDC", held + 1000)
    await h.tick()
    await confirm(h, surfpool)
    assert (await h.payout(m, p["id"]))["status"] == "paid"


async def test_a_forged_recorded_transaction_fails_its_payouts_without_crashing_the_worker(
    h: Harness, surfpool: Surfnet
) -> None:
    m = await h.merchant(SOL="1")
    r = recipient()
    p = await pay(h, m, "0.2", "SOL", r)
    batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "SOL", "SOL")
    assert batch_id is not None
    recorded = Recorded.loads((await batch(h, batch_id)).raw_tx or "")
    forged = bytearray(recorded.transactions[0])
    forged[10] ^= 0xFF  # inside the signature
    raw = Recorded(
        recorded.blockhash,
        recorded.last_valid_block_height,
        recorded.first_slot,
        (bytes(forged),),
        recorded.outputs,
    ).dumps()
    async with h.rt.db.engine.begin() as conn:
        await conn.execute(update(batches).where(batches.c.id == batch_id).values(raw_tx=raw))
    await h.tick()  # the worker carries on
    done = await h.payout(m, p["id"])
    assert done["status"] == "failed"
    assert "does not verify" in str(done.get("failure_reason"))
    assert surfpool.sol_balance(r) == 0
    assert Decimal((await h.balances(m))["SOL"]["available"]) == Decimal(1)
    assert (await h.ledger_check())["ok"]


async def test_a_send_the_node_refuses_waits_for_the_blockhash_to_expire_then_fails(
    h: Harness, surfpool: Surfnet, wallet: Keypair
) -> None:
    """Refused by preflight (here: the hot wallet was emptied after the batch was
    signed) is not yet "never sent": only the expired blockhash proves it."""
    hot = str(wallet.pubkey())
    m = await h.merchant(SOL="5")
    r = recipient()
    p = await pay(h, m, "2", "SOL", r)
    batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "SOL", "SOL")
    assert batch_id is not None
    recorded = Recorded.loads((await batch(h, batch_id)).raw_tx or "")
    surfpool.fund_sol(hot, Decimal("0.01"))
    chain = h.rt.ctx.chain("SOL")
    tx = PreparedTx(
        txid=(await batch(h, batch_id)).txid or "",
        raw=recorded.dumps(),
        fee=Decimal(0),
        fee_currency="SOL",
    )
    with pytest.raises(ChainUnavailable, match="not provably expired"):
        await chain.broadcast(tx)
    await h.tick()
    assert (await h.payout(m, p["id"]))["status"] == "sending"  # still recorded, unsent
    surfpool.expire(recorded.last_valid_block_height)
    await h.tick()
    done = await h.payout(m, p["id"])
    assert done["status"] == "failed"
    assert surfpool.sol_balance(r) == 0
    assert Decimal((await h.balances(m))["SOL"]["available"]) == Decimal(5)
    assert (await h.ledger_check())["ok"]


async def test_a_transaction_that_failed_on_chain_fails_its_payouts_and_posts_its_fee(
    h: Harness, surfpool: Surfnet, wallet: Keypair
) -> None:
    """Included but failed (here: sent without preflight once the hot wallet could no
    longer pay it, as when an earlier send raced a withdrawal): the worker finds it on
    chain, its payouts fail, their funds return, and the fee it burnt is posted."""
    hot = str(wallet.pubkey())
    m = await h.merchant(SOL="5")
    r1, r2 = recipient(), recipient()
    p1, p2 = await pay(h, m, "1", "SOL", r1), await pay(h, m, "1.5", "SOL", r2)
    batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "SOL", "SOL")
    assert batch_id is not None
    recorded = Recorded.loads((await batch(h, batch_id)).raw_tx or "")
    surfpool.fund_sol(hot, Decimal("0.5"))
    wire = base64.b64encode(recorded.transactions[0]).decode()
    surfpool.rpc("sendTransaction", [wire, {"encoding": "base64", "skipPreflight": True}])
    await h.tick()  # found on chain: counted broadcast, not sent again
    await confirm(h, surfpool)
    done = [await h.payout(m, p["id"]) for p in (p1, p2)]
    assert {(d["status"], d["failure_reason"]) for d in done} == {
        ("failed", "transaction reverted")
    }
    assert surfpool.sol_balance(r1) == surfpool.sol_balance(r2) == 0
    assert Decimal((await h.balances(m))["SOL"]["available"]) == Decimal(5)
    fee = (await batch(h, batch_id)).fee
    assert fee is not None and surfpool.sol_balance(hot) == Decimal("0.5") - fee
    assert (await h.ledger_check())["ok"]


async def test_a_broadcast_transaction_the_chain_never_included_fails_once_expired(
    h: Harness, surfpool: Surfnet
) -> None:
    """The node took it and lost it (here: the batch is marked broadcast, as after an
    accepted send, without reaching the chain). Once the finalized block height is past
    its blockhash, the chain proves it was never included: the payouts fail, the funds
    return, and no network fee is posted."""
    m = await h.merchant(SOL="3")
    r = recipient()
    p = await pay(h, m, "1", "SOL", r)
    batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "SOL", "SOL")
    assert batch_id is not None
    async with h.rt.db.unit() as uow:
        await execution.mark_broadcast(uow, h.rt.ctx, batch_id)
    assert (await h.payout(m, p["id"]))["status"] == "confirming"
    recorded = Recorded.loads((await batch(h, batch_id)).raw_tx or "")
    surfpool.expire(recorded.last_valid_block_height)
    await h.tick()
    done = await h.payout(m, p["id"])
    assert (done["status"], done["failure_reason"]) == ("failed", "transaction expired unsent")
    assert (await batch(h, batch_id)).status == "failed"
    assert surfpool.sol_balance(r) == 0
    assert Decimal((await h.balances(m))["SOL"]["available"]) == Decimal(3)
    assert (await h.ledger_check())["ok"]


async def test_a_resend_the_node_answers_without_data_counts_as_sent(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-send of a transaction the node already processed is answered -32002
    without `data`, on which solders panics (pyo3_runtime.PanicException, a
    BaseException). The adapter classifies it: here the status check before the send
    is made to miss it, as when the first send lands between that check and the send."""
    chain = chain_of(surfpool, tmp_path)
    r = recipient()
    tx = await chain.prepare(
        "resend", SOL, [Output(r, Decimal("0.3"))], None, payout_count=1, next_sequence=None
    )
    await chain.broadcast(tx)
    real = chain._statuses
    calls = []

    async def first_misses(client: Any, signatures: Any) -> Any:
        found = await real(client, signatures)
        calls.append(found)
        return [None] * len(found) if len(calls) == 1 else found

    monkeypatch.setattr(chain, "_statuses", first_misses)
    await chain.broadcast(tx)  # panics inside solders, counted sent on the recheck
    assert len(calls) == 2
    surfpool.mine(1)
    assert (await chain.status(tx)).state == "mined"
    assert surfpool.sol_balance(r) == Decimal("0.3")


async def test_a_transaction_never_sent_is_expired_once_its_blockhash_is_past(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path
) -> None:
    chain = chain_of(surfpool, tmp_path)
    tx = await chain.prepare(
        "never",
        SOL,
        [Output(recipient(), Decimal("0.3"))],
        None,
        payout_count=1,
        next_sequence=None,
    )
    recorded = Recorded.loads(tx.raw)
    assert (await chain.status(tx)).state == "unknown"
    surfpool.mine(1)
    assert (await chain.status(tx)).state == "unknown"  # may still be included
    surfpool.expire(recorded.last_valid_block_height)
    assert (await chain.status(tx)).state == "expired"
    with pytest.raises(Rejected, match="Blockhash not found"):
        await chain.broadcast(tx)
    [signed] = recorded.signed()
    assert Transaction.from_bytes(recorded.transactions[0]) == signed


async def test_an_expired_transaction_a_pruned_node_cannot_account_for_is_dropped(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path
) -> None:
    """When the node's ledger starts after the blockhash (a node restored from a
    snapshot, history pruned), "not found" proves nothing: a human reviews it."""
    chain = chain_of(surfpool, tmp_path)
    tx = await chain.prepare(
        "pruned",
        SOL,
        [Output(recipient(), Decimal("0.3"))],
        None,
        payout_count=1,
        next_sequence=None,
    )
    recorded = Recorded.loads(tx.raw)
    lowest = int(surfpool.rpc("minimumLedgerSlot"))
    assert lowest > 0
    # recorded as if its blockhash came from before the node's first slot
    before = Recorded(
        recorded.blockhash,
        recorded.last_valid_block_height,
        lowest - 1,
        recorded.transactions,
        recorded.outputs,
    )
    tx = PreparedTx(txid=tx.txid, raw=before.dumps(), fee=tx.fee, fee_currency="SOL")
    surfpool.expire(recorded.last_valid_block_height)
    assert (await chain.status(tx)).state == "dropped"
    with pytest.raises(ChainUnavailable, match="not provably expired"):
        await chain.broadcast(tx)


def test_the_chains_file_takes_solana_and_keeps_its_key_secret(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path
) -> None:
    chain = chain_of(surfpool, tmp_path)
    assert chain.mode == "live"
    assert chain.wallet.address == str(wallet.pubkey())
    secret = secret_text(wallet)
    assert secret not in repr(chain) and secret not in repr(chain.wallet)
    for extra, error in (
        ('token_fee = "abc"\n', "token_fee"),
        ("priority_fees = { economy = 5, recommended = 1 }\n", "grow with priority"),
        ('mints = { USDC = "not-an-address" }\n', "mints.USDC"),
        ('password = "x"\n', "environment"),
    ):
        path = surfpool.chains_file(tmp_path, extra=extra)
        with pytest.raises(chains_config.ChainsFileError, match=error):
            SolanaChain.from_config(chains_config.load(path)["SOL"])
    os.environ[KEY_ENV] = "not a key"
    with pytest.raises(chains_config.ChainsFileError, match="private_key_env") as caught:
        chain_of(surfpool, tmp_path)
    assert "not a key" not in str(caught.value)


async def test_the_hot_wallet_key_never_reaches_a_log(
    surfpool: Surfnet,
    wallet: Keypair,
    tmp_path: Path,
    database_url: str | None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # solana-py's and httpx's own logging included
    secret = bytes(wallet)
    secrets = [secret_text(wallet), json.dumps(list(secret)), secret.hex(), secret[:32].hex()]
    with structlog.testing.capture_logs() as events:
        async with sol_harness(surfpool, tmp_path, database_url) as h:
            m = await h.merchant(SOL="1")
            p = await pay(h, m, "0.01", "SOL", recipient())
            await h.tick()
            await confirm(h, surfpool)
            assert (await h.payout(m, p["id"]))["status"] == "paid"
            chain = h.rt.ctx.chain("SOL")
            shown = repr(chain) + str(chain) + repr(getattr(chain, "wallet", None))
    captured = capsys.readouterr()
    logs = "\n".join([caplog.text, captured.out, captured.err, *map(repr, events)])
    assert "solana.prepared" in logs and "batch.broadcast" in logs  # all captured
    for text in secrets:
        assert text not in logs
        assert text not in shown


async def test_assets_show_solana_live(h: Harness) -> None:
    m = await h.merchant()
    r = await h.client.get("/v1/assets", headers=m.headers)
    assert r.status_code == 200, r.text
    modes = {
        (a["currency"], a["network"]): a["mode"] for a in r.json()["data"] if a["network"] == "SOL"
    }
    assert modes == {("SOL", "SOL"): "live", ("USDC", "SOL"): "live", ("USDT", "SOL"): "live"}


# --- a worker killed between recording a batch and sending it ---------------------------

CRASH_WORKER = """
import asyncio, os, signal, sys
from pathlib import Path
from payoutd.bootstrap import build
from payoutd.worker import jobs
from tests import support

async def main() -> None:
    settings = support.test_settings(
        Path(sys.argv[1]), sys.argv[2] or None, chains_file=Path(sys.argv[3])
    )
    rt = build(settings)
    batch_id = await jobs.open_batch(rt.db, rt.ctx, "SOL", sys.argv[4])
    print("BATCH", batch_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # recorded, not sent

asyncio.run(main())
"""


@pytest.mark.slow
async def test_a_worker_killed_between_recording_and_sending_pays_each_payout_once(
    surfpool: Surfnet, wallet: Keypair, tmp_path: Path, database_url: str | None
) -> None:
    hot = str(wallet.pubkey())
    to_sol, to_usdc = [recipient() for _ in range(3)], [recipient() for _ in range(2)]
    async with sol_harness(surfpool, tmp_path, database_url) as h:
        m = await h.merchant(SOL="10", USDC="100")
        ids = [(await pay(h, m, "0.1", "SOL", a))["id"] for a in to_sol]
        ids += [(await pay(h, m, "3", "USDC", a))["id"] for a in to_usdc]
    before = set(signatures_of(surfpool, hot))
    recorded: dict[str, str] = {}
    for currency in ("SOL", "USDC"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CRASH_WORKER,
            str(tmp_path),
            database_url or "",
            str(surfpool.chains_file(tmp_path)),
            currency,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        [line] = [x for x in out.decode().splitlines() if x.startswith("BATCH ")]
        recorded[currency] = line.split()[1]
    assert set(signatures_of(surfpool, hot)) == before  # nothing left payoutd

    async with sol_harness(surfpool, tmp_path, database_url, fresh=False) as h:
        raws = {c: (await batch(h, b)).raw_tx for c, b in recorded.items()}
        await h.tick()  # the restarted worker sends the recorded transactions first
        await h.tick()
        await confirm(h, surfpool)
        statuses = [(await h.payout(m, i))["status"] for i in ids]
        assert statuses == ["paid"] * 5
        for c, b in recorded.items():
            assert (await batch(h, b)).raw_tx == raws[c]  # sent as recorded, not rebuilt
        assert (await h.ledger_check())["ok"]
    sent = set(signatures_of(surfpool, hot)) - before
    expected = {
        str(t.signatures[0]) for raw in raws.values() for t in Recorded.loads(raw or "").signed()
    }
    assert sent == expected  # exactly the recorded transactions, each once
    assert {surfpool.sol_balance(a) for a in to_sol} == {Decimal("0.1")}
    assert {surfpool.token_balance(a, "USDC") for a in to_usdc} == {Decimal(3)}
