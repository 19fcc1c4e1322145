"""Claim-plus-submit throughput and latency: the HTTP API against the raw PostgreSQL rate.

Run it through the launcher, which exports ``DATABASE_URL`` for the local server::

    make bench                                        # sizes 10,000 and 1,000,000; 8 and 32 annotators
    make bench BENCH_ARGS='--quick'                   # smoke run, about a minute
    make bench BENCH_ARGS='--serving'                 # also serving order: started_first vs breadth_first

What it does (README.md beside this file says how to read the output):

1. Uses its own database (``quorum_bench_<run name>`` on the server of ``DATABASE_URL``; ``--fresh`` drops
   and recreates it), migrated with ``manage.py migrate``. Never the dev or the test database.
2. Per size N: one client, one categorization project (overlap 3, priced 10 / paid 3 per answer,
   the quality rules on: gold at 10 % of claims from 200 gold tasks, the gold rule and dynamic
   overlap armed; ``--no-quality``, ``--price 0 --pay 0`` turn them off), ``max(concurrency)``
   active annotators, N tasks of which ``--open`` (default 10,000) are pending and the rest
   completed, each with a submitted assignment and an accepted submission spread over the
   annotators: at 1,000,000 tasks the finished tasks and every annotator's history are large, and
   only the history differs between sizes. Built with ``INSERT … SELECT generate_series``.
3. Prints the plans of the statements inside one ``quorum_claim`` (``auto_explain``, rolled back),
   the server time and buffers of the claim alone, and the SQL one API claim and one API submit
   run (``CaptureQueriesContext``, in-process).
4. Per concurrency K: the raw loop (K threads, one psycopg connection each, autocommit and
   client-side binding as Django runs; each cycle authenticates as the app does — key hash, a
   per-process cache, the token read on a miss — then calls ``quorum_claim`` and, in a
   transaction with the answer's validation, ``quorum_submit``: the same statements the app runs),
   then the HTTP path (the Procfile's granian on 127.0.0.1, K threads each with its own keep-alive
   ``http.client`` connection, ``LeanHTTP``: ``POST /api/v1/work/next`` then ``POST …/submit``). Both run
   ``--warmup`` + ``--duration`` seconds on the same backlog (reset between), and stop early only
   if it runs out ("drained").
5. Prints a table (cycles/s, p50/p99 of cycle, claim and submit, HTTP/raw ratio, CPU split),
   the flatness of claim latency across sizes, and writes ``bench/results/claim-<time>.json``
   with the command and the commit.

It only talks to 127.0.0.1 (or a local unix socket) and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from bench.provenance import bench_db_name  # noqa: E402
from config.launcher import free_port  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
CATEGORIES = ["cat", "dog", "bird", "other"]
ANSWER = {"category": "dog"}
CLIENT_SLUG = "bench-claim"
PROJECT_NAME = "bench-claim"
ANNOTATOR_EMAIL = "bench-annotator-{:03d}@bench.invalid"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def git_commit() -> str:
    """The commit the bench ran at (with ``+dirty`` when the work tree had changes)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def _auth_cache_seconds() -> float:
    from django.conf import settings

    return float(settings.QUORUM_AUTH_CACHE_SECONDS)


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --- arguments ------------------------------------------------------------------------------------


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--sizes",
        type=int_list,
        default=None,
        help="total tasks per run, comma separated (default 10000,1000000)",
    )
    p.add_argument(
        "--open",
        type=int,
        default=None,
        help="open (pending) tasks, the same at every size (default 10000, capped at the smallest size)",
    )
    p.add_argument("--concurrency", type=int_list, default=None, help="concurrent annotators (default 8,32)")
    p.add_argument("--duration", type=float, default=None, help="seconds measured per run (default 15)")
    p.add_argument(
        "--warmup", type=float, default=None, help="seconds of unrecorded cycles before each run (default 2)"
    )
    p.add_argument(
        "--workers",
        type=int_list,
        default=[2],
        help="web server worker processes; a list runs the HTTP path once per value (default 2, the "
        "Procfile's)",
    )
    p.add_argument(
        "--price",
        type=int,
        default=10,
        help="task price in minor units: the budget reservation at the first claim and the charge at "
        "completion; 0 turns both off (default 10)",
    )
    p.add_argument(
        "--pay",
        type=int,
        default=3,
        help="annotator pay per answer: the payable posting at every submit; 0 turns it off (default 3)",
    )
    p.add_argument(
        "--overlap",
        type=int,
        default=3,
        help="answers per task: every third submit completes a task (default 3)",
    )
    p.add_argument(
        "--no-quality",
        dest="quality",
        action="store_false",
        help="turn the quality rules off (gold, the gold rule, dynamic overlap)",
    )
    p.add_argument(
        "--gold",
        type=int,
        default=200,
        help="gold tasks in the project, served at a ratio of 0.1 (default 200; none with --no-quality)",
    )
    p.add_argument(
        "--worker-class",
        default="gthread",
        help="gunicorn worker class with --server gunicorn: sync or gthread (default gthread)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per worker process: granian's blocking threads, gunicorn gthread's threads "
        "(default 4, the Procfile's)",
    )
    p.add_argument(
        "--server",
        choices=("granian", "gunicorn"),
        default="granian",
        help="web server for the HTTP path: granian (the Procfile's) or gunicorn (the comparison; "
        "requirements-dev.txt)",
    )
    p.add_argument(
        "--serving",
        action="store_true",
        help="also measure serving order: time to the first completed task and completion latency, "
        "started_first vs breadth_first, on a fresh batch",
    )
    p.add_argument(
        "--serving-tasks", type=int, default=5000, help="tasks of the serving-order batch (default 5000)"
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: sizes 2000,20000, open 2000, concurrency 8, 4 s"
    )
    p.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    p.add_argument(
        "--db-name",
        default=bench_db_name("quorum_bench"),
        help="bench database name (default quorum_bench_<run name>)",
    )
    p.add_argument(
        "--floor",
        action="store_true",
        help="also measure the HTTP floor: cycles of two GET /healthz (one SELECT 1 each, no DRF, no auth)",
    )
    p.add_argument("--skip-http", action="store_true", help="raw PostgreSQL loop only")
    p.add_argument("--skip-raw", action="store_true", help="HTTP path only")
    p.add_argument(
        "--json", type=Path, default=None, help="result file (default bench/results/claim-<time>.json)"
    )
    a = p.parse_args(argv)
    quick = a.quick
    a.sizes = a.sizes or ([2000, 20000] if quick else [10000, 1000000])
    a.concurrency = a.concurrency or ([8] if quick else [8, 32])
    a.duration = a.duration if a.duration is not None else (4.0 if quick else 15.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if quick else 2.0)
    a.open = min(a.open or (2000 if quick else 10000), min(a.sizes))
    if not a.quality:
        a.gold = 0
    a.sizes = sorted(set(a.sizes))
    if a.open < max(a.concurrency) * 4:
        p.error("--open must be at least 4 x the largest concurrency")
    return a


# --- where we run -----------------------------------------------------------------------------------


def db_urls(base: str, name: str) -> tuple[str, str]:
    """(bench URL, admin URL on database ``postgres``) on the server of ``base``; local only."""
    parts = urlsplit(base)
    host = unquote(parts.hostname or "") if parts.hostname else ""
    if host not in {"127.0.0.1", "localhost", "::1"} and not host.startswith("/"):
        sys.exit(
            f"bench: refusing to run against a non-local database host {host!r} "
            "(127.0.0.1 or a unix socket only)"
        )
    bench = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    return bench, admin


def _version_of(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def hardware(conn: psycopg.Connection) -> dict:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    pg_settings = dict(
        conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            [
                [
                    "shared_buffers",
                    "synchronous_commit",
                    "fsync",
                    "max_connections",
                    "work_mem",
                    "max_wal_size",
                    "wal_level",
                ]
            ],
        ).fetchall()
    )
    import django
    import granian

    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "ram_gb": mem_gb,
        "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "postgresql": conn.execute("SHOW server_version").fetchone()[0],
        "postgresql_settings": pg_settings,
        "python": platform.python_version(),
        "django": django.get_version(),
        "granian": granian.__version__,
        "gunicorn": _version_of("gunicorn"),
        "psycopg": psycopg.__version__,
        "requests": requests.__version__,
    }


