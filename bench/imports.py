"""`imports`: a mass payout (issue 22) of 5,000 rows on SQLite, the default
configuration, in rows per second, against the API's own intake rate measured in the
same run on the same database: `POST /v1/payouts` under wrk at 32 connections, as
`intake_sqlite` measures it (bench/intake.py).

The file pays the load generators' own mix (every currency and network of
bench/common.TARGETS, distinct recipients). It is imported two ways, each by a fresh
merchant so every row creates a payout:

- `api`: uploaded to `POST /v1/payout-imports` and placed by a `payoutd serve --role
  worker` beside the API, once a one-row import has shown the worker running (its
  passes come every PAYOUTD_WORKER_INTERVAL_SECONDS, 1 s: the wait for the next one is
  counted). Rate: rows over the time from the upload's answer to
  `GET /v1/payout-imports/{id}` showing `done` (polled every 20 ms).
- `cli`: `payoutd payouts import FILE --merchant M` as a process. Rate: rows over the
  time from the import's `created_at` to its `finished_at` (the CLI process's start-up
  and the file's reading are shown apart, as the process's wall time).

The ratio checked is the `api` import's rows/s over the intake's requests/s."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from typing import Any

import httpx

from bench import common as c
from bench import intake

CONNECTIONS = 32


def payroll_csv(rows: int, tag: str) -> bytes:
    """`rows` payouts in the intake's mix; order_ids carry `tag`."""
    per_kind = {kind: c.addresses(kind, 64) for *_, kind in c.TARGETS}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["amount", "currency", "network", "address", "order_id", "comment"])
    for i in range(rows):
        currency, network, amount, kind = c.TARGETS[i % len(c.TARGETS)]
        address = per_kind[kind][i % 64]
        writer.writerow([amount, currency, network, address, f"{tag}-{i}", "bench import"])
    return out.getvalue().encode()


def _seconds(start: str, end: str) -> float:
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def run(quick: bool) -> dict[str, Any]:
    plan = intake.Plan.make(quick)
    rows = 500 if quick else 5000
    with c.temp_dir("imports") as tmp:
        data = tmp / "data"
        # the intake's merchants, and one fresh merchant per import
        merchants = c.seed(data_dir=data, merchants=plan.merchants + 2)
        by_api, by_cli = merchants[-2], merchants[-1]
        targets = c.write_wrk_targets(tmp / "targets.txt", merchants[: plan.merchants])
        db = data / "payoutd.db"
        port = c.free_port()
        env = c.server_env(port, data_dir=data)
        api = c.start_payoutd("imports-api", "api", env)
        try:
            intake.warm_up(port, targets, plan)
            measured = intake.drive_once(
                port,
                targets,
                plan,
                CONNECTIONS,
                "imports: API intake",
                lambda tag: c.sqlite_count(
                    db, f"SELECT count(*) FROM payouts WHERE order_id LIKE '{tag}-%'"
                ),
                api.pid,
            )
            worker = c.start_payoutd("imports-worker", "worker", env)
            try:
                # a one-row import first: the worker is up and has passed its first import
                # when it is done (a process's start-up is not the import's time)
                _import_via_api(port, by_api, payroll_csv(1, "warm"))
                via_api = _import_via_api(port, by_api, payroll_csv(rows, "api"))
            finally:
                worker.stop()
        finally:
            api.stop()
        sheet = tmp / "payroll.csv"
        sheet.write_bytes(payroll_csv(rows, "cli"))
        t0 = time.monotonic()
        out = c.cli_json(env, "payouts", "import", str(sheet), "--merchant", by_cli.id)
        wall = time.monotonic() - t0
        via_cli = {
            "rows": out["total"],
            "accepted": out["accepted"],
            "refused": out["refused"],
            "seconds": _seconds(out["created_at"], out["finished_at"]),
            "process_wall_s": round(wall, 2),
        }
        via_cli["rows_per_s"] = via_cli["rows"] / via_cli["seconds"]
        created = c.sqlite_count(db, "SELECT count(*) FROM payouts WHERE comment = 'bench import'")
    c.log(
        f"imports: intake {measured['rps']:,.0f} req/s; import via API + worker "
        f"{via_api['rows_per_s']:,.0f} rows/s, via the CLI {via_cli['rows_per_s']:,.0f} rows/s"
    )
    return {
        "plan": plan.__dict__,
        "rows": rows,
        "connections": CONNECTIONS,
        "intake": measured,
        "api": via_api,
        "cli": via_cli,
        "created": created,
        "ratio_api": intake._ratio(via_api["rows_per_s"], measured["rps"]),
        "ratio_cli": intake._ratio(via_cli["rows_per_s"], measured["rps"]),
    }


def _import_via_api(port: int, merchant: c.Merchant, body: bytes) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {merchant.api_key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        r = client.post(
            "/v1/payout-imports", content=body, headers={**headers, "Content-Type": "text/csv"}
        )
        r.raise_for_status()
        t0 = time.monotonic()
        imp = r.json()
        while imp["status"] in ("queued", "running"):
            time.sleep(0.02)
            imp = client.get(f"/v1/payout-imports/{imp['id']}", headers=headers).json()
            if time.monotonic() - t0 > 600:
                raise TimeoutError("the import did not finish in 10 minutes")
        seconds = time.monotonic() - t0
    if imp["status"] != "done":
        raise RuntimeError(f"the import ended {imp['status']}: {imp.get('error')}")
    return {
        "rows": imp["total"],
        "accepted": imp["accepted"],
        "refused": imp["refused"],
        "seconds": round(seconds, 3),
        "rows_per_s": imp["total"] / seconds,
    }


def table(res: dict[str, Any]) -> str:
    rows = [
        [
            f"`POST /v1/payouts` under wrk, {res['connections']} connections",
            c.fmt_num(res["intake"]["rps"]) + " req/s",
            "1.00",
            f"{res['intake'].get('created', '-')} created",
        ],
        [
            f"`POST /v1/payout-imports` of {res['rows']} rows + a worker process",
            c.fmt_num(res["api"]["rows_per_s"]) + " rows/s",
            f"{res['ratio_api']:.2f}" if res["ratio_api"] is not None else "-",
            f"{res['api']['accepted']} accepted, {res['api']['refused']} refused in "
            f"{res['api']['seconds']:.2f} s",
        ],
        [
            f"`payoutd payouts import` of {res['rows']} rows",
            c.fmt_num(res["cli"]["rows_per_s"]) + " rows/s",
            f"{res['ratio_cli']:.2f}" if res["ratio_cli"] is not None else "-",
            f"{res['cli']['accepted']} accepted in {res['cli']['seconds']:.2f} s "
            f"(process: {res['cli']['process_wall_s']:.1f} s)",
        ],
    ]
    return c.md_table(["SQLite", "rate", "÷ intake", "detail"], rows)
