"""The capacity model: what one claim+submit cycle costs PostgreSQL, and what a primary carries.

    make bench-capacity                                   # 3,000 cycles per run; 8 and 32 annotators
    make bench-capacity BENCH_ARGS='--quick'              # about a minute
    make bench-capacity BENCH_ARGS='--headroom 0.5 --wal-mb-s 250'   # other assumptions

It starts a private PostgreSQL cluster (bench/chaos.py's ``Postgres``: ``initdb`` in a temporary
folder, a free loopback port) with ``pg_stat_statements`` preloaded (``track = all``, so the
statements inside ``quorum_claim``/``quorum_submit`` are counted too, marked ``toplevel = false``),
``track_io_timing`` and ``track_wal_io_timing`` on, ``fsync`` and ``synchronous_commit`` on. It loads
bench/claim.py's data (priced, quality rules on, overlap 3) and runs bench/claim.py's two loops, by
import: the raw loop (``raw_cycle``: the app's SQL functions on psycopg) and the HTTP loop (granian as
the Procfile runs it), for a fixed number of cycles at each concurrency.

Each run is one window: the data reset, the tables rewritten (``VACUUM FULL``, so freed space cannot
hide growth), a ``CHECKPOINT``, every client backend gone; the statistics read; the clients started,
run to the cycle count, stopped; their backends gone (a backend flushes its statistics when it
exits); the statistics read again. Per cycle, from the difference: PostgreSQL CPU time (the whole
cluster from /proc: the postmaster, every child alive, and the children it reaped; and claim.py's
probe of the client backends), statements and round trips (``pg_stat_statements`` calls of top-level
statements, BEGIN and COMMIT included; ``xact_commit``), server execution time, buffers hit, read and
dirtied, WAL bytes (``pg_current_wal_lsn()`` difference and ``pg_stat_wal``), WAL records and full-page
images, rows inserted/updated/deleted and dead tuples made per table, and the bytes each table grew.
The window includes the set-up of the clients' connections and the web server's readiness probes: a few
dozen statements against thousands of cycles (the figures name them: ``health`` and ``setup``).

Then a hot-row probe (K connections updating one row vs one row each: the serialised update rate a
per-client counter allows), and the model: from the per-cycle figures and stated assumptions
(``--headroom``, ``--vcpus``, ``--pace``, ``--wal-mb-s``, ``--max-connections``…), the cycles/s,
annotators and tasks/day that a primary of each size carries, with the first limit named. The figures
the model uses are CPU time, bytes and counts per cycle, which do not depend on how busy the shared
machine is; the wall-time rates printed beside them do. docs/capacity.md has the last output.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import chaos  # noqa: E402
from bench import claim as cb  # noqa: E402
from bench.provenance import bench_db_name, provenance  # noqa: E402

MAKE_TARGET = "bench-capacity"
# The queue and the money tables a cycle writes (growth, rows and dead tuples per cycle).
TABLES = [
    "annotation_task",
    "annotation_assignment",
    "annotation_submission",
    "annotation_projectworker",
    "annotation_confusioncount",
    "clients_event",
    "clients_webhookdelivery",
    "billing_ledgertransaction",
    "billing_ledgerentry",
    "billing_account",
    "billing_projectbudget",
    "billing_clientcredit",
]
PG_EXTRA_CONF = """
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.max = 5000
track_io_timing = on
track_wal_io_timing = on
max_connections = 200
shared_buffers = 128MB
max_wal_size = 2GB
"""
KEY_SETTINGS = [
    "shared_buffers", "synchronous_commit", "fsync", "full_page_writes", "wal_compression", "wal_level",
    "max_connections", "max_wal_size", "checkpoint_timeout", "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_cost_limit", "shared_preload_libraries", "track_io_timing", "pg_stat_statements.track",
]  # fmt: skip


def log(msg: str = "") -> None:
    print(msg, flush=True)


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    m = p.add_argument_group("measurement")
    m.add_argument("--cycles", type=int, default=None, help="cycles per run (default 3000; --quick 300)")
    m.add_argument("--concurrency", type=int_list, default=None, help="annotators (default 8,32)")
    m.add_argument("--size", type=int, default=None, help="tasks loaded (default 100000)")
    m.add_argument("--open", type=int, default=None, help="of which open (default 10000)")
    m.add_argument("--gold", type=int, default=200, help="gold tasks (default 200)")
    m.add_argument("--price", type=int, default=10, help="task price (default 10)")
    m.add_argument("--pay", type=int, default=3, help="pay per answer (default 3)")
    m.add_argument("--overlap", type=int, default=3, help="answers per task (default 3)")
    m.add_argument("--workers", type=int, default=2, help="web processes (default 2, the Procfile's)")
    m.add_argument("--threads", type=int, default=4, help="threads per process (default 4, the Procfile's)")
    m.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                   help="granian (the Procfile's) or gunicorn (gthread, the comparison)")  # fmt: skip
    m.add_argument("--hot-updates", type=int, default=None, help="updates per hot-row probe (default 3000)")
    m.add_argument("--skip-http", action="store_true", help="raw loop only (the model then uses it)")
    m.add_argument("--quick", action="store_true", help="300 cycles, 3,000 tasks, 8 annotators")
    m.add_argument("--keep", action="store_true", help="keep the private cluster's folder (its log)")
    m.add_argument("--json", type=Path, default=None, help="result file (default bench/results/capacity-…)")
    m.add_argument("--db-name", default=bench_db_name("quorum_capacity"))
    a = p.add_argument_group("assumptions of the model (stated in the output)")
    a.add_argument("--vcpus", type=int_list, default=[2, 8, 32, 96], help="primary sizes (default 2,8,32,96)")
    a.add_argument("--headroom", type=float, default=0.6, help="share of a limit used (default 0.6)")
    a.add_argument(
        "--pace", type=int_list, default=[30, 120], help="seconds per answer: images, GenAI (default 30,120)"
    )
    a.add_argument(
        "--wal-mb-s", type=float, default=125.0,
        help="WAL the primary can write and ship per second, MB (default 125: one 1 Gbit/s replica link)",
    )  # fmt: skip
    a.add_argument("--max-connections", type=int, default=200, help="PostgreSQL max_connections (200)")
    a.add_argument("--reserved-connections", type=int, default=20, help="for workers, beat, admin (20)")
    a.add_argument(
        "--connections-per-web-vcpu", type=float, default=4.0,
        help="persistent connections per web vCPU (default 4: the Procfile's 2 workers x 4 threads, 2 vCPU)",
    )  # fmt: skip
    a.add_argument("--rtt-ms", type=float, default=0.3, help="web to database round trip, ms (default 0.3)")
    a.add_argument("--retention-days", type=int, default=30, help="days of tasks the task table holds (30)")
    args = p.parse_args(argv)
    q = args.quick
    args.cycles = args.cycles or (300 if q else 3000)
    args.concurrency = args.concurrency or ([8] if q else [8, 32])
    args.size = args.size or (3000 if q else 100_000)
    args.open = min(args.open or (1000 if q else 10_000), args.size)
    args.hot_updates = args.hot_updates or (300 if q else 3000)
    if args.open * args.overlap < args.cycles + max(args.concurrency):
        p.error("--open x --overlap must exceed --cycles (each cycle takes one slot)")
    return args


# --- the private cluster ------------------------------------------------------------------------------


class StatsPostgres(chaos.Postgres):
    """chaos.py's private cluster, with pg_stat_statements preloaded and I/O timing on."""

    def start(self) -> None:
        conf = self.data / "postgresql.conf"
        if "pg_stat_statements" not in conf.read_text():
            with open(conf, "a") as f:
                f.write(PG_EXTRA_CONF)
        super().start()

    def cpu_seconds(self) -> float:
        """CPU of the whole cluster: the postmaster, its live children, and the children it reaped
        (cutime + cstime): a backend or autovacuum worker that exits mid-window is counted too."""
        pid = self.pid()
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            return 0.0
        own = sum(int(x) for x in f[11:15]) / cb.CLK_TCK
        return own + sum(cb.proc_cpu_seconds(c) for c in cb.children(pid))