# --- database, fixtures, data ----------------------------------------------------------------------


def ensure_database(admin_url: str, name: str, fresh: bool) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            log(f"bench: dropping database {name} (--fresh)")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            log(f"bench: creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def migrate(env: dict) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(f"bench: migrate failed:\n{proc.stdout}\n{proc.stderr}")
    log(f"bench: migrated ({time.perf_counter() - t0:.1f} s)")


@dataclass
class Fixtures:
    client_id: uuid.UUID
    project_id: uuid.UUID
    annotator_ids: list[uuid.UUID]
    user_ids: list[uuid.UUID]
    tokens: list[str]


def open_bench_database(
    db_name: str, *, fresh: bool, make_target: str, extra_env: dict | None = None
) -> tuple[str, str, dict]:
    """Every bench's set-up: its own database next to ``DATABASE_URL`` (created, or dropped and
    created with ``fresh``), migrated, and Django set up on it in this process. Returns the bench
    database URL, the maintenance database URL and the environment children should run with."""
    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        sys.exit(
            f"bench: DATABASE_URL is not set; run it as `make {make_target}` "
            "(python -m config.devservices test -- …)"
        )
    bench_url, admin_url = db_urls(base_url, db_name)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        # the rate limiter runs (one Redis INCR a request) but never refuses
        "QUORUM_API_RATE": "10000000/min",
        **(extra_env or {}),
    }
    os.environ.update(
        {
            k: env[k]
            for k in (
                "DATABASE_URL",
                "DJANGO_ENV",
                "DJANGO_SETTINGS_MODULE",
                "DJANGO_DEBUG",
                "LOG_LEVEL",
                *(extra_env or {}),
            )
        }
    )
    ensure_database(admin_url, db_name, fresh)
    migrate(env)
    import django

    django.setup()
    return bench_url, admin_url, env


def quality_settings(overlap: int, quality: bool) -> dict:
    """The project's quality rules: gold served at 10 % of each annotator's claims and scored, the
    gold rule armed (accuracy below 0.5 after 5 gold answers removes an annotator; every bench
    answer is right, so nobody is removed), dynamic overlap armed (confidence below 0.5 adds an
    answer; the bench's answers agree, so it never fires), agreement and confusion counted on
    every completion. ``quality`` False: all off."""
    return {
        "overlap": overlap,
        "max_overlap": overlap + (1 if quality else 0),
        "gold_ratio": 0.1 if quality else 0.0,
        "gold_min_answers": 5,
        "gold_accuracy_threshold": 0.5 if quality else 0.0,
        "confidence_threshold": 0.5 if quality else 0.0,
        "min_answer_ms": 0,
        "review_enabled": False,
        "consensus_method": "auto",
    }


def make_fixtures(n_annotators: int, overlap: int = 1, quality: bool = False) -> Fixtures:
    """Client, project and annotators through the app's own services (a handful of rows)."""
    from annotation import services as work
    from annotation.models import Annotator, Project
    from clients import services as accounts
    from clients.models import Client, User

    client = Client.objects.filter(slug=CLIENT_SLUG).first() or accounts.client_create(
        name="Bench client", slug=CLIENT_SLUG
    )
    project = Project.objects.filter(client=client, name=PROJECT_NAME).first() or work.project_create(
        client=client,
        actor=None,
        name=PROJECT_NAME,
        task_type="categorization",
        params={"categories": CATEGORIES},
        instructions="Pick the animal.",
        overlap=1,
        price_per_task=0,  # the tasks carry the run's price and pay (load_data), not the rate card
        pay_per_answer=0,
    )
    # The settings of this run (tasks keep their own price, pay and overlap: see load_data).
    Project.objects.filter(pk=project.pk).update(**quality_settings(overlap, quality))
    annotators, tokens = [], []
    for i in range(n_annotators):
        email = ANNOTATOR_EMAIL.format(i)
        user = User.objects.filter(email=email).first() or accounts.user_create(email=email, password=None)
        annotator = Annotator.objects.filter(user=user).first() or work.annotator_create(
            user=user, active=True
        )
        annotators.append(annotator)
        tokens.append(accounts.access_token_create(user=user, name="bench").key)
    return Fixtures(
        client.id, project.id, [a.id for a in annotators], [a.user_id for a in annotators], tokens
    )


def _uuid_sql(ts: str, tag: str, g: str = "g") -> str:
    """A deterministic UUIDv7-shaped id: 48 bits of ``ts`` in ms, version 7, ``tag``, variant, ``g``."""
    return (
        f"(lpad(to_hex(floor(extract(epoch FROM {ts}) * 1000)::bigint), 12, '0') || '7{tag}' || '8' "
        f"|| lpad(to_hex({g}), 15, '0'))::uuid"
    )


META_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_meta "
    "(id int PRIMARY KEY, shape jsonb NOT NULL, loaded_at timestamptz NOT NULL)"
)
DATA_TABLES = [
    "annotation_taskaudit",
    "annotation_review",
    "annotation_confusioncount",
    "annotation_projectworker",
    "annotation_submission",
    "annotation_assignment",
    "annotation_scaleimport",
    "annotation_task",
    "clients_event",
]
# What a run with --price/--pay writes besides the work; the ledger refuses DELETE, not TRUNCATE.
BILLING_TABLES = [
    "billing_payout",
    "billing_ledgerentry",
    "billing_ledgertransaction",
    "billing_clientcredit",
    "billing_projectbudget",
]


