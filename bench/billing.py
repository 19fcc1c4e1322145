"""Monthly invoices and revenue reports over a large ledger: seconds and peak memory.

Run it through the launcher, which exports ``DATABASE_URL`` for the local server::

    make bench-billing                                    # 1,000 clients, 1,000,000 ledger entries
    make bench-billing BENCH_ARGS='--clients 50 --entries 20000 --fresh'

What it does (README.md beside this file says how to read the output):

1. Uses its own database (``quorum_bench_billing_<run name>`` on the server of ``DATABASE_URL``; ``--fresh``
   drops and recreates it), migrated with ``manage.py migrate``. Never the dev or test database.
2. Loads ``--clients`` clients, ``--annotators`` annotator users and ``--entries`` ledger entries
   (half as many balanced two-leg transactions) spread evenly over the ``--months`` whole months
   before the current one, with ``INSERT … SELECT generate_series`` in one transaction: task
   charges 46 %, answer pay 44 % (labor), gold pay 2 % (platform cost), refunds 3 %, top-ups 2 %,
   payments 2 %, payouts 1 %. Client sizes are log-uniform (client k gets a share of about
   ln((k+1)/k) / ln(clients): the largest about 10 %, the next 6 %, …), so a few large clients
   hold much of the revenue, as in a real marketplace; each client has 5 projects.
   Cached balances are then set from the entries, and the load is checked: every transaction
   sums to zero.
3. Times ``billing.invoices.invoices_generate_for_period`` for the last loaded month (every
   client with charges in it: one aggregate query and one insert of lines per client), then the
   same again under ``tracemalloc`` for the Python peak, then a rebuild of the drafts; checks that
   the invoice totals equal the ledger for that month.
4. Times the revenue-per-client-per-month, concentration (HHI) and margin reports over all the
   loaded months, each once plain and once under ``tracemalloc``.
5. Prints the hardware, the figures and writes ``bench/results/billing-<time>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from bench.claim import hardware, log, open_bench_database  # noqa: E402
from bench.provenance import bench_db_name  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
TASK_TYPES = ["categorization", "imageannotation", "textcollection", "ranking", "cuboid"]
BILLING_TABLES = [
    "billing_invoiceline",
    "billing_invoice",
    "billing_ledgerentry",
    "billing_ledgertransaction",
    "billing_account",
    "billing_clientcredit",
    "clients_event",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--entries", type=int, default=1_000_000, help="ledger entries (two per transaction)")
    p.add_argument("--months", type=int, default=12, help="whole months of history before the current month")
    p.add_argument("--annotators", type=int, default=500)
    p.add_argument("--db-name", default=bench_db_name("quorum_bench_billing"))
    p.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    p.add_argument(
        "--json", type=Path, default=None, help="result file (default bench/results/billing-<time>.json)"
    )
    a = p.parse_args(argv)
    if a.clients < 1 or a.entries < 200 or a.months < 1 or a.annotators < 1:
        p.error("--clients, --annotators and --months must be at least 1, --entries at least 200")
    return a


def months_back(first_of_month: date, n: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


# --- load ------------------------------------------------------------------------------------------

H = "(hashint8({g}::bigint + {salt}) & 2147483647)"  # a deterministic pseudo-random non-negative int per row


def _h(salt: int, g: str = "g") -> str:
    return H.format(g=g, salt=salt * 1_000_003)


TX_SQL = f"""
CREATE TEMP TABLE bench_tx ON COMMIT DROP AS
SELECT g,
       md5('tx' || g)::uuid AS id,
       CASE WHEN k < 46 THEN 'task_charge' WHEN k < 90 THEN 'answer_pay' WHEN k < 92 THEN 'gold_pay'
            WHEN k < 95 THEN 'refund' WHEN k < 97 THEN 'topup' WHEN k < 99 THEN 'payment'
            ELSE 'payout' END AS kind,
       least(%(c)s, floor(power(%(c)s::float8, {_h(1)} / 2147483648.0)))::int AS client_no,
       1 + {_h(3)} %% %(a)s AS user_no,
       {_h(4)} %% 5 AS project_no,
       %(start)s::timestamptz
         + (g - 1) * ((%(end)s::timestamptz - %(start)s::timestamptz) / %(n)s) AS created_at,
       {_h(5)} AS r
  FROM (SELECT g, {_h(6)} %% 100 AS k FROM generate_series(1, %(n)s::bigint) g) s