# --- statistics ----------------------------------------------------------------------------------------


def lsn_bytes(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def wait_quiet(admin_url: str, db: str, timeout: float = 60.0) -> None:
    """Until no client backend is connected to ``db``: each flushed its statistics as it exited."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_url, autocommit=True) as c:
        while True:
            n = c.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND backend_type = 'client backend'",
                [db],
            ).fetchone()[0]
            if n == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{n} backends still connected to {db}")
            time.sleep(0.1)


def snapshot(pg: StatsPostgres, admin_url: str, bench_url: str, db: str) -> dict:
    with psycopg.connect(admin_url, autocommit=True) as c:
        lsn = c.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        wal = c.execute(
            "SELECT wal_records, wal_fpi, wal_bytes::bigint, wal_write, wal_sync, wal_write_time, "
            "wal_sync_time "
            "FROM pg_stat_wal"
        ).fetchone()
        d = c.execute(
            "SELECT xact_commit, xact_rollback, blks_hit, blks_read FROM pg_stat_database WHERE datname = %s",
            [db],
        ).fetchone()
    with psycopg.connect(bench_url, autocommit=True) as c:
        rows = c.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_dead_tup, autovacuum_count, "
            "pg_total_relation_size(relid) FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [TABLES],
        ).fetchall()
    keys = ("records", "fpi", "bytes", "write", "sync", "write_ms", "sync_ms")
    return {
        "t": time.perf_counter(),
        "cpu": pg.cpu_seconds(),
        "lsn": lsn_bytes(lsn),
        "wal": dict(zip(keys, wal, strict=True)),
        "db": dict(zip(("xact_commit", "xact_rollback", "blks_hit", "blks_read"), d, strict=True)),
        "tables": {r[0]: dict(zip(TABLE_KEYS, r[1:], strict=True))
                   for r in rows},
    }  # fmt: skip


HISTORY = {
    "annotation_assignment", "annotation_submission", "clients_event", "clients_webhookdelivery",
    "billing_ledgertransaction", "billing_ledgerentry",
}  # fmt: skip
TABLE_KEYS = ("ins", "upd", "hot", "del", "dead", "autovacuums", "bytes")
STATEMENTS_SQL = """
SELECT s.toplevel, s.query, s.calls, s.total_exec_time, s.rows, s.shared_blks_hit, s.shared_blks_read,
       s.shared_blks_dirtied, s.shared_blks_written, s.wal_records, s.wal_fpi, s.wal_bytes::bigint
  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = %s
"""
STATEMENT_KEYS = ("toplevel", "query", "calls", "exec_ms", "rows", "hit", "read", "dirtied", "written",
                  "wal_records", "wal_fpi", "wal_bytes")  # fmt: skip


def statement_class(query: str, trigger_sources: tuple[str, ...] = ()) -> str:
    """What a top-level statement is there for: the two work statements, transaction control, the
    per-request connection health check (``SELECT 1``), authentication, connection set-up, or a
    deferred trigger's statement run by the server at COMMIT (foreign-key checks, the ledger's
    balance check: top-level for pg_stat_statements, but no round trip). ``trigger_sources``: the
    bodies of the database's trigger functions, whitespace-collapsed and lower-cased."""
    q = " ".join(query.split())
    head = q.split("$", 1)[0].strip().lower()
    if ' from only "' in q.lower() and "for key share of" in q.lower():
        return "trigger"  # ri_triggers.c's foreign-key check, deferred to COMMIT
    body = head[head.find(" from ") + 1 :] if " from " in head else head  # PL/pgSQL drops "INTO x"
    if len(body) > 20 and any(body in src for src in trigger_sources):
        return "trigger"
    if q.startswith("SELECT * FROM quorum_claim("):
        return "claim"
    if q.startswith("SELECT * FROM quorum_submit("):
        return "submit"
    if q.upper() in ("BEGIN", "COMMIT", "ROLLBACK") or q.upper().startswith(("SAVEPOINT", "RELEASE")):
        return "transaction"
    if q in ("SELECT $1", "SELECT 1"):
        return "health"
    if "clients_accesstoken" in q:
        return "auth"
    if q.upper().startswith(("SET ", "SHOW ", "SELECT SET_CONFIG", "SELECT PG_CATALOG.SET_CONFIG")):
        return "setup"
    return "other"