def load_data(
    conn: psycopg.Connection,
    fx: Fixtures,
    size: int,
    n_open: int,
    price: int = 0,
    pay: int = 0,
    overlap: int = 1,
    gold: int = 0,
) -> dict:
    """Make the bench project hold ``size`` tasks, ``n_open`` of them pending; reuse when already so."""
    shape = {
        "size": size,
        "open": n_open,
        "project": str(fx.project_id),
        "annotators": [str(a) for a in fx.annotator_ids],
    }
    if price or pay:
        shape["price"], shape["pay"] = price, pay
    if overlap != 1 or gold:
        shape["overlap"], shape["gold"] = overlap, gold
    conn.execute(META_DDL)
    row = conn.execute("SELECT shape, loaded_at FROM bench_meta WHERE id = 1").fetchone()
    if row and row[0] == shape:
        log(f"bench: data for {size:,} tasks already loaded; resetting it")
        reset(conn, row[1])
        return {"reused": True, "loaded_at": row[1], "seconds": 0.0}

    history = size - n_open
    log(f"bench: loading {size:,} tasks ({history:,} completed with history, {n_open:,} open) ...")
    t0 = time.perf_counter()
    loaded_at = datetime.now(UTC).replace(microsecond=0)
    p = {
        "n": size,
        "h": history,
        "loaded": loaded_at,
        "client": fx.client_id,
        "project": fx.project_id,
        "price": price,
        "pay": pay,
        "annotators": fx.annotator_ids,
        "na": len(fx.annotator_ids),
        "categories": json.dumps(CATEGORIES),
        "overlap": overlap,
        "gold": gold,
    }
    with conn.transaction():
        conn.execute(f"TRUNCATE {', '.join(DATA_TABLES + BILLING_TABLES)}")
        conn.execute("UPDATE billing_account SET balance = 0 WHERE balance <> 0")
        # The rows are consistent by construction; skip the deferred per-row FK triggers (3 M
        # checks at commit) when we are allowed to. Superuser only; otherwise they just run.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
        series = (
            "SELECT g, %(loaded)s::timestamptz - interval '1 hour' - (%(n)s - g) * interval '1 second' AS ca "
            "FROM generate_series(1, %(n)s::bigint) g"
        )
        hseries = series.replace("generate_series(1, %(n)s::bigint)", "generate_series(1, %(h)s::bigint)")
        conn.execute(
            f"""
            INSERT INTO annotation_task (id, task_type, instruction, params, metadata, tags, unique_id,
                callback_url, priority, price, pay, spend_reserved, status, released, is_test, overlap,
                slots_taken, answers_received, claim_seq, response, confidence, is_gold, gold_answer,
                created_at, updated_at, completed_at, batch_id, client_id, project_id)
            SELECT {_uuid_sql("ca", "a01")}, 'categorization', '',
                   jsonb_build_object('attachment', 'https://example.com/img/' || g || '.jpg',
                                      'attachment_type', 'image', 'categories', %(categories)s::jsonb),
                   '{{}}', '[]', NULL, '', 0, %(price)s, %(pay)s, g <= %(h)s,
                   CASE WHEN g <= %(h)s THEN 'completed' ELSE 'pending' END, true, false,
                   CASE WHEN g <= %(h)s THEN 1 ELSE %(overlap)s END,
                   (g <= %(h)s)::int, (g <= %(h)s)::int, (g <= %(h)s)::int,
                   CASE WHEN g <= %(h)s THEN '{{"category": "dog"}}'::jsonb END,
                   CASE WHEN g <= %(h)s THEN 1.0 END, false, NULL, ca,
                   CASE WHEN g <= %(h)s THEN ca + interval '90 seconds' ELSE ca END,
                   CASE WHEN g <= %(h)s THEN ca + interval '90 seconds' END,
                   NULL, %(client)s, %(project)s
              FROM ({series}) s
            """,
            p,
        )
        if history:
            annotator = "(%(annotators)s::uuid[])[1 + (g - 1) %% %(na)s]"
            conn.execute(
                f"""
                INSERT INTO annotation_assignment (id, status, claim_version, leased_until, claimed_at,
                    finished_at, annotator_id, project_id, task_id)
                SELECT {_uuid_sql("ca + interval '60 seconds'", "a02")}, 'submitted', 1,
                       ca + interval '960 seconds', ca + interval '60 seconds', ca + interval '90 seconds',
                       {annotator}, %(project)s, {_uuid_sql("ca", "a01")}
                  FROM ({hseries}) s
                """,
                p,
            )
            conn.execute(
                f"""
                INSERT INTO annotation_submission (id, answer, status, duration_ms, created_at, annotator_id,
                    assignment_id, task_id)
                SELECT {_uuid_sql("ca + interval '90 seconds'", "a03")}, '{{"category": "dog"}}', 'accepted',
                       30000, ca + interval '90 seconds', {annotator},
                       {_uuid_sql("ca + interval '60 seconds'", "a02")}, {_uuid_sql("ca", "a01")}
                  FROM ({hseries}) s
                """,
                p,
            )
        if gold:
            # Gold tasks: served at the project's gold ratio to many annotators, never completed.
            conn.execute(
                f"""
                INSERT INTO annotation_task (id, task_type, instruction, params, metadata, tags, unique_id,
                    callback_url, priority, price, pay, spend_reserved, status, released, is_test, overlap,
                    slots_taken, answers_received, claim_seq, response, confidence, is_gold, gold_answer,
                    created_at, updated_at, completed_at, batch_id, client_id, project_id)
                SELECT {_uuid_sql("ca", "a04")}, 'categorization', '',
                       jsonb_build_object('attachment', 'https://example.com/gold/' || g || '.jpg',
                                          'attachment_type', 'image', 'categories', %(categories)s::jsonb),
                       '{{}}', '[]', NULL, '', 0, 0, %(pay)s, false, 'pending', true, false, 10000, 0, 0, 0,
                       NULL, NULL, true, '{{"category": "dog"}}', ca, ca, NULL, NULL, %(client)s, %(project)s
                  FROM (SELECT g, %(loaded)s::timestamptz - interval '2 hours' + g * interval '1 second' AS ca
                          FROM generate_series(1, %(gold)s::bigint) g) s
                """,
                p,
            )
        conn.execute(
            "INSERT INTO bench_meta (id, shape, loaded_at) VALUES (1, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET shape = EXCLUDED.shape, loaded_at = EXCLUDED.loaded_at",
            [Jsonb(shape), loaded_at],
        )
    t_insert = time.perf_counter() - t0
    vacuum(conn)
    with contextlib.suppress(psycopg.Error):  # so the load's WAL is not flushed during a measurement
        conn.execute("CHECKPOINT")
    seconds = time.perf_counter() - t0
    log(
        f"bench: loaded in {seconds:.1f} s (insert {t_insert:.1f} s, "
        f"vacuum analyze + checkpoint {seconds - t_insert:.1f} s)"
    )
    return {
        "reused": False,
        "loaded_at": loaded_at,
        "seconds": round(seconds, 1),
        "insert_seconds": round(t_insert, 1),
    }


def vacuum(conn: psycopg.Connection) -> None:
    """``conn`` is in autocommit mode (VACUUM cannot run in a transaction block)."""
    conn.execute(f"VACUUM (ANALYZE) {', '.join(DATA_TABLES)}")


def reset(conn: psycopg.Connection, loaded_at: datetime) -> float:
    """Undo every cycle run since the load: its rows go, its tasks are pending again. Then VACUUM."""
    t0 = time.perf_counter()
    with conn.transaction():
        m = {"mark": loaded_at}
        conn.execute("DELETE FROM annotation_submission WHERE created_at >= %(mark)s", m)
        conn.execute(
            """
            UPDATE annotation_task t
               SET status = 'pending', slots_taken = 0, answers_received = 0, claim_seq = 0, response = NULL,
                   confidence = NULL, completed_at = NULL, updated_at = t.created_at, spend_reserved = false,
                   overlap = CASE WHEN t.is_gold THEN 10000 ELSE p.overlap END
              FROM annotation_project p
             WHERE p.id = t.project_id
               AND t.id IN (SELECT task_id FROM annotation_assignment WHERE claimed_at >= %(mark)s)
            """,
            m,
        )
        conn.execute("DELETE FROM annotation_assignment WHERE claimed_at >= %(mark)s", m)
        conn.execute("DELETE FROM clients_event WHERE created_at >= %(mark)s", m)
        conn.execute("DELETE FROM annotation_projectworker")
        conn.execute("DELETE FROM annotation_confusioncount")
        conn.execute("DELETE FROM clients_webhookdelivery")
        conn.execute(f"TRUNCATE {', '.join(BILLING_TABLES)}")
        conn.execute("UPDATE billing_account SET balance = 0 WHERE balance <> 0")
    vacuum(conn)
    return time.perf_counter() - t0


def table_stats(conn: psycopg.Connection, fx: Fixtures) -> dict:
    q = conn.execute(
        """
        SELECT (SELECT count(*) FROM annotation_task),
               (SELECT count(*) FROM annotation_task WHERE status = 'pending'),
               (SELECT count(*) FROM annotation_assignment),
               (SELECT count(*) FROM annotation_assignment WHERE annotator_id = %s),
               pg_total_relation_size('annotation_task'), pg_total_relation_size('annotation_assignment'),
               pg_relation_size('task_open_queue_idx')
        """,
        [fx.annotator_ids[0]],
    ).fetchone()
    keys = [
        "tasks",
        "open_tasks",
        "assignments",
        "history_per_annotator",
        "task_table_bytes",
        "assignment_table_bytes",
        "open_queue_index_bytes",
    ]
    return dict(zip(keys, q, strict=True))


# --- the raw loop ---------------------------------------------------------------------------------

RAW_TOKEN = """
SELECT t.key_hash, t.revoked_at, u.is_active, a.id
  FROM clients_accesstoken t JOIN clients_user u ON u.id = t.user_id
  JOIN annotation_annotator a ON a.user_id = u.id
 WHERE t.prefix = %s
"""