"""

AMOUNT = """CASE kind WHEN 'task_charge' THEN 50 + r %% 4951 WHEN 'answer_pay' THEN 30 + r %% 2971
                 WHEN 'gold_pay' THEN 30 + r %% 971 WHEN 'refund' THEN 10 + r %% 991
                 WHEN 'topup' THEN 10000 + r %% 990001 WHEN 'payment' THEN 1000 + r %% 99001
                 ELSE 1000 + r %% 19001 END"""

# (debit account, credit account) per kind, from the bench_accounts mapping (see load()).
LEGS = {
    "task_charge": ("rec", "revenue"),
    "answer_pay": ("labor", "payable"),
    "gold_pay": ("platform_cost", "payable"),
    "refund": ("revenue", "rec"),
    "topup": ("cash", "funds"),
    "payment": ("cash", "rec"),
    "payout": ("payable", "cash"),
}


def _account_case(side: int) -> str:
    arms = []
    for kind, legs in LEGS.items():
        name = legs[side]
        ref = {"rec": "c.rec", "funds": "c.funds", "payable": "u.payable"}.get(
            name, f"(SELECT id FROM bench_platform WHERE kind = '{name}')"
        )
        arms.append(f"WHEN '{kind}' THEN {ref}")
    return "CASE t.kind " + " ".join(arms) + " END"


def load(conn: psycopg.Connection, args: argparse.Namespace, start: datetime, end: datetime) -> dict:
    shape = {
        "clients": args.clients,
        "entries": args.entries,
        "annotators": args.annotators,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "version": 2,
    }
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_meta "
        "(id int PRIMARY KEY, shape jsonb NOT NULL, loaded_at timestamptz NOT NULL)"
    )
    row = conn.execute("SELECT shape FROM bench_meta WHERE id = 2").fetchone()
    if row and row[0] == shape:
        log("bench: ledger already loaded with this shape; reusing it (invoices are dropped before timing)")
        return {"reused": True, "seconds": 0.0}
    n_tx = args.entries // 2
    log(
        f"bench: loading {args.clients:,} clients, {args.annotators:,} annotators, {n_tx:,} transactions "
        f"({2 * n_tx:,} entries) from {start:%Y-%m} to {end:%Y-%m} (exclusive) ..."
    )
    t0 = time.perf_counter()
    p = {"c": args.clients, "a": args.annotators, "n": n_tx, "start": start, "end": end, "now": end}
    with conn.transaction():
        conn.execute(f"TRUNCATE {', '.join(BILLING_TABLES)}, clients_client, clients_user CASCADE")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege), conn.transaction():
            # Consistent by construction: skip per-row FK and per-row balance triggers (superuser
            # only; otherwise they run and the load is slower). Balance is checked below instead.
            conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "INSERT INTO clients_client "
            "(id, name, slug, currency, callback_auth_key, callback_signing_secret, is_active, created_at) "
            "SELECT md5('client' || g)::uuid, 'Bench client ' || g, 'bench-billing-' || g, 'USD', "
            "md5('cb' || g), "
            "'whsec_' || md5('ws' || g), true, %(start)s FROM generate_series(1, %(c)s) g",
            p,
        )
        conn.execute(
            "INSERT INTO clients_user "
            "(id, password, last_login, is_superuser, email, name, is_active, is_staff, date_joined) "
            "SELECT md5('user' || g)::uuid, '!', NULL, false, 'bench-billing-' || g || '@bench.invalid', '', "
            "true, false, %(start)s "
            "FROM generate_series(1, %(a)s) g",
            p,
        )
        conn.execute(
            "CREATE TEMP TABLE bench_platform ON COMMIT DROP AS "
            "SELECT md5('platform' || k)::uuid AS id, k AS kind "
            "FROM unnest(ARRAY['revenue', 'labor', 'platform_cost', 'cash']) k"
        )
        conn.execute(
            "INSERT INTO billing_account (id, kind, client_id, user_id, currency, balance, created_at) "
            "SELECT id, "
            "CASE kind WHEN 'revenue' THEN 'platform_revenue' WHEN 'labor' THEN 'labor_cost' ELSE kind END, "
            "NULL, NULL, 'USD', 0, %(start)s FROM bench_platform",
            p,
        )
        conn.execute(
            "CREATE TEMP TABLE bench_clients ON COMMIT DROP AS "
            "SELECT g AS client_no, md5('client' || g)::uuid AS client_id, "
            "md5('rec' || g)::uuid AS rec, md5('funds' || g)::uuid AS funds FROM generate_series(1, %(c)s) g",
            p,
        )
        conn.execute(
            "CREATE TEMP TABLE bench_users ON COMMIT DROP AS "
            "SELECT g AS user_no, md5('user' || g)::uuid AS user_id, "
            "md5('payable' || g)::uuid AS payable FROM generate_series(1, %(a)s) g",
            p,
        )
        conn.execute(
            "INSERT INTO billing_account (id, kind, client_id, user_id, currency, balance, created_at) "
            "SELECT rec, 'client_receivable', client_id, NULL::uuid, 'USD', 0, %(start)s FROM bench_clients "
            "UNION ALL "
            "SELECT funds, 'client_funds', client_id, NULL::uuid, 'USD', 0, %(start)s FROM bench_clients "
            "UNION ALL "
            "SELECT payable, 'annotator_payable', NULL::uuid, user_id, 'USD', 0, %(start)s FROM bench_users",
            p,
        )
        conn.execute(TX_SQL, p)
        conn.execute("ANALYZE bench_tx, bench_clients, bench_users, bench_platform")
        conn.execute(
            """
            INSERT INTO billing_ledgertransaction (id, idempotency_key, kind, client_id, reference,
                description, project_id, project_name, task_type, user_id, reverses_id, created_at)
            SELECT t.id, 'bench:' || t.g, CASE t.kind WHEN 'gold_pay' THEN 'answer_pay' ELSE t.kind END,
                   CASE WHEN t.kind = 'payout' THEN NULL ELSE c.client_id END, 'bench:' || t.g, '',
                   CASE WHEN t.kind IN ('topup', 'payment', 'payout') THEN NULL
                        ELSE md5('project' || t.client_no || ':' || t.project_no)::uuid END,
                   CASE WHEN t.kind IN ('topup', 'payment', 'payout') THEN ''
                        ELSE 'Project ' || t.client_no || '-' || t.project_no END,
                   CASE WHEN t.kind IN ('topup', 'payment', 'payout') THEN ''
                        ELSE (%(types)s::text[])[1 + t.project_no] END,
                   CASE WHEN t.kind IN ('answer_pay', 'gold_pay', 'payout') THEN u.user_id END,
                   NULL, t.created_at
              FROM bench_tx t JOIN bench_clients c USING (client_no) JOIN bench_users u USING (user_no)
            """,
            {**p, "types": TASK_TYPES},
        )
        for side, sign in ((0, ""), (1, "-")):
            conn.execute(
                f"""
                INSERT INTO billing_ledgerentry (transaction_id, account_id, amount, currency, created_at)
                SELECT t.id, {_account_case(side)}, {sign}({AMOUNT.replace("%%", "%")}), 'USD', t.created_at
                  FROM bench_tx t JOIN bench_clients c USING (client_no) JOIN bench_users u USING (user_no)
                 ORDER BY t.g
                """
            )
        conn.execute(
            "UPDATE billing_account a SET balance = s.total FROM (SELECT account_id, sum(amount) AS total "
            "FROM billing_ledgerentry GROUP BY account_id) s "
            "WHERE s.account_id = a.id AND a.kind IN ('annotator_payable', 'client_funds')"
        )
        conn.execute(
            "INSERT INTO bench_meta (id, shape, loaded_at) VALUES (2, %s, now()) "
            "ON CONFLICT (id) DO UPDATE SET shape = EXCLUDED.shape, loaded_at = EXCLUDED.loaded_at",
            [Jsonb(shape)],
        )
    t_insert = time.perf_counter() - t0
    conn.execute(f"VACUUM (ANALYZE) {', '.join(BILLING_TABLES)}, clients_client, clients_user")
    unbalanced = conn.execute(
        "SELECT count(*) FROM (SELECT transaction_id FROM billing_ledgerentry GROUP BY transaction_id "
        "HAVING sum(amount) <> 0 OR count(*) < 2) x"
    ).fetchone()[0]
    seconds = time.perf_counter() - t0
    log(f"bench: loaded in {seconds:.1f} s (insert {t_insert:.1f} s); unbalanced transactions: {unbalanced}")
    if unbalanced:
        sys.exit("bench: the generated ledger does not balance")
    return {
        "reused": False,
        "seconds": round(seconds, 1),
        "insert_seconds": round(t_insert, 1),
        "unbalanced": unbalanced,
    }


# --- measure ---------------------------------------------------------------------------------------


def rss_mb() -> dict:
    status = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                status[key] = round(int(value.split()[0]) / 1024, 1)
    return {
        "rss_mb": status.get("VmRSS"),
        "rss_peak_mb": status.get("VmHWM"),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def timed(fn, *, traced: bool) -> tuple[object, dict]:
    from django.db import connection

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    if traced:
        tracemalloc.start()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with connection.execute_wrapper(count):
        result = fn()
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    # Wall time includes waiting for PostgreSQL and for the CPU; this process's own CPU time does not.
    figures = {
        "seconds": round(seconds, 3),
        "python_cpu_seconds": round(cpu, 3),
        "sql_statements": statements[0],
    }
    if traced:
        figures["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1024 / 1024, 2)
        tracemalloc.stop()
    return result, {**figures, **rss_mb()}


def invoice_figures(month: date) -> dict:
    from django.db import connection

    from billing import invoices
    from billing.models import Invoice, InvoiceLine

    def drop():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE billing_invoiceline, billing_invoice")
            cursor.execute("DELETE FROM clients_event WHERE entity_type = 'invoice'")

    def run():
        return invoices.invoices_generate_for_period(period_start=month, actor="bench")

    drop()
    count, plain = timed(run, traced=False)
    drop()
    _, traced = timed(run, traced=True)
    _, rebuild = timed(run, traced=False)  # every draft rebuilt in place: the idempotent re-run
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(e.amount), 0) FROM billing_ledgerentry e "
            "JOIN billing_account a ON a.id = e.account_id "
            "JOIN billing_ledgertransaction t ON t.id = e.transaction_id WHERE a.kind = 'client_receivable' "
            "AND t.kind IN ('task_charge', 'refund') AND t.created_at >= %s AND t.created_at < %s",
            [invoices.utc_midnight(month), invoices.utc_midnight(invoices.next_month(month))],
        )
        ledger_total = int(cursor.fetchone()[0])
    invoice_total = sum(Invoice.objects.values_list("total", flat=True))
    return {
        "month": f"{month:%Y-%m}",
        "invoices": count,
        "lines": InvoiceLine.objects.count(),
        "plain": plain,
        "tracemalloc": traced,
        "rebuild_drafts": rebuild,
        "invoice_total": invoice_total,
        "ledger_total": ledger_total,
        "totals_equal_ledger": invoice_total == ledger_total,
    }


def report_figures(first: date, last: date) -> dict:
    from billing import reports

    period = reports.Period(first, last)
    out = {}
    for name, fn in [
        ("revenue_by_client_month", reports.revenue_by_client_month),
        ("concentration", reports.concentration),
        ("margin_by_month", reports.margin_by_month),
    ]:
        result, plain = timed(lambda fn=fn: fn(period=period, currency="USD"), traced=False)
        _, traced = timed(lambda fn=fn: fn(period=period, currency="USD"), traced=True)
        rows = len(result["clients"]) if isinstance(result, dict) else len(result)
        out[name] = {"rows": rows, "plain": plain, "tracemalloc": traced}
        if name == "concentration":
            out[name].update(
                hhi=result["hhi_rounded"], top_share_bp=result["top_share_bp"], revenue=result["revenue"]
            )
    return out


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    bench_url, _admin_url, _env = open_bench_database(
        args.db_name, fresh=args.fresh, make_target="bench-billing"
    )

    this_month = datetime.now(UTC).date().replace(day=1)
    first, last_month = months_back(this_month, args.months), months_back(this_month, 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(this_month, datetime.min.time(), tzinfo=UTC)
    started = datetime.now(UTC)
    with psycopg.connect(bench_url, autocommit=True) as conn:
        hw = hardware(conn)
        hw = {
            k: hw[k]
            for k in (
                "cpu_model",
                "cpus",
                "ram_gb",
                "kernel",
                "postgresql",
                "postgresql_settings",
                "python",
                "django",
                "psycopg",
                "loadavg_at_start",
            )
        }
        log("\n== Hardware ==")
        for k, v in hw.items():
            log(f"  {k}: {v}")
        loaded = load(conn, args, start, end)
        sizes = dict(
            zip(
                ["clients", "transactions", "entries"],
                conn.execute(
                    "SELECT (SELECT count(*) FROM clients_client), "
                    "(SELECT count(*) FROM billing_ledgertransaction), "
                    "(SELECT count(*) FROM billing_ledgerentry)"
                ).fetchone(),
                strict=True,
            )
        )
    log("  " + ", ".join(f"{k}={v:,}" for k, v in sizes.items()))

    log(f"\n== Monthly invoices for {last_month:%Y-%m} ==")
    inv = invoice_figures(last_month)
    log(
        f"  {inv['invoices']:,} invoices, {inv['lines']:,} lines; "
        f"totals equal the ledger: {inv['totals_equal_ledger']} "
        f"({inv['invoice_total']:,} minor units)"
    )
    for key in ("plain", "tracemalloc", "rebuild_drafts"):
        log(f"  {key:>15}: " + ", ".join(f"{k}={v}" for k, v in inv[key].items()))

    log(f"\n== Reports over {first:%Y-%m} .. {last_month:%Y-%m} ==")
    rep = report_figures(first, this_month)
    for name, fig in rep.items():
        extra = {k: v for k, v in fig.items() if k not in ("plain", "tracemalloc")}
        log(f"  {name}: {extra}")
        for key in ("plain", "tracemalloc"):
            log(f"  {key:>15}: " + ", ".join(f"{k}={v}" for k, v in fig[key].items()))

    hw["loadavg_at_end"] = os.getloadavg()
    log(
        f"\n  load average at start {hw['loadavg_at_start']}, at end {hw['loadavg_at_end']} "
        f"({hw['cpus']} CPUs): "
        "a figure above the CPU count means other work shared the machine"
    )
    result = {
        "started": started.isoformat(),
        "hardware": hw,
        "params": vars(args) | {"json": str(args.json)},
        "load": loaded,
        "sizes": sizes,
        "invoices": inv,
        "reports": rep,
    }
    path = args.json or RESULTS_DIR / f"billing-{started:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    log(f"\nbench: wrote {path}")
    return 0 if inv["totals_equal_ledger"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