CLIENT_SENT = ("claim", "submit", "transaction", "health", "auth", "setup", "other")


def per_cycle(s0: dict, s1: dict, statements: list[dict], cycles: int, triggers: tuple[str, ...]) -> dict:
    n = max(cycles, 1)
    top = [s for s in statements if s["toplevel"]]
    for s in statements:
        s["class"] = statement_class(s["query"], triggers) if s["toplevel"] else "nested"
    by_class: dict[str, int] = {}
    for s in top:
        by_class[s["class"]] = by_class.get(s["class"], 0) + s["calls"]
    work = sum(by_class.get(k, 0) for k in ("claim", "submit", "auth", "other"))
    wal = {k: s1["wal"][k] - s0["wal"][k] for k in s0["wal"]}
    tables = {}
    for name in TABLES:
        a, b = s0["tables"].get(name), s1["tables"].get(name)
        if a is None or b is None:
            continue
        d = {k: b[k] - a[k] for k in a}
        tables[name] = {
            "inserted": round(d["ins"] / n, 3),
            "updated": round(d["upd"] / n, 3),
            "hot_updated": round(d["hot"] / n, 3),
            "deleted": round(d["del"] / n, 3),
            "dead_tuples_made": round((d["upd"] + d["del"]) / n, 3),  # each update or delete leaves one
            "n_dead_tup_change": round(d["dead"] / n, 3),  # less what autovacuum removed meanwhile
            "autovacuums": d["autovacuums"],
            "bytes_grown": round(d["bytes"] / n, 1),
        }
    top_rows = sorted(statements, key=lambda s: -s["exec_ms"])[:14]
    claim = [s for s in top if s["class"] == "claim"]
    claim_calls = sum(s["calls"] for s in claim)
    # The first claim of a priced task reserves its price: an upsert of the project's budget row and
    # of the client's credit row, both held until the claim commits.
    reservations = sum(
        s["calls"]
        for s in statements
        if not s["toplevel"] and "INSERT INTO billing_clientcredit" in s["query"]
    )
    return {
        "pg_cluster_cpu_ms": round((s1["cpu"] - s0["cpu"]) * 1000 / n, 3),
        "round_trips": round(sum(s["calls"] for s in top if s["class"] in CLIENT_SENT) / n, 3),
        "top_level_statements": round(sum(s["calls"] for s in top) / n, 3),
        "statements_by_class": {k: round(v / n, 3) for k, v in sorted(by_class.items())},
        "statement_calls": {k: v for k, v in sorted(by_class.items())},
        "work_statements": round(work / n, 3),
        "claim_mean_ms": round(sum(s["exec_ms"] for s in claim) / claim_calls, 4) if claim_calls else None,
        "reservations": round(reservations / n, 4),
        "xact_commit": round((s1["db"]["xact_commit"] - s0["db"]["xact_commit"]) / n, 3),
        "exec_ms": round(sum(s["exec_ms"] for s in top) / n, 4),
        "buffers": {k: round(sum(s[k] for s in top) / n, 2) for k in ("hit", "read", "dirtied", "written")},
        "wal_bytes": round((s1["lsn"] - s0["lsn"]) / n, 1),
        "wal_bytes_pg_stat_wal": round(wal["bytes"] / n, 1),
        "wal_bytes_statements": round(sum(s["wal_bytes"] for s in top) / n, 1),
        "wal_records": round(wal["records"] / n, 2),
        "wal_fpi": round(wal["fpi"] / n, 3),
        "wal_syncs": round(wal["sync"] / n, 3),
        "wal_sync_ms_mean": round(wal["sync_ms"] / wal["sync"], 3) if wal["sync"] else None,
        "table_bytes_grown": round(sum(t["bytes_grown"] for t in tables.values()), 1),
        # The rows a cycle adds for good (history, events, ledger): what the disk keeps after vacuum.
        "history_bytes_grown": round(sum(t["bytes_grown"] for n, t in tables.items() if n in HISTORY), 1),
        "top_level_not_work": sorted(
            ([s["class"], " ".join(s["query"].split())[:120], round(s["calls"] / n, 3)] for s in top
             if s["class"] not in ("claim", "submit", "transaction")),
            key=lambda x: -x[2],
        )[:12],
        "tables": tables,
        "top_statements": [
            {"toplevel": s["toplevel"], "query": " ".join(s["query"].split())[:160],
             "calls": round(s["calls"] / n, 3),
             "mean_ms": round(s["exec_ms"] / s["calls"], 4) if s["calls"] else None,
             "exec_ms": round(s["exec_ms"] / n, 4), "dirtied": round(s["dirtied"] / n, 2),
             "wal_bytes": round(s["wal_bytes"] / n, 1)}
            for s in top_rows
        ],
    }  # fmt: skip