class RawAuth:
    """What the app's authentication does per request (``clients.auth``): hash the presented key,
    look it up in a per-process map kept ``QUORUM_AUTH_CACHE_SECONDS``, and on a miss read the token,
    its user and annotator in one statement and compare the hash. The raw loop pays the same."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cache: dict[str, tuple[float, object]] = {}
        self.lock = threading.Lock()

    def annotator(self, cur, key: str):
        from clients import secrets as keys

        digest = keys.hash_key(key)
        with self.lock:
            hit = self.cache.get(digest)
        if hit is not None and time.monotonic() < hit[0]:
            return hit[1]
        _, prefix = keys.parse_key(key)
        row = cur.execute(RAW_TOKEN, [prefix]).fetchone()
        if row is None or not keys.matches(key, row[0]) or row[1] is not None or not row[2]:
            raise RuntimeError("raw loop: token refused")
        with self.lock:
            self.cache[digest] = (time.monotonic() + self.seconds, row[3])
        return row[3]


def raw_cycle(conn: psycopg.Connection, ctx: dict) -> tuple[float, float] | None:
    """One claim and one submit, each authenticated, each one statement of the app's own functions:
    the claim alone (its own transaction, as the app runs it), the submit in a transaction with the
    answer's validation before COMMIT (``annotation.lifecycle.submit``). Returns their latencies,
    None when nothing is claimable."""
    from annotation import tasktypes
    from annotation.lifecycle.leases import CLAIM_ATTEMPTS, CLAIM_CALL_SQL
    from annotation.lifecycle.submit import SUBMIT_CALL_SQL

    t0 = time.perf_counter()
    with conn.cursor() as cur:
        annotator = ctx["auth"].annotator(cur, ctx["token"])
        row = None
        for _ in range(CLAIM_ATTEMPTS):  # as leases.claim: again when its task wait timed out
            try:
                row = cur.execute(
                    CLAIM_CALL_SQL,
                    [annotator, None, True, datetime.now(UTC), 3, ctx["actor"]],  # as the HTTP body {}
                ).fetchone()
                break
            except psycopg.errors.LockNotAvailable:
                continue
    if row is None or row[0] == "none":
        return None
    if row[0] not in ("claimed", "resumed"):
        raise RuntimeError(f"raw claim: {row[0]} {row[1]}")
    assignment_id, claim_version = row[2], row[4]
    t1 = time.perf_counter()
    with conn.cursor() as cur:
        annotator = ctx["auth"].annotator(cur, ctx["token"])
        with conn.transaction():
            got = cur.execute(
                SUBMIT_CALL_SQL,
                [assignment_id, annotator, claim_version, Jsonb(ANSWER), datetime.now(UTC), ctx["actor"]],
            ).fetchone()
            if got[0] != "ok":
                raise RuntimeError(f"raw submit: {got[0]} {got[1]}")
            tasktypes.check_answer(got[4], got[5], ANSWER)
    return t1 - t0, time.perf_counter() - t1


# --- measurement machinery --------------------------------------------------------------------------


@dataclass
class Run:
    """Shared state of one measurement: the clock, the cap on cycles, the stop flag."""

    warmup: float
    duration: float
    cap: int
    t_start: float = math.inf  # set by begin(), once every worker is ready
    t_end: float = math.inf
    stop_at: float | None = None
    started: int = 0
    drained: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    sampled: threading.Event = field(
        default_factory=threading.Event
    )  # workers keep connections open until set

    def begin(self) -> None:
        now = time.perf_counter()
        self.t_start = now + self.warmup
        self.t_end = self.t_start + self.duration

    def take(self) -> bool:
        now = time.perf_counter()
        with self.lock:
            if self.stop_at is not None:
                return False
            if now >= self.t_end or self.started >= self.cap:
                self.stop_at = now
                return False
            self.started += 1
            return True

    def halt(self, drained: bool = False) -> None:
        with self.lock:
            self.drained = self.drained or drained
            if self.stop_at is None:
                self.stop_at = time.perf_counter()


@dataclass
class Recorder:
    cycles: list = field(default_factory=list)  # (start, end, claim_s, submit_s)
    errors: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)

    def error(self, what: str, detail: str) -> None:
        key = f"{what}: {detail}"
        self.errors[key] = self.errors.get(key, 0) + 1


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def summary_ms(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p99": None, "mean": None, "max": None}
    return {
        "p50": round(pct(values, 0.50) * 1000, 2),
        "p99": round(pct(values, 0.99) * 1000, 2),
        "mean": round(sum(values) / len(values) * 1000, 2),
        "max": round(max(values) * 1000, 2),
    }


def proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    vals = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class CpuProbe:
    """CPU seconds spent by: this process (load generator), the web server's processes, PostgreSQL backends
    of the bench database, and the whole machine (the rest is other work on the box)."""

    def __init__(self, admin_url: str, db_name: str, web_pid: int | None):
        self.admin_url, self.db_name, self.web_pid = admin_url, db_name, web_pid

    def _pids(self) -> tuple[list[int], list[int]]:
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            pg = [
                r[0]
                for r in c.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                    [self.db_name],
                ).fetchall()
            ]
        web = children(self.web_pid) + [self.web_pid] if self.web_pid else []
        return pg, web

    def sample(self) -> dict:
        pg, web = self._pids()
        ru = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = machine_cpu()
        return {
            "t": time.perf_counter(),
            "client": ru.ru_utime + ru.ru_stime,
            "web": {p: proc_cpu_seconds(p) for p in web},
            "pg": {p: proc_cpu_seconds(p) for p in pg},
            "busy": busy,
            "total": total,
        }

    @staticmethod
    def delta(a: dict, b: dict, cycles: int) -> dict:
        wall = b["t"] - a["t"]

        def group(key):
            return sum(max(0.0, b[key][p] - a[key].get(p, 0.0)) for p in b[key] if p in a[key])

        parts = {"client": b["client"] - a["client"], "web": group("web"), "pg": group("pg")}
        machine = b["busy"] - a["busy"]
        parts["other"] = max(0.0, machine - sum(parts.values()))
        out = {
            "wall_s": round(wall, 2),
            "machine_busy_pct": round(100 * machine / (b["total"] - a["total"]) * 1, 1)
            if b["total"] > a["total"]
            else None,
        }
        for k, v in parts.items():
            out[f"{k}_cores"] = round(v / wall, 2) if wall else None
            out[f"{k}_ms_per_cycle"] = round(v / cycles * 1000, 2) if cycles else None
        return out


def measure(kind: str, workers_fn, k: int, run: Run, probe: CpuProbe) -> dict:
    recs = [Recorder() for _ in range(k)]
    barrier = threading.Barrier(k + 1)
    threads = [
        threading.Thread(target=workers_fn, args=(i, recs[i], run, barrier), daemon=True) for i in range(k)
    ]
    for t in threads:
        t.start()
    barrier.wait(timeout=120)  # every worker is connected; the clock starts now
    run.begin()
    time.sleep(max(0.0, run.t_start - time.perf_counter()))
    cpu0 = probe.sample()
    while run.stop_at is None and (left := run.t_end - time.perf_counter()) > 0:
        time.sleep(min(0.05, left))
    cpu1 = probe.sample()
    run.halt()
    run.sampled.set()
    deadline = time.perf_counter() + 60
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.perf_counter()))
    stop = min(run.stop_at or run.t_end, run.t_end)
    cycles = [c for r in recs for c in r.cycles if run.t_start <= c[0] < stop]
    errors: dict = {}
    for r in recs:
        for key, n in r.errors.items():
            errors[key] = errors.get(key, 0) + n
    elapsed = (max(c[1] for c in cycles) - run.t_start) if cycles else 0.0
    result = {
        "path": kind,
        "concurrency": k,
        "cycles": len(cycles),
        "elapsed_s": round(elapsed, 2),
        "cycles_per_s": round(len(cycles) / elapsed, 1) if elapsed else 0.0,
        "cycle_ms": summary_ms([c[1] - c[0] for c in cycles]),
        "claim_ms": summary_ms([c[2] for c in cycles]),
        "submit_ms": summary_ms([c[3] for c in cycles]),
        "stopped_early": bool(run.stop_at and run.stop_at < run.t_end - 0.5),
        "drained": run.drained,
        "errors": errors,
        "cpu": CpuProbe.delta(cpu0, cpu1, sum(1 for c in cycles if c[1] <= cpu1["t"])),
    }
    return result


def raw_workers(bench_url: str, fx: Fixtures):
    from django.conf import settings

    auth = RawAuth(float(settings.QUORUM_AUTH_CACHE_SECONDS))

    def work(i: int, rec: Recorder, run: Run, barrier: threading.Barrier) -> None:
        ctx = {
            "token": fx.tokens[i],
            "auth": auth,
            "actor": f"user:{fx.user_ids[i]}",
        }
        # Client-side binding and autocommit, as Django's PostgreSQL backend runs by default.
        conn = psycopg.connect(
            bench_url,
            cursor_factory=psycopg.ClientCursor,
            autocommit=True,
            options="-c statement_timeout=30000",
        )
        try:
            barrier.wait(timeout=120)
            while run.take():
                t0 = time.perf_counter()
                try:
                    got = raw_cycle(conn, ctx)
                except psycopg.Error as exc:
                    rec.error("raw", type(exc).__name__)
                    continue
                if got is None:
                    run.halt(drained=True)
                    break
                rec.cycles.append((t0, time.perf_counter(), got[0], got[1]))
            run.sampled.wait(timeout=120)
        finally:
            conn.close()

    return work


class LeanHTTP:
    """One keep-alive HTTP/1.1 connection from the standard library's ``http.client``: the load
    generator runs on the same two cores as the servers it measures, and ``requests`` spends about
    a millisecond of CPU per request of its own, which would be charged to the HTTP side. A worker
    that closes the connection (gunicorn's sync worker does after every response) is reconnected for
    the next request; a failed request is never retried (a POST may have been applied)."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.headers = headers or {}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            self.conn.request(method, path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


HTTP_ERRORS = (OSError, http.client.HTTPException)


def http_workers(base: str, fx: Fixtures, project=None):
    next_body = json.dumps({"project": str(project)} if project else {}).encode()

    def work(i: int, rec: Recorder, run: Run, barrier: threading.Barrier) -> None:
        client = LeanHTTP(
            base, {"Authorization": f"Bearer {fx.tokens[i]}", "Content-Type": "application/json"}
        )
        with contextlib.suppress(*HTTP_ERRORS):
            client.request("GET", "/healthz")  # open the connection before the clock
        barrier.wait(timeout=120)
        while run.take():
            t0 = time.perf_counter()
            try:
                status, data = client.request("POST", "/api/v1/work/next", next_body)
                t1 = time.perf_counter()
                if status != 200:
                    rec.error("next", f"{status} {data[:120]!r}")
                    continue
                assignment = json.loads(data)["assignment"]
                if assignment is None:
                    run.halt(drained=True)
                    break
                body = json.dumps({"claim_version": assignment["claim_version"], "answer": ANSWER}).encode()
                status, data = client.request(
                    "POST", f"/api/v1/work/assignments/{assignment['id']}/submit", body
                )
                t2 = time.perf_counter()
                if status != 200:
                    rec.error("submit", f"{status} {data[:120]!r}")
                    continue
            except HTTP_ERRORS as exc:
                rec.error("http", type(exc).__name__)
                continue
            rec.cycles.append((t0, t2, t1 - t0, t2 - t1))
        client.close()

    return work


def floor_workers(base: str):
    """The same web server and client, two trivial requests per cycle: what the stack costs by itself."""

    def work(i: int, rec: Recorder, run: Run, barrier: threading.Barrier) -> None:
        client = LeanHTTP(base)
        with contextlib.suppress(*HTTP_ERRORS):
            client.request("GET", "/healthz")
        barrier.wait(timeout=120)
        while run.take():
            t0 = time.perf_counter()
            try:
                s1, _ = client.request("GET", "/healthz")
                t1 = time.perf_counter()
                s2, _ = client.request("GET", "/healthz")
                t2 = time.perf_counter()
            except HTTP_ERRORS as exc:
                rec.error("http", type(exc).__name__)
                continue
            if s1 != 200 or s2 != 200:
                rec.error("healthz", str(s1))
                continue
            rec.cycles.append((t0, t2, t1 - t0, t2 - t1))
        client.close()

    return work


# --- the web server --------------------------------------------------------------------------------


@contextlib.contextmanager
def web_server(
    env: dict, workers: int, worker_class: str = "gthread", threads: int = 1, server: str = "granian"
):
    """The web server on a free port until the block ends: (base URL, master pid). granian as the
    Procfile runs it (``workers`` processes, ``threads`` blocking threads each); ``server="gunicorn"``
    the comparison (``worker_class`` sync or gthread)."""
    exe = Path(sys.executable).parent / server
    exe = str(exe) if exe.exists() else shutil.which(server)
    if not exe:
        sys.exit(f"bench: {server} not found (make install)")
    port = free_port()
    logf = tempfile.NamedTemporaryFile(prefix=f"bench-{server}-", suffix=".log", delete=False)  # noqa: SIM115
    cmd = [
        exe,
        "config.wsgi",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
    ]
    if server == "granian":
        # The Procfile's web line itself, through sh as honcho runs it, with its settings from the
        # environment: what an operator runs is what is measured.
        from bench.procs import read_procfile

        env = {
            **env,
            "PATH": f"{Path(exe).parent}{os.pathsep}{env.get('PATH', os.defpath)}",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "WEB_THREADS": str(threads),
            "WEB_LOG_LEVEL": "warning",
            "WEB_ACCESS_LOG": "off",
        }
        cmd = ["sh", "-c", "exec " + read_procfile(ROOT / "Procfile")["web"]]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                sys.exit(
                    f"bench: {server} exited ({proc.returncode}); log:\n{Path(logf.name).read_text()[-3000:]}"
                )
            with contextlib.suppress(requests.RequestException):
                if (
                    requests.get(f"{base}/healthz", timeout=2).status_code == 200
                    and len(children(proc.pid)) >= workers
                ):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server} did not become ready in 60 s")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        logf.close()
        text = Path(logf.name).read_text()
        Path(logf.name).unlink(missing_ok=True)
        if "Traceback" in text or "[ERROR]" in text:
            log(f"bench: {server} log had errors:\n" + text[-3000:])


# --- explain and query count -------------------------------------------------------------------------


def _claim_args(fx: Fixtures, i: int = 0) -> list:
    return [fx.annotator_ids[i % len(fx.annotator_ids)], None, False, datetime.now(UTC), 3, "user:bench"]


def explain_claim(bench_url: str, fx: Fixtures) -> str:
    """The plans of the statements inside one ``quorum_claim`` call (rolled back), as PostgreSQL's
    ``auto_explain`` reports nested statements: the ones that read ``annotation_task``."""
    from annotation.lifecycle.leases import CLAIM_CALL_SQL

    notices: list[str] = []
    with psycopg.connect(bench_url, cursor_factory=psycopg.ClientCursor) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        try:
            conn.execute("LOAD 'auto_explain'")
        except psycopg.Error as exc:
            return f"(auto_explain is not available to this role: {exc})"
        for setting in (
            "log_min_duration = 0",
            "log_analyze = on",
            "log_buffers = on",
            "log_nested_statements = on",
        ):
            conn.execute(f"SET auto_explain.{setting}")
        conn.execute("SET client_min_messages = log")
        conn.commit()
        for _ in range(2):  # the first one warms the cache; print the second
            notices.clear()
            conn.execute(CLAIM_CALL_SQL, _claim_args(fx)).fetchone()
            conn.rollback()  # the claim really runs: undo it
    plans = [n for n in notices if "annotation_task" in n and "Query Text" in n]
    return "\n\n".join(plans) or "\n\n".join(notices)