# --- one measured window ----------------------------------------------------------------------------------


class Bench:
    def __init__(self, args, pg: StatsPostgres, bench_url: str, admin_url: str, env: dict, fx, loaded_at):
        self.args, self.pg, self.bench_url, self.admin_url, self.env = args, pg, bench_url, admin_url, env
        self.fx, self.loaded_at = fx, loaded_at

    def prepare(self) -> None:
        """Every run starts from the loaded backlog, compact tables and a fresh checkpoint."""
        with psycopg.connect(self.bench_url, autocommit=True) as c:
            cb.reset(c, self.loaded_at)
            c.execute(f"VACUUM (FULL, ANALYZE) {', '.join(TABLES)}")
            c.execute("CHECKPOINT")
        wait_quiet(self.admin_url, self.args.db_name)

    def window(self, path: str, k: int) -> dict:
        self.prepare()
        db = self.args.db_name
        s0 = snapshot(self.pg, self.admin_url, self.bench_url, db)
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute("SELECT pg_stat_statements_reset()")  # after the snapshot's own statements
        started_at = datetime.now(UTC)
        counted = {"cycles": 0, "errors": 0}
        run = cb.Run(0.0, 3600.0, self.args.cycles)
        if path == "raw":
            res = cb.measure(path, self._counting(cb.raw_workers(self.bench_url, self.fx), counted), k, run,
                             cb.CpuProbe(self.admin_url, db, None))  # fmt: skip
        else:
            a = self.args
            with cb.web_server(self.env, a.workers, "gthread", a.threads, a.server) as (base, pid):
                res = cb.measure(path, self._counting(cb.http_workers(base, self.fx), counted), k, run,
                                 cb.CpuProbe(self.admin_url, db, pid))  # fmt: skip
        wall = time.perf_counter() - s0["t"]
        wait_quiet(self.admin_url, db)
        with psycopg.connect(self.admin_url, autocommit=True) as c:  # before the snapshot's statements
            statements = [dict(zip(STATEMENT_KEYS, r, strict=True)) for r in c.execute(STATEMENTS_SQL, [db])]
        s1 = snapshot(self.pg, self.admin_url, self.bench_url, db)
        with psycopg.connect(self.bench_url, autocommit=True) as c:
            triggers = tuple(
                " ".join(r[0].split()).lower()
                for r in c.execute("SELECT prosrc FROM pg_proc WHERE prorettype = 'trigger'::regtype")
            )
            completed, claims, gold = c.execute(
                """SELECT (SELECT count(*) FROM annotation_task WHERE completed_at >= %(t)s),
                          count(*), count(*) FILTER (WHERE t.is_gold)
                     FROM annotation_assignment a JOIN annotation_task t ON t.id = a.task_id
                    WHERE a.claimed_at >= %(t)s""",
                {"t": started_at},
            ).fetchone()
        cycles = counted["cycles"]
        out = {
            "path": path,
            "concurrency": k,
            "cycles": cycles,
            "errors": counted["errors"],
            "drained": res["drained"],
            "window_wall_s": round(wall, 2),
            "cycles_per_s": res["cycles_per_s"],  # claim.measure's clock: from the barrier to the last cycle
            "measure": res,  # claim.py's figures: latencies, CPU split client/web/pg/other per cycle
            "completed_tasks_per_cycle": round(completed / max(cycles, 1), 4),
            "gold_share_of_claims": round(gold / claims, 4) if claims else None,
            "per_cycle": per_cycle(s0, s1, statements, cycles, triggers),
        }
        c = out["per_cycle"]
        log(
            f"   {cycles} cycles in {wall:.1f} s (wall {out['cycles_per_s']} cycles/s, "
            f"{out['errors']} errors); "
            f"PostgreSQL CPU {c['pg_cluster_cpu_ms']} ms/cycle (backends {res['cpu']['pg_ms_per_cycle']}), "
            f"web {res['cpu']['web_ms_per_cycle']}, WAL {c['wal_bytes']:.0f} B, "
            f"round trips {c['round_trips']}"
        )
        return out

    @staticmethod
    def _counting(work, counted: dict):
        """claim.py's worker, counting every cycle it completed (claim.measure keeps only those
        started after its clock; the window here counts all of them)."""
        lock = threading.Lock()

        def run(i, rec, run_, barrier):
            try:
                work(i, rec, run_, barrier)
            finally:
                with lock:
                    counted["cycles"] += len(rec.cycles)
                    counted["errors"] += sum(rec.errors.values())

        return run