def claim_sql_profile(bench_url: str, fx: Fixtures, n: int = 200) -> dict:
    """``quorum_claim`` alone, one connection, no concurrency, each run rolled back: the server-side
    execution time and the buffers it touches (a count that machine noise does not change), and
    the client-side round trip of the plain statement."""
    from annotation.lifecycle.leases import CLAIM_CALL_SQL

    exec_ms, buffers, rtt = [], [], []
    with psycopg.connect(bench_url, cursor_factory=psycopg.ClientCursor) as conn:
        for i in range(n):
            args = _claim_args(fx, i)
            doc = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + CLAIM_CALL_SQL, args).fetchone()[
                0
            ][0]
            conn.rollback()
            exec_ms.append(doc["Execution Time"])
            buffers.append(doc["Plan"]["Shared Hit Blocks"] + doc["Plan"]["Shared Read Blocks"])
            t0 = time.perf_counter()
            conn.execute(CLAIM_CALL_SQL, args).fetchone()
            rtt.append(time.perf_counter() - t0)
            conn.rollback()
    return {
        "runs": n,
        "exec_ms_p50": round(pct(exec_ms, 0.5), 3),
        "exec_ms_p99": round(pct(exec_ms, 0.99), 3),
        "buffers_p50": pct(buffers, 0.5),
        "buffers_max": max(buffers),
        "roundtrip_ms_p50": round(pct(rtt, 0.5) * 1000, 3),
        "roundtrip_ms_p99": round(pct(rtt, 0.99) * 1000, 3),
    }


def count_queries(fx: Fixtures) -> dict:
    """One claim and one submit through the full Django stack in-process, with the SQL they run."""
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext

    client = TestClient(HTTP_AUTHORIZATION=f"Bearer {fx.tokens[0]}")

    def cycle():
        r1 = client.post("/api/v1/work/next", data={}, content_type="application/json")
        a = r1.json()["assignment"]
        r2 = client.post(
            f"/api/v1/work/assignments/{a['id']}/submit",
            data={"claim_version": a["claim_version"], "answer": ANSWER},
            content_type="application/json",
        )
        assert r2.status_code == 200, r2.content
        return a

    cycle()  # warm: the first request of a token also writes last_used_at
    out = {}
    with CaptureQueriesContext(connection) as q1:
        a = client.post("/api/v1/work/next", data={}, content_type="application/json").json()["assignment"]
    with CaptureQueriesContext(connection) as q2:
        client.post(
            f"/api/v1/work/assignments/{a['id']}/submit",
            data={"claim_version": a["claim_version"], "answer": ANSWER},
            content_type="application/json",
        )
    for name, q in (("next", q1), ("submit", q2)):
        out[name] = [" ".join(x["sql"].split())[:220] for x in q.captured_queries]
        out[f"{name}_select_buffers"] = select_buffers([x["sql"] for x in q.captured_queries])
    connection.close()
    return out


def select_buffers(statements: list[str]) -> list[int]:
    """Buffers each captured SELECT touches when run again (EXPLAIN ANALYZE, rolled back): a
    statement whose count grows with the table size would be a scan that grows with history."""
    from django.db import connection

    counts = []
    with connection.cursor() as cursor:
        for sql in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("BEGIN")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
            doc = cursor.fetchone()[0]
            doc = json.loads(doc) if isinstance(doc, str) else doc
            cursor.execute("ROLLBACK")
            counts.append(doc[0]["Plan"]["Shared Hit Blocks"] + doc[0]["Plan"]["Shared Read Blocks"])
    return counts


# --- report ----------------------------------------------------------------------------------------


def fmt(v, spec=".1f") -> str:
    return "-" if v is None else format(v, spec)


def print_table(results: list[dict]) -> None:
    head = (
        f"{'tasks':>9} {'path':<10} {'K':>3} {'cyc/s':>7} {'cycle p50/p99 ms':>17} {'claim p50/p99':>15} "
        f"{'submit p50/p99':>15} {'http/raw':>8}  cpu ms/cycle client/web/pg/other  busy%  errors"
    )
    log(head)
    log("-" * len(head))
    for r in results:
        c = r["cpu"]
        path = r["path"] if r["path"] == "raw" else f"{r['path']} w{r['workers']}"
        log(
            f"{r['size']:>9,} {path:<10} {r['concurrency']:>3} {r['cycles_per_s']:>7.1f} "
            f"{fmt(r['cycle_ms']['p50']):>8}/{fmt(r['cycle_ms']['p99']):<8} "
            f"{fmt(r['claim_ms']['p50']):>7}/{fmt(r['claim_ms']['p99']):<7} "
            f"{fmt(r['submit_ms']['p50']):>7}/{fmt(r['submit_ms']['p99']):<7} "
            f"{fmt(r.get('http_over_raw'), '.2f'):>8}  "
            f"{fmt(c['client_ms_per_cycle'], '.2f')}/{fmt(c['web_ms_per_cycle'], '.2f')}/"
            f"{fmt(c['pg_ms_per_cycle'], '.2f')}/"
            f"{fmt(c['other_ms_per_cycle'], '.2f'):<6} {fmt(c['machine_busy_pct'], '.0f'):>5}  "
            f"{sum(r['errors'].values()) or ''}"
            f"{' (stopped early: backlog cap)' if r['stopped_early'] else ''}"
        )


def flatness(results: list[dict], sizes: list[int]) -> list[dict]:
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    rows = []
    for r in results:
        if r["size"] != small or r["path"] == "floor":
            continue
        twin = next(
            (
                x
                for x in results
                if x["size"] == large
                and x["path"] == r["path"]
                and x["concurrency"] == r["concurrency"]
                and x.get("workers") == r.get("workers")
            ),
            None,
        )
        if twin is None:
            continue
        row = {
            "path": r["path"],
            "workers": r.get("workers"),
            "concurrency": r["concurrency"],
            "small": small,
            "large": large,
        }
        for key in ("claim_ms", "cycle_ms"):
            for q in ("p50", "p99"):
                a, b = r[key][q], twin[key][q]
                row[f"{key}_{q}_small"], row[f"{key}_{q}_large"] = a, b
                row[f"{key}_{q}_ratio"] = round(b / a, 2) if a and b else None
        row["cycles_per_s_ratio"] = (
            round(twin["cycles_per_s"] / r["cycles_per_s"], 2) if r["cycles_per_s"] else None
        )
        rows.append(row)
    return rows


def print_claim_sql(per_size: dict) -> None:
    sizes = sorted(per_size)
    log(
        "\nquorum_claim alone (one connection, rolled back; "
        "server execution time and buffers touched per claim):"
    )
    log(f"{'tasks':>9} {'exec p50/p99 ms':>16} {'buffers p50/max':>16} {'round trip p50/p99 ms':>22}")
    for size in sizes:
        c = per_size[size].get("claim_sql")
        if c:
            log(
                f"{size:>9,} {c['exec_ms_p50']:>7.3f}/{c['exec_ms_p99']:<8.3f} "
                f"{c['buffers_p50']:>7}/{c['buffers_max']:<8} "
                f"{c['roundtrip_ms_p50']:>10.3f}/{c['roundtrip_ms_p99']:<8.3f}"
            )
    for size in sizes:
        q = per_size[size].get("queries") or {}
        if "next_select_buffers" in q:
            log(
                f"{size:>9,} buffers per SELECT of the API path: next {q['next_select_buffers']} (sum "
                f"{sum(q['next_select_buffers'])}), submit {q['submit_select_buffers']} "
                f"(sum {sum(q['submit_select_buffers'])})"
            )
    if len(sizes) >= 2 and all(per_size[s].get("claim_sql") for s in (sizes[0], sizes[-1])):
        a, b = per_size[sizes[0]]["claim_sql"], per_size[sizes[-1]]["claim_sql"]
        log(
            f"  ratio large/small: exec p50 {b['exec_ms_p50'] / a['exec_ms_p50']:.2f}, "
            f"buffers p50 {b['buffers_p50'] / a['buffers_p50']:.2f}"
        )


def print_flatness(rows: list[dict]) -> None:
    if not rows:
        return
    log(
        f"\nFlatness: claim latency at {rows[0]['large']:,} tasks vs {rows[0]['small']:,} tasks "
        "(ratio large/small; 1.0 = flat)"
    )
    head = (
        f"{'path':<10} {'K':>3} {'claim p50 ms small→large':>26} {'ratio':>6} "
        f"{'claim p99 ms small→large':>26} {'ratio':>6} {'cyc/s ratio':>11}"
    )
    log(head)
    log("-" * len(head))
    for r in rows:
        path = r["path"] if r["path"] == "raw" else f"http w{r['workers']}"
        log(
            f"{path:<10} {r['concurrency']:>3} "
            f"{fmt(r['claim_ms_p50_small']):>12} → {fmt(r['claim_ms_p50_large']):<11} "
            f"{fmt(r['claim_ms_p50_ratio'], '.2f'):>6} "
            f"{fmt(r['claim_ms_p99_small']):>12} → {fmt(r['claim_ms_p99_large']):<11} "
            f"{fmt(r['claim_ms_p99_ratio'], '.2f'):>6} {fmt(r['cycles_per_s_ratio'], '.2f'):>11}"
        )


# --- serving order ----------------------------------------------------------------------------------

SERVING_PROJECT = "bench-serving"


def serving_batch(
    conn: psycopg.Connection, fx: Fixtures, n: int, order: str, price: int, pay: int
) -> uuid.UUID:
    """A fresh batch of ``n`` pending tasks at overlap 3 in a project of its own, served in ``order``."""
    from annotation import services as work
    from annotation.models import Project

    project = Project.objects.filter(
        client_id=fx.client_id, name=SERVING_PROJECT
    ).first() or work.project_create(
        client=_client(fx),
        actor=None,
        name=SERVING_PROJECT,
        task_type="categorization",
        params={"categories": CATEGORIES},
        overlap=3,
        price_per_task=0,  # the tasks carry the run's price and pay (serving_batch)
        pay_per_answer=0,
    )
    Project.objects.filter(pk=project.pk).update(
        serving_order=order, priority=10, **{**quality_settings(3, False), "overlap": 3, "max_overlap": 3}
    )
    from django.db import connection as django_conn

    django_conn.close()
    p = {"project": project.pk, "client": fx.client_id, "n": n, "price": price, "pay": pay,
         "categories": json.dumps(CATEGORIES), "now": datetime.now(UTC)}  # fmt: skip
    with conn.transaction():
        for table in ("annotation_submission", "annotation_assignment"):
            conn.execute(
                f"DELETE FROM {table} WHERE task_id IN "
                "(SELECT id FROM annotation_task WHERE project_id = %(project)s)",
                p,
            )
        conn.execute("DELETE FROM annotation_task WHERE project_id = %(project)s", p)
        conn.execute(
            f"""
            INSERT INTO annotation_task (id, task_type, instruction, params, metadata, tags, unique_id,
                callback_url, priority, price, pay, spend_reserved, status, released, is_test, overlap,
                slots_taken, answers_received, claim_seq, response, confidence, is_gold, gold_answer,
                created_at, updated_at, completed_at, batch_id, client_id, project_id)
            SELECT {_uuid_sql("ca", "a05")}, 'categorization', '',
                   jsonb_build_object('attachment', 'https://example.com/s/' || g || '.jpg',
                                      'categories', %(categories)s::jsonb),
                   '{{}}', '[]', NULL, '', 0, %(price)s, %(pay)s, false, 'pending', true, false, 3, 0, 0, 0,
                   NULL, NULL,
                   false, NULL, ca, ca, NULL, NULL, %(client)s, %(project)s
              FROM (SELECT g, %(now)s::timestamptz - interval '1 hour' + g * interval '1 millisecond' AS ca
                      FROM generate_series(1, %(n)s::bigint) g) s
            """,
            p,
        )
    conn.execute("VACUUM (ANALYZE) annotation_task")
    return project.pk


def _client(fx: Fixtures):
    from clients.models import Client

    return Client.objects.get(pk=fx.client_id)


def serving_figures(conn: psycopg.Connection, project_id) -> dict:
    """From the rows the run left: answers, completed tasks, time from the batch's first claim to
    its first completed task, and per task the time from its first claim to its completion."""
    first_claim, answers = conn.execute(
        """SELECT min(a.claimed_at), count(*) FILTER (WHERE a.status = 'submitted')
             FROM annotation_assignment a WHERE a.project_id = %s""",
        [project_id],
    ).fetchone()
    rows = conn.execute(
        """SELECT extract(epoch FROM t.completed_at - min(a.claimed_at)),
                  extract(epoch FROM t.completed_at - %s::timestamptz)
             FROM annotation_task t JOIN annotation_assignment a ON a.task_id = t.id
            WHERE t.project_id = %s AND t.status = 'completed'
            GROUP BY t.id, t.completed_at""",
        [first_claim, project_id],
    ).fetchall()
    started = conn.execute(
        "SELECT count(*) FROM annotation_task "
        "WHERE project_id = %s AND status = 'pending' AND answers_received > 0",
        [project_id],
    ).fetchone()[0]
    latency = [float(r[0]) for r in rows]
    since_start = sorted(float(r[1]) for r in rows)
    return {
        "answers": answers,
        "completed_tasks": len(rows),
        "started_not_completed": started,
        "first_completed_after_s": round(since_start[0], 2) if since_start else None,
        "task_latency_s": {
            q: (round(pct(latency, v), 2) if latency else None)
            for q, v in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
        },  # fmt: skip
    }


def measure_serving(args, conn, fx: Fixtures, env: dict, admin_url: str) -> list[dict]:
    out = []
    k = min(args.concurrency)
    for order in ("started_first", "breadth_first"):
        project_id = serving_batch(conn, fx, args.serving_tasks, order, args.price, args.pay)
        with web_server(env, args.workers[0], args.worker_class, args.threads, args.server) as (base, pid):
            log(
                f"-- serving order {order}: {args.serving_tasks:,} tasks at overlap 3, {k} annotators, "
                f"{args.duration} s ..."
            )
            run = Run(0.0, args.duration, 10**9)
            res = measure(
                "http", http_workers(base, fx, project_id), k, run, CpuProbe(admin_url, args.db_name, pid)
            )
        figures = serving_figures(conn, project_id)
        out.append({"order": order, "tasks": args.serving_tasks, "concurrency": k,
                    "cycles_per_s": res["cycles_per_s"], "errors": res["errors"], **figures})  # fmt: skip
        log(f"   {figures['answers']:,} answers, {figures['completed_tasks']:,} tasks completed, first after "
            f"{figures['first_completed_after_s']} s, "
            f"task latency p50/p90/p99 {figures['task_latency_s']} s")  # fmt: skip
    return out