# --- the hot row ----------------------------------------------------------------------------------------


def hot_row_probe(
    pg: StatsPostgres, bench_url: str, admin_url: str, k: int, updates: int, spread: bool
) -> dict:
    """K autocommit connections update one row (``spread`` False) or one row each: the serialised
    rate of a counter every writer must lock, commit (WAL flush) included. The claim's budget and
    credit upserts are such a row per project and per client."""
    with psycopg.connect(bench_url, autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_hot_row (id int PRIMARY KEY, n bigint NOT NULL)")
        c.execute(
            "INSERT INTO bench_hot_row SELECT g, 0 FROM generate_series(0, %s) g ON CONFLICT DO NOTHING", [k]
        )
    left = [updates]
    lock = threading.Lock()
    barrier = threading.Barrier(k + 1)

    def work(i: int) -> None:
        with psycopg.connect(bench_url, autocommit=True) as c:
            barrier.wait(timeout=60)
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                c.execute("UPDATE bench_hot_row SET n = n + 1 WHERE id = %s", [i if spread else 0])

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(k)]
    for t in threads:
        t.start()
    with psycopg.connect(admin_url, autocommit=True) as c:
        w0 = c.execute("SELECT wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()
    cpu0 = pg.cpu_seconds()
    barrier.wait(timeout=60)
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - t0
    cpu1 = pg.cpu_seconds()
    wait_quiet(admin_url, bench_url.rsplit("/", 1)[1])
    with psycopg.connect(admin_url, autocommit=True) as c:
        w1 = c.execute("SELECT wal_sync, wal_sync_time FROM pg_stat_wal").fetchone()
    syncs = w1[0] - w0[0]
    return {
        "connections": k,
        "rows": k if spread else 1,
        "updates": updates,
        "wall_s": round(wall, 3),
        "updates_per_s": round(updates / wall, 1),
        "interval_ms": round(wall / updates * 1000, 4),
        "pg_cpu_ms_per_update": round((cpu1 - cpu0) * 1000 / updates, 4),
        "wal_syncs_per_update": round(syncs / updates, 3),
        "wal_sync_ms_mean": round((w1[1] - w0[1]) / syncs, 4) if syncs else None,
    }


# --- the model -------------------------------------------------------------------------------------------


def model_inputs(runs: list[dict], hot: list[dict], claim_alone: dict) -> dict:
    """The per-cycle figures the model uses: the HTTP path (what production runs), the costlier of its
    concurrencies for each figure (the raw loop when --skip-http)."""
    rows = [r for r in runs if r["path"] == "http"] or runs

    def worst(f):
        return max(f(r) for r in rows)

    claims = sum(r["per_cycle"]["statements_by_class"].get("claim", 0) for r in rows)
    reservations = sum(r["per_cycle"]["reservations"] for r in rows)
    one_row = max((h for h in hot if h["rows"] == 1), key=lambda h: h["connections"])
    return {
        "path": rows[0]["path"],
        "pg_cpu_ms": worst(lambda r: r["per_cycle"]["pg_cluster_cpu_ms"]),
        "pg_backend_cpu_ms": worst(lambda r: r["measure"]["cpu"]["pg_ms_per_cycle"] or 0.0),
        "web_cpu_ms": worst(lambda r: r["measure"]["cpu"]["web_ms_per_cycle"] or 0.0),
        "wal_bytes": worst(lambda r: r["per_cycle"]["wal_bytes"]),
        "round_trips": worst(lambda r: r["per_cycle"]["round_trips"]),
        "exec_ms": worst(lambda r: r["per_cycle"]["exec_ms"]),
        "completed_tasks_per_cycle": min(r["completed_tasks_per_cycle"] for r in rows),
        "dead_tuples_task": worst(lambda r: r["per_cycle"]["tables"]["annotation_task"]["dead_tuples_made"]),
        "dead_tuples_assignment": worst(
            lambda r: r["per_cycle"]["tables"]["annotation_assignment"]["dead_tuples_made"]
        ),
        "table_bytes_grown": worst(lambda r: r["per_cycle"]["table_bytes_grown"]),
        "history_bytes_grown": worst(lambda r: r["per_cycle"]["history_bytes_grown"]),
        "claims_per_reservation": round(claims / reservations, 2) if reservations else None,
        "hot_row_interval_ms": one_row["interval_ms"],
        # The claim's server time alone (claim.py's claim_sql_profile: one connection, no
        # contention, p99): what the reservation's row lock is held for besides the commit.
        "claim_exec_ms": claim_alone["exec_ms_p99"],
    }


def model(inputs: dict, a: argparse.Namespace) -> dict:
    h = a.headroom
    per_web_vcpu = 1000 / inputs["web_cpu_ms"] * h if inputs["web_cpu_ms"] else math.inf
    usable = a.max_connections - a.reserved_connections
    conn_direct = usable / a.connections_per_web_vcpu * per_web_vcpu
    # Behind PgBouncer (transaction mode) a server connection is held for the work of a cycle's
    # statements (the backends' CPU per cycle: their execution time on this shared box is mostly
    # waiting for a core) and the round trips between them; the pool is what max_connections allows.
    hold_s = (inputs["pg_backend_cpu_ms"] + inputs["round_trips"] * a.rtt_ms) / 1000
    conn_pooled = usable * h / hold_s
    wal = a.wal_mb_s * 1e6 * h / inputs["wal_bytes"]
    cpr = inputs["claims_per_reservation"]
    hot_low = hot_high = None
    if cpr:  # one client's reservations serialise on its credit row (and a project's on its budget row)
        hot_low = cpr * 1000 / (inputs["hot_row_interval_ms"] + inputs["claim_exec_ms"]) * h
        hot_high = cpr * 1000 / inputs["hot_row_interval_ms"] * h
    dead = inputs["dead_tuples_task"] + inputs["dead_tuples_assignment"]
    rows = []
    for v in a.vcpus:
        limits = {
            "PostgreSQL CPU": v * 1000 / inputs["pg_cpu_ms"] * h,
            "WAL bandwidth": wal,
            "connections (direct)": conn_direct,
        }
        first = min(limits, key=limits.get)
        carried = limits[first]
        after = {**limits, "connections (direct)": conn_pooled}
        nxt = (
            min((k for k in after if k != first), key=after.get) if first == "connections (direct)" else None
        )
        rows.append({
            "vcpus": v,
            "limits": {k: round(x, 1) for k, x in limits.items()},
            "first_bottleneck": first,
            "cycles_per_s": round(carried, 1),
            "with_pgbouncer": round(min(after.values()), 1) if nxt else None,
            "next_bottleneck": nxt,
            "annotators": {f"{p}s": round(carried * p) for p in a.pace},
            "tasks_per_day": round(carried * inputs["completed_tasks_per_cycle"] * 86400),
            "web_vcpus": round(carried / per_web_vcpu, 1),
            "pooled_server_connections": round(carried * hold_s / h, 1),
            "wal_mb_s": round(carried * inputs["wal_bytes"] / 1e6, 2),
            "dead_tuples_per_s": round(carried * dead),
            "growth_gb_per_day": round(carried * inputs["history_bytes_grown"] * 86400 / 1e9, 1),
            "clients_at_least": math.ceil(carried / hot_low) if hot_low else None,
        })  # fmt: skip
    # Autovacuum on the queue head: at default settings a table is vacuumed after 50 + 20 % of its rows
    # died; a task table holding --retention-days of tasks reaches that in (hours, at any rate):
    task_rows_per_cycle = inputs["completed_tasks_per_cycle"] * a.retention_days * 86400
    av_hours = (
        0.2 * task_rows_per_cycle / inputs["dead_tuples_task"] / 3600 if inputs["dead_tuples_task"] else None
    )
    return {
        "assumptions": {
            "headroom": h, "vcpus": a.vcpus, "seconds_per_answer": a.pace, "wal_mb_s": a.wal_mb_s,
            "max_connections": a.max_connections, "reserved_connections": a.reserved_connections,
            "connections_per_web_vcpu": a.connections_per_web_vcpu, "rtt_ms": a.rtt_ms,
            "retention_days": a.retention_days,
            "scaling": "PostgreSQL CPU per cycle constant from 2 to 96 vCPU "
            "(optimistic past ~32: lock and WAL-insert contention)",
        },
        "inputs": inputs,
        "hot_row_cycles_per_s_per_client": [round(hot_low, 1), round(hot_high, 1)] if hot_low else None,
        "pooled_hold_ms_per_cycle": round(hold_s * 1000, 3),
        "task_table_autovacuum_every_hours": round(av_hours, 1) if av_hours else None,
        "rows": rows,
    }  # fmt: skip


def print_model(m: dict) -> None:
    i, a = m["inputs"], m["assumptions"]
    log("\n== Capacity model ==")
    log(
        f"Inputs per cycle ({i['path']} path, the costlier of the concurrencies): PostgreSQL CPU "
        f"{i['pg_cpu_ms']} ms (backends {i['pg_backend_cpu_ms']}), web CPU {i['web_cpu_ms']} ms, WAL "
        f"{i['wal_bytes']:.0f} B, {i['round_trips']} round trips, server exec {i['exec_ms']} ms, "
        f"{i['completed_tasks_per_cycle']} tasks completed, dead tuples {i['dead_tuples_task']} "
        f"(task) + {i['dead_tuples_assignment']} (assignment), tables grow {i['table_bytes_grown']:.0f} B "
        f"({i['history_bytes_grown']:.0f} B of history kept after vacuum)."
    )
    log(
        f"Assumptions: {a['headroom']:.0%} of each limit used; {a['scaling']}; WAL {a['wal_mb_s']:.0f} MB/s; "
        f"max_connections {a['max_connections']} ({a['reserved_connections']} reserved), "
        f"{a['connections_per_web_vcpu']:g} per web vCPU; RTT {a['rtt_ms']} ms; answers every "
        f"{' / '.join(str(p) + ' s' for p in a['seconds_per_answer'])}."
    )
    pace = [f"annot. @{p}s" for p in a["seconds_per_answer"]]
    head = (f"| vCPU | cycles/s | first limit | {' | '.join(pace)} | tasks/day | with PgBouncer | web vCPU | "
            f"WAL MB/s | dead tup/s | GB/day | clients ≥ |")  # fmt: skip
    log(head)
    log("|" + " --- |" * (head.count("|") - 1))
    for r in m["rows"]:
        pb = f"{r['with_pgbouncer']:,.0f} ({r['next_bottleneck']})" if r["with_pgbouncer"] else "—"
        log(
            f"| {r['vcpus']} | {r['cycles_per_s']:,.0f} | {r['first_bottleneck']} | "
            + " | ".join(f"{n:,}" for n in r["annotators"].values())
            + f" | {r['tasks_per_day']:,} | {pb} | {r['web_vcpus']:,} | {r['wal_mb_s']} | "
            f"{r['dead_tuples_per_s']:,} | {r['growth_gb_per_day']} | {r['clients_at_least'] or '—'} |"
        )
    lim = m["rows"][0]["limits"]
    cpu = ", ".join(f"{r['vcpus']}: {r['limits']['PostgreSQL CPU']:,.0f}" for r in m["rows"])
    log(
        f"Limits in cycles/s: PostgreSQL CPU by vCPU {cpu}; WAL {lim['WAL bandwidth']:,.0f}; "
        f"direct connections {lim['connections (direct)']:,.0f}."
    )
    hot = m["hot_row_cycles_per_s_per_client"]
    if hot:
        log(
            f"Hot row: one client's claims serialise on its credit row (one project's on its budget "
            f"row) every {i['claims_per_reservation']} claims: {hot[0]:,.0f}-{hot[1]:,.0f} cycles/s per "
            f"client at {a['headroom']:.0%} "
            f"(row interval {i['hot_row_interval_ms']} ms, + claim alone p99 {i['claim_exec_ms']} ms held)."
        )
    if m["task_table_autovacuum_every_hours"]:
        log(
            f"Autovacuum: with {a['retention_days']} days of tasks in annotation_task, default settings "
            "vacuum it "
            f"every {m['task_table_autovacuum_every_hours']} h at any rate (20 % of its rows dead first)."
        )


# --- main --------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    meta = provenance("bench/capacity.py", argv, make_target=MAKE_TARGET)
    started = datetime.now(UTC)
    root = Path(tempfile.mkdtemp(prefix="quorum-capacity-"))
    pg = StatsPostgres(root)
    try:
        log(f"capacity: private PostgreSQL on 127.0.0.1:{pg.port} in {root}")
        pg.init()
        os.environ["DATABASE_URL"] = pg.url
        bench_url, admin_url, env = cb.open_bench_database(args.db_name, fresh=True, make_target=MAKE_TARGET)
        with psycopg.connect(admin_url, autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn = psycopg.connect(bench_url, cursor_factory=psycopg.ClientCursor, autocommit=True)
        hw = cb.hardware(conn)
        hw["postgresql_settings"] = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                [KEY_SETTINGS],
            ).fetchall()
        )
        hw["data_directory_filesystem"] = _filesystem(root)
        log(
            f"  {hw['cpu_model']}, {hw['cpus']} CPUs, PostgreSQL {hw['postgresql']}, "
            f"load {hw['loadavg_at_start']}"
        )
        fx = cb.make_fixtures(max(args.concurrency), args.overlap, True)
        from django.db import connection as django_conn

        django_conn.close()
        load = cb.load_data(conn, fx, args.size, args.open, args.price, args.pay, args.overlap, args.gold)
        claim_alone = cb.claim_sql_profile(bench_url, fx, 100)  # rolled back
        log(f"  quorum_claim alone (one connection, rolled back): {claim_alone}")
        conn.close()
        bench = Bench(args, pg, bench_url, admin_url, env, fx, load["loaded_at"])
        runs = []
        for k in args.concurrency:
            for path in ("raw",) + (() if args.skip_http else ("http",)):
                log(f"-- {path}, {k} annotators, {args.cycles} cycles ...")
                runs.append(bench.window(path, k))
        hot = []
        for k in sorted({2, *args.concurrency}):
            for spread in (False, True):
                hot.append(hot_row_probe(pg, bench_url, admin_url, k, args.hot_updates, spread))
                h = hot[-1]
                log(
                    f"-- hot row: {k} connections on {h['rows']} row(s): {h['updates_per_s']:,} updates/s, "
                    f"{h['interval_ms']} ms apart, WAL fsync {h['wal_sync_ms_mean']} ms"
                )
        print_runs(runs)
        m = model(model_inputs(runs, hot, claim_alone), args)
        print_model(m)
    finally:
        pg.stop()
        if args.keep:
            log(f"capacity: cluster kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    cb.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = (
        args.json
        or cb.RESULTS_DIR / f"capacity-{started.strftime('%Y%m%dT%H%MZ')}-{(meta['commit'] or '')[:7]}.json"
    )
    doc = {
        "benchmark": "bench/capacity.py",
        **meta,
        "loadavg_at_end": os.getloadavg(),
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "hardware": hw,
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "load": {**load, "loaded_at": load["loaded_at"].isoformat()},
        "runs": runs,
        "hot_row": hot,
        "claim_alone": claim_alone,
        "model": m,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    log(f"\ncapacity: results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


def _filesystem(path: Path) -> str:
    best = ("?", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        dev, mnt, fs = line.split()[:3]
        if str(path).startswith(mnt) and len(mnt) >= len(best[1]):
            best = (f"{fs} on {dev}", mnt)
    return best[0]


def print_runs(runs: list[dict]) -> None:
    log(
        "\n== Per cycle (cycle = claim + submit; CPU in ms, WAL in bytes; wall rates depend on the "
        "machine's load; others = cores busy with other work meanwhile) =="
    )
    head = (f"{'path':<5} {'K':>3} {'cycles':>6} {'cyc/s':>6} {'pg CPU':>7} {'backends':>8} {'web':>6} "
            f"{'exec':>6} {'trips':>5} {'work':>5} {'commits':>7} {'WAL B':>7} {'recs':>5} {'FPI':>5} "
            f"{'hit':>6} {'dirtied':>7} {'grown B':>8} {'others':>6}")  # fmt: skip
    log(head)
    log("-" * len(head))
    for r in runs:
        c, cpu = r["per_cycle"], r["measure"]["cpu"]
        log(
            f"{r['path']:<5} {r['concurrency']:>3} {r['cycles']:>6} {cb.fmt(r['cycles_per_s']):>6} "
            f"{c['pg_cluster_cpu_ms']:>7.3f} {cb.fmt(cpu['pg_ms_per_cycle'], '.3f'):>8} "
            f"{cb.fmt(cpu['web_ms_per_cycle'], '.2f'):>6} {c['exec_ms']:>6.3f} {c['round_trips']:>5.2f} "
            f"{c['work_statements']:>5.2f} {c['xact_commit']:>7.2f} {c['wal_bytes']:>7.0f} "
            f"{c['wal_records']:>5.1f} {c['wal_fpi']:>5.2f} {c['buffers']['hit']:>6.1f} "
            f"{c['buffers']['dirtied']:>7.2f} {c['table_bytes_grown']:>8.0f} "
            f"{cb.fmt(cpu['other_cores'], '.2f'):>6}"
        )
    for r in runs:
        log(
            f"\n{r['path']} K={r['concurrency']}: statements per cycle by kind "
            f"{r['per_cycle']['statements_by_class']}"
        )
        for s in r["per_cycle"]["top_statements"][:8]:
            log(
                f"   {'top ' if s['toplevel'] else 'in  '}{s['calls']:>6.3f}/cycle "
                f"{cb.fmt(s['mean_ms'], '.3f'):>7} ms "
                f"{s['wal_bytes']:>7.0f} B WAL  {s['query'][:90]}"
            )
        t = r["per_cycle"]["tables"]
        log(
            "   rows per cycle (ins/upd/del, dead made): "
            + "; ".join(
                f"{n.split('_', 1)[1]} {v['inserted']:g}/{v['updated']:g}/{v['deleted']:g}, "
                f"{v['dead_tuples_made']:g}"
                for n, v in t.items()
                if v["inserted"] or v["updated"] or v["deleted"]
            )
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