# --- main ------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    bench_url, admin_url, env = open_bench_database(args.db_name, fresh=args.fresh, make_target="bench")

    started = datetime.now(UTC)
    conn = psycopg.connect(bench_url, cursor_factory=psycopg.ClientCursor, autocommit=True)
    hw = hardware(conn)
    params = {
        "sizes": args.sizes,
        "open_tasks": args.open,
        "concurrency": args.concurrency,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "workers": args.workers,
        "database": args.db_name,
        "project_overlap": args.overlap,
        "price_per_task": args.price,
        "pay_per_answer": args.pay,
        "quality_rules": quality_settings(args.overlap, args.quality),
        "gold_tasks": args.gold,
        "server": args.server,
        "threads": args.threads,
        "worker_class": args.worker_class if args.server == "gunicorn" else None,
        "auth_cache_seconds": _auth_cache_seconds(),
        "http_body_next": "{} (resume defaults to true)",
        "http_client": "http.client, one keep-alive connection per annotator (LeanHTTP)",
        "quick": args.quick,
    }
    log("\n== Hardware ==")
    for k, v in hw.items():
        log(f"  {k}: {v}")
    log("== Parameters ==")
    for k, v in params.items():
        log(f"  {k}: {v}")

    fx = make_fixtures(max(args.concurrency), args.overlap, args.quality)
    from django.db import connection as django_conn

    django_conn.close()

    results: list[dict] = []
    per_size: dict = {}
    # Both paths drain the same backlog for the same duration: neither stops before the clock
    # unless the backlog runs out ("drained" in the results; make --open larger then).
    cap = args.open * args.overlap + args.gold * 10_000
    for size in args.sizes:
        log(f"\n== {size:,} tasks ==")
        load = load_data(conn, fx, size, args.open, args.price, args.pay, args.overlap, args.gold)
        loaded_at = load["loaded_at"]
        stats = table_stats(conn, fx)
        log("  " + ", ".join(f"{k}={v:,}" for k, v in stats.items()))
        plan = explain_claim(bench_url, fx)
        log(f"\nEXPLAIN (ANALYZE, BUFFERS) of one claim at {size:,} tasks (rolled back):\n{plan}\n")
        sql_profile = claim_sql_profile(bench_url, fx)
        log(
            f"quorum_claim alone, {sql_profile['runs']} runs rolled back: "
            + ", ".join(f"{k}={v}" for k, v in sql_profile.items() if k != "runs")
        )
        queries = count_queries(fx) if not args.skip_http else {}
        for name in ("next", "submit"):
            if name not in queries:
                continue
            qs = queries[name]
            log(
                f"SQL run by POST {'/api/v1/work/next' if name == 'next' else '…/submit'} "
                f"({len(qs)} statements; "
                f"buffers per SELECT re-run: {queries[name + '_select_buffers']}):"
            )
            for q in qs:
                log(f"    {q}")
        reset(conn, loaded_at)
        per_size[size] = {
            "load": {**load, "loaded_at": loaded_at.isoformat()},
            "tables": stats,
            "explain": plan,
            "claim_sql": sql_profile,
            "queries": queries,
        }
        for k in args.concurrency:
            raw = None
            if not args.skip_raw:
                log(f"-- raw psycopg loop, {k} connections ...")
                run = Run(args.warmup, args.duration, cap)
                raw = measure(
                    "raw", raw_workers(bench_url, fx), k, run, CpuProbe(admin_url, args.db_name, None)
                )
                raw.update(size=size, workers=None, claim_sql_after=claim_sql_profile(bench_url, fx, 20))
                results.append(raw)
                log(
                    f"   {raw['cycles_per_s']} cycles/s, cycle p50 {raw['cycle_ms']['p50']} ms "
                    f"p99 {raw['cycle_ms']['p99']} ms"
                    f"{'; errors ' + str(raw['errors']) if raw['errors'] else ''}; claim right after: "
                    f"{raw['claim_sql_after']['buffers_p50']} buffers, "
                    f"{raw['claim_sql_after']['exec_ms_p50']} ms"
                )
                reset(conn, loaded_at)
            if not args.skip_http:
                for w in args.workers:
                    with web_server(env, w, args.worker_class, args.threads, args.server) as (base, pid):
                        log(f"-- HTTP, {args.server} {w} workers, {k} annotators ...")
                        run = Run(args.warmup, args.duration, cap)
                        res = measure(
                            "http", http_workers(base, fx), k, run, CpuProbe(admin_url, args.db_name, pid)
                        )
                        res.update(size=size, workers=w, claim_sql_after=claim_sql_profile(bench_url, fx, 20))
                        floor = None
                        if args.floor:
                            reset(conn, loaded_at)
                            log(
                                f"-- HTTP floor (2 x GET /healthz per cycle), {args.server} {w} workers, "
                                f"{k} clients ..."
                            )
                            floor = measure(
                                "floor",
                                floor_workers(base),
                                k,
                                Run(args.warmup, args.duration, 10**9),
                                CpuProbe(admin_url, args.db_name, pid),
                            )
                    if raw and raw["cycles_per_s"]:
                        res["http_over_raw"] = round(res["cycles_per_s"] / raw["cycles_per_s"], 2)
                    results.append(res)
                    log(
                        f"   {res['cycles_per_s']} cycles/s, cycle p50 {res['cycle_ms']['p50']} ms "
                        f"p99 {res['cycle_ms']['p99']} ms"
                        f", http/raw {res.get('http_over_raw')}"
                        f"{'; errors ' + str(res['errors']) if res['errors'] else ''}"
                        f"; claim right after: {res['claim_sql_after']['buffers_p50']} buffers, "
                        f"{res['claim_sql_after']['exec_ms_p50']} ms"
                    )
                    if floor:
                        floor.update(size=size, workers=w)
                        if raw and raw["cycles_per_s"]:
                            floor["http_over_raw"] = round(floor["cycles_per_s"] / raw["cycles_per_s"], 2)
                        results.append(floor)
                        log(
                            f"   floor {floor['cycles_per_s']} cycles/s, "
                            f"cycle p50 {floor['cycle_ms']['p50']} ms, floor/raw "
                            f"{floor.get('http_over_raw')}"
                        )
                    reset(conn, loaded_at)
    serving = measure_serving(args, conn, fx, env, admin_url) if args.serving and not args.skip_http else []
    conn.close()

    flat = flatness(results, args.sizes)
    log("\n== Results (cycle = POST next + POST submit, or the raw claim + submit transactions) ==")
    print_table(results)
    print_claim_sql(per_size)
    print_flatness(flat)
    if serving:
        log("\nServing order (a fresh batch at overlap 3; task latency = its first claim to its completion):")
        for r in serving:
            lat = r["task_latency_s"]
            log(
                f"  {r['order']:<14} {r['answers']:>7,} answers  {r['completed_tasks']:>6,} completed  "
                f"{r['started_not_completed']:>6,} started, not done  "
                f"first completed after {fmt(r['first_completed_after_s'], '.2f')} s  "
                "latency p50/p90/p99 "
                f"{fmt(lat['p50'], '.2f')}/{fmt(lat['p90'], '.2f')}/{fmt(lat['p99'], '.2f')} s"
            )
    drained = [r for r in results if r.get("drained")]
    if drained:
        log(f"\nWARNING: {len(drained)} measurement(s) ran out of open work before the clock: raise --open")
    https = [r for r in results if r["path"] == "http" and r.get("http_over_raw") is not None]
    if https:
        worst = min(r["http_over_raw"] for r in https)
        log(f"\nGoal HTTP >= 0.5 x raw: worst ratio {worst:.2f} -> {'met' if worst >= 0.5 else 'NOT met'}")
    if flat:
        worst_flat = max((r["claim_ms_p50_ratio"] or 0) for r in flat)
        log(
            f"Goal flat claim latency: worst claim p50 ratio large/small {worst_flat:.2f} under load "
            "(noisy: see the "
            f"'other' CPU column)"
        )
    sizes_done = [s for s in args.sizes if per_size.get(s, {}).get("claim_sql")]
    if len(sizes_done) >= 2:
        a, b = per_size[sizes_done[0]]["claim_sql"], per_size[sizes_done[-1]]["claim_sql"]
        log(
            f"  noise-free: CLAIM_SQL buffers per claim {a['buffers_p50']} -> {b['buffers_p50']} "
            f"({b['buffers_p50'] / a['buffers_p50']:.2f}x), "
            f"server execution p50 {a['exec_ms_p50']} -> {b['exec_ms_p50']} ms"
        )

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = args.json or RESULTS_DIR / f"claim-{started.strftime('%Y%m%d-%H%M%S')}.json"
    doc = {
        "benchmark": "bench/claim.py",
        "command": "make bench BENCH_ARGS='" + " ".join(argv) + "'",
        "commit": git_commit(),
        "loadavg_at_end": os.getloadavg(),
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "argv": argv,
        "hardware": hw,
        "parameters": params,
        "sizes": {str(k): v for k, v in per_size.items()},
        "results": results,
        "flatness": flat,
        "serving_order": serving,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    tmp.replace(path)
    log(f"\nbench: results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
