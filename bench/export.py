"""Export time, CPU and peak memory at two project sizes: memory must not grow with the project.

Run it through the launcher, which exports ``DATABASE_URL`` and ``REDIS_URL`` for the local servers::

    make bench-export  # 10,000 and 1,000,000 tasks; coco, jsonl, jsonl with answers
    make bench-export BENCH_ARGS='--sizes 2000,20000 --formats coco,yolo'
    make bench-export BENCH_ARGS='--paths worker'  # only the in-process runs (no web server, no Celery)
    python -m config.devservices test -- .venv/bin/python bench/export.py --sizes 20000,200000

What it does (README.md beside this file says how to read the output):

1. Uses its own database (``quorum_bench_export_<run name>`` on the server of ``DATABASE_URL``; ``--fresh``
   drops it), migrated with ``manage.py migrate``. Never the dev or the test database.
2. Per size N: one ``imageannotation`` project holding N completed tasks, each with an image
   size, a fused response of three boxes and a polygon, and one accepted submission (8
   annotators), built with ``INSERT … SELECT generate_series``. Kept for the next run.
3. Per size and format: an export job row, then a fresh child process that runs exactly what the
   Celery worker runs (``annotation.services.export_run``: keyset chunks, the format writer, the
   file stored through the storage API under a temporary ``MEDIA_ROOT``). Twice: once plain, for
   the seconds and the peak RSS (``ru_maxrss`` of that process), once under ``tracemalloc``, for
   the peak of Python allocations (slower, so its time is not reported). A child that only imports
   the app gives the baseline RSS.
   The child also reports its CPU seconds and those of its PostgreSQL backend.
4. Path ``api`` (request to complete file): the Procfile's granian on 127.0.0.1 and a real Celery exports
   worker (``celery -A config worker -Q exports``, as the Procfile starts it, on a Redis key prefix
   of its own); the client sends ``POST /api/v1/projects/{id}/exports``, polls the job every 10 ms
   until it is ``ready`` (every 100 ms after the first 2 s), and downloads the file to the last byte.
   Timed from sending the POST to the last byte; CPU seconds of the client, the web processes, the
   worker processes and the bench database's PostgreSQL backends.
5. Prints the hardware and a table, and writes ``bench/results/export-<time>.json`` (commit, command,
   load average, every figure).

It only talks to 127.0.0.1 (or a local unix socket) and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402

from bench.claim import _uuid_sql, children, hardware, log, open_bench_database, web_server  # noqa: E402
from bench.provenance import bench_db_name, cpu_seconds_of, provenance  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
CLIENT_SLUG = "bench-export"
LABELS = ["car", "pedestrian", "cyclist", "road"]
PARAMS = {
    "geometries": {"box": {"objects_to_annotate": LABELS[:3]}, "polygon": {"objects_to_annotate": ["road"]}}
}
N_ANNOTATORS = 8
RESPONSE = {
    "annotations": [
        {"type": "box", "label": "car", "left": 12.5, "top": 40, "width": 220, "height": 96, "uuid": "b1"},
        {
            "type": "box",
            "label": "pedestrian",
            "left": 400,
            "top": 120,
            "width": 38,
            "height": 110,
            "uuid": "b2",
        },
        {"type": "box", "label": "cyclist", "left": 700, "top": 150, "width": 60, "height": 90, "uuid": "b3"},
        {
            "type": "polygon",
            "label": "road",
            "uuid": "p1",
            "vertices": [
                {"x": 0, "y": 600},
                {"x": 1280, "y": 600},
                {"x": 1280, "y": 720},
                {"x": 0, "y": 720},
            ],
        },
    ]
}
FORMATS = {  # name: (export format, options)
    "coco": ("coco", {}),
    "yolo": ("yolo", {}),
    "jsonl": ("jsonl", {}),
    "jsonl+answers": ("jsonl", {"include_answers": True}),
}


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes", type=int_list, default=[10000, 1000000], help="tasks per project (default 10000,1000000)"
    )
    p.add_argument(
        "--paths",
        default="worker,api",
        help="worker: in a fresh process as the worker runs it; api: request to file through the web server "
        "and a Celery exports worker (default worker,api)",
    )
    p.add_argument("--repeat", type=int, default=1, help="timed runs per size, format and path (default 1)")
    p.add_argument(
        "--formats", default="coco,jsonl,jsonl+answers", help=f"comma separated, of {', '.join(FORMATS)}"
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="tasks per keyset chunk (default: QUORUM_EXPORT_CHUNK_SIZE)",
    )
    p.add_argument("--db-name", default=bench_db_name("quorum_bench_export"))
    p.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs")
    p.add_argument(
        "--json", type=Path, default=None, help="result file (default bench/results/export-<time>.json)"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one export job in this process
    p.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.formats = [f.strip() for f in a.formats.split(",") if f.strip()]
    a.paths = [x.strip() for x in a.paths.split(",") if x.strip()]
    if not a.paths or set(a.paths) - {"worker", "api"}:
        p.error("--paths: worker, api or both")
    unknown = [f for f in a.formats if f not in FORMATS]
    if unknown:
        p.error(f"unknown format {unknown[0]!r}")
    a.sizes = sorted(set(a.sizes))
    return a


# --- child: one export in a fresh process ------------------------------------------------------------


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from annotation import services  # noqa: F401 - the app, imported as the worker has it

    if args.baseline:
        print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
        return
    import tracemalloc

    from django.db import connection

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    if args.trace:
        tracemalloc.start()
    t0, c0, pg0 = time.perf_counter(), time.process_time(), cpu_seconds_of(backend)
    job = services.export_run(export_id=args.child, chunk_size=args.chunk_size)
    seconds, cpu, pg_cpu = time.perf_counter() - t0, time.process_time() - c0, cpu_seconds_of(backend) - pg0
    peak = tracemalloc.get_traced_memory()[1] if args.trace else None
    print(json.dumps({
        "status": job.status, "error": job.error, "seconds": seconds, "traced_peak_bytes": peak,
        "cpu_s": cpu, "pg_cpu_s": pg_cpu,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "task_count": job.task_count,
        "file_size": job.file_size, "report": job.report,
    }))  # fmt: skip


def run_child(extra: list[str], env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *extra], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if proc.returncode:
        sys.exit(f"bench: child {extra} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- data ---------------------------------------------------------------------------------------------

META_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_export_meta "
    "(size int PRIMARY KEY, project uuid NOT NULL, loaded_at timestamptz NOT NULL)"
)


def fixtures() -> tuple:
    from annotation import services as work
    from annotation.models import Annotator
    from clients import services as accounts
    from clients.models import Client, User

    client = Client.objects.filter(slug=CLIENT_SLUG).first() or accounts.client_create(
        name="Bench export", slug=CLIENT_SLUG
    )
    annotators = []
    for i in range(N_ANNOTATORS):
        email = f"bench-export-{i:02d}@bench.invalid"
        user = User.objects.filter(email=email).first() or accounts.user_create(email=email)
        annotators.append(
            (Annotator.objects.filter(user=user).first() or work.annotator_create(user=user, active=True)).id
        )
    return client, annotators


def load(conn: psycopg.Connection, client, annotators: list, size: int, index: int) -> tuple:
    """The project for ``size`` tasks (created and filled once; reused when its rows are there)."""
    from annotation.models import Project

    conn.execute(META_DDL)
    row = conn.execute("SELECT project FROM bench_export_meta WHERE size = %s", [size]).fetchone()
    if row and Project.objects.filter(pk=row[0]).exists():
        log(f"bench: project with {size:,} tasks already loaded")
        return Project.objects.get(pk=row[0]), {"reused": True, "seconds": 0.0}
    name = f"bench-export-{size}"
    Project.objects.filter(client=client, name=name).delete()
    # Written directly: on a branch where imageannotation validates boxes only, the polygon geometry
    # would be refused by project_create; the exporters read whatever the row holds.
    project = Project.objects.create(client=client, name=name, task_type="imageannotation", params=PARAMS)
    log(f"bench: loading {size:,} tasks ...")
    t0 = time.perf_counter()
    tag = f"{index % 16:x}"
    p = {
        "n": size,
        "client": client.id,
        "project": project.id,
        "annotators": annotators,
        "na": len(annotators),
        "params": json.dumps(PARAMS),
        "response": json.dumps(RESPONSE),
        "prefix": f"n{size}-frame-",
        "loaded": datetime.now(UTC).replace(microsecond=0),
    }
    series = (
        "SELECT g, %(loaded)s::timestamptz - (%(n)s - g) * interval '1 millisecond' AS ca "
        "FROM generate_series(1, %(n)s::bigint) g"
    )
    task_id = _uuid_sql("ca", f"{tag}e1")
    annotator = "(%(annotators)s::uuid[])[1 + (g - 1) %% %(na)s]"
    with conn.transaction():
        try:
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")  # consistent by construction
        except psycopg.errors.InsufficientPrivilege:
            pass
        conn.execute(
            f"""
            INSERT INTO annotation_task (id, task_type, instruction, params, metadata, tags, unique_id,
                callback_url, priority, price, status, released, is_test, overlap, slots_taken,
                answers_received, claim_seq, response, confidence, is_gold, gold_answer, created_at,
                updated_at, completed_at, batch_id, client_id, project_id)
            SELECT {task_id}, 'imageannotation', '',
                   %(params)s::jsonb || jsonb_build_object('attachment',
                                                          'https://img.example.com/frames/' || g || '.jpg',
                                                          'attachment_width', 1280, 'attachment_height', 720),
                   jsonb_build_object('frame', g, 'camera', 'front'), '[]', %(prefix)s || g, '', 0, 0,
                   'completed', true, false, 1, 1, 1, 1, %(response)s::jsonb, 1.0, false, NULL,
                   ca, ca, ca, NULL, %(client)s, %(project)s
              FROM ({series}) s
            """,
            p,
        )
        conn.execute(
            f"""
            INSERT INTO annotation_assignment (id, status, claim_version, leased_until, claimed_at,
                finished_at, annotator_id, project_id, task_id)
            SELECT {_uuid_sql("ca", f"{tag}e2")}, 'submitted', 1, ca, ca, ca, {annotator},
                   %(project)s, {task_id}
              FROM ({series}) s
            """,
            p,
        )
        conn.execute(
            f"""
            INSERT INTO annotation_submission (id, answer, status, duration_ms, created_at, annotator_id,
                assignment_id, task_id)
            SELECT {_uuid_sql("ca", f"{tag}e3")}, %(response)s::jsonb, 'accepted', 30000, ca, {annotator},
                   {_uuid_sql("ca", f"{tag}e2")}, {task_id}
              FROM ({series}) s
            """,
            p,
        )
        conn.execute(
            "INSERT INTO bench_export_meta (size, project, loaded_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (size) DO UPDATE SET project = EXCLUDED.project, loaded_at = EXCLUDED.loaded_at",
            [size, project.id],
        )
    for table in ("annotation_task", "annotation_assignment", "annotation_submission"):
        conn.execute(f"VACUUM (ANALYZE) {table}")
    seconds = time.perf_counter() - t0
    log(f"bench: loaded in {seconds:.1f} s")
    return project, {"reused": False, "seconds": round(seconds, 1)}


def new_job(project, name: str):
    """An export job row, as ``export_create`` writes it but without the wake-up (the bench runs
    the job itself, in a child process)."""
    import secrets

    from annotation.models import ExportJob
    from annotation.services import check_export_request

    export_format, options = FORMATS[name]
    clean = check_export_request(project=project, format=export_format, options=options)
    return ExportJob.objects.create(
        client_id=project.client_id,
        project=project,
        format=export_format,
        options=clean,
        anon_salt=secrets.token_hex(32),
        created_by="bench",
    )


def mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1024 / 1024:.1f}"


# --- api: request to file through granian and a Celery exports worker -----------------------------------


@contextlib.contextmanager
def exports_worker(env: dict):
    """A Celery worker on the exports queue, as the Procfile starts it (one process doing the work)."""
    cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "exports",
           "-n", "bench-exports@%h", "--concurrency", "1", "--without-gossip", "--without-mingle",
           "--loglevel", "WARNING"]  # fmt: skip
    logf = tempfile.NamedTemporaryFile(prefix="bench-exports-worker-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        logf.close()
        text = Path(logf.name).read_text()
        Path(logf.name).unlink(missing_ok=True)
        if "Traceback" in text or "ERROR" in text:
            log("bench: exports worker log had errors:\n" + text[-3000:])


def process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


class ApiProbe:
    """CPU seconds of this process, the web and the worker process trees, and the bench database's
    PostgreSQL backends."""

    def __init__(self, admin_url: str, db_name: str, web_pid: int, worker_pid: int):
        self.admin_url, self.db_name, self.web_pid, self.worker_pid = admin_url, db_name, web_pid, worker_pid

    def sample(self) -> dict:
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            pg = [r[0] for r in c.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                [self.db_name],
            ).fetchall()]  # fmt: skip
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "client": ru.ru_utime + ru.ru_stime,
            "web": {p: cpu_seconds_of(p) for p in process_tree(self.web_pid)},
            "worker": {p: cpu_seconds_of(p) for p in process_tree(self.worker_pid)},
            "pg": {p: cpu_seconds_of(p) for p in pg},
        }

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        def group(key: str) -> float:
            return sum(max(0.0, b[key][p] - a[key].get(p, 0.0)) for p in b[key])

        return {
            "client_cpu_s": round(b["client"] - a["client"], 3),
            "web_cpu_s": round(group("web"), 3),
            "worker_cpu_s": round(group("worker"), 3),
            "pg_cpu_s": round(group("pg"), 3),
        }


def api_export(session: requests.Session, base: str, project_id, name: str, probe: ApiProbe) -> dict:
    """POST the export, poll until ready, download the file: seconds from the POST to the last byte."""
    export_format, options = FORMATS[name]
    url = f"{base}/api/v1/projects/{project_id}/exports"
    before = probe.sample()
    t0 = time.perf_counter()
    r = session.post(url, json={"format": export_format, "options": options}, timeout=60)
    if r.status_code != 202:
        sys.exit(f"bench: POST {url} answered {r.status_code}: {r.text[:300]}")
    job = r.json()
    polls = 0
    deadline = time.monotonic() + 3600
    while job["status"] not in ("ready", "failed"):
        if time.monotonic() > deadline:
            sys.exit(f"bench: export {job['id']} not ready after an hour")
        time.sleep(0.01 if time.perf_counter() - t0 < 2 else 0.1)  # 10 ms polls, 100 ms after 2 s
        job = session.get(f"{url}/{job['id']}", timeout=60).json()
        polls += 1
    t_ready = time.perf_counter()
    if job["status"] != "ready":
        sys.exit(f"bench: export {name} failed: {job}")
    size = 0
    with session.get(f"{url}/{job['id']}/download", stream=True, timeout=600) as dl:
        if dl.status_code != 200:
            sys.exit(f"bench: download answered {dl.status_code}")
        for block in dl.iter_content(chunk_size=1 << 20):
            size += len(block)
    seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 3),
        "until_ready_s": round(t_ready - t0, 3),
        "download_s": round(seconds - (t_ready - t0), 3),
        "file_bytes": size,
        "polls": polls,
        "tasks": job.get("task_count"),
        **ApiProbe.delta(before, probe.sample()),
    }


def api_key_for(client) -> str:
    from clients import services as accounts

    return accounts.api_key_create(client=client, name="bench export").key


# --- main ---------------------------------------------------------------------------------------------


def worker_run(project, name: str, chunk: int, env: dict, trace: bool) -> dict:
    extra = ["--chunk-size", str(chunk)]
    plain = run_child(["--child", str(new_job(project, name).id), *extra], env)
    traced = run_child(["--child", str(new_job(project, name).id), "--trace", *extra], env) if trace else None
    if plain["status"] != "ready" or (traced and traced["status"] != "ready"):
        sys.exit(f"bench: export {name} failed: {plain.get('error') or (traced or {}).get('error')}")
    return {
        "path": "worker",
        "tasks": plain["task_count"],
        "seconds": round(plain["seconds"], 3),
        "cpu_s": round(plain["cpu_s"], 3),
        "pg_cpu_s": round(plain["pg_cpu_s"], 3),
        "file_bytes": plain["file_size"],
        "maxrss_bytes": plain["maxrss_kb"] * 1024,
        "traced_peak_bytes": traced["traced_peak_bytes"] if traced else None,
        "report": plain["report"],
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child or args.baseline:
        child(args)
        return 0
    meta = provenance("bench/export.py", argv, make_target="bench-export")
    media = tempfile.mkdtemp(prefix="quorum-bench-export-")
    prefix = (
        os.environ.get("QUORUM_REDIS_PREFIX", "") + "bench-export:"
    )  # its own queues: no other worker takes its jobs
    try:
        bench_url, admin_url, env = open_bench_database(
            args.db_name,
            fresh=args.fresh,
            make_target="bench-export",
            extra_env={
                "QUORUM_MEDIA_ROOT": media, "QUORUM_STORAGE": "filesystem", "QUORUM_REDIS_PREFIX": prefix,
                "QUORUM_EXPORT_TIME_LIMIT": "7200", "CELERY_TASK_TIME_LIMIT": "7200",
            },
        )  # fmt: skip
        from django.conf import settings

        conn = psycopg.connect(bench_url, autocommit=True)
        hw = hardware(conn)
        chunk = args.chunk_size or settings.QUORUM_EXPORT_CHUNK_SIZE
        log("\n== Hardware ==")
        for k, v in hw.items():
            log(f"  {k}: {v}")
        log(
            f"== Parameters ==\n  sizes: {args.sizes}\n  formats: {args.formats}\n  paths: {args.paths}\n"
            f"  chunk size: {chunk}\n  repeat: {args.repeat}"
        )
        client, annotators = fixtures()
        baseline = run_child(["--baseline"], env)["maxrss_kb"] * 1024
        log(f"  baseline RSS (a process that imported the app): {mb(baseline)} MB")
        loads, results, projects = {}, [], {}
        for index, size in enumerate(args.sizes):
            projects[size], loads[size] = load(conn, client, annotators, size, index)
        conn.close()
        stack = contextlib.ExitStack()
        with stack:
            api = None
            if "api" in args.paths:
                base, web_pid = stack.enter_context(web_server(env, 2))
                worker = stack.enter_context(exports_worker(env))
                session = requests.Session()
                session.headers["Authorization"] = f"Bearer {api_key_for(client)}"
                probe = ApiProbe(admin_url, args.db_name, web_pid, worker.pid)
                api = (session, base, probe)
                log("  warming up the web and exports workers ...")
                api_export(session, base, projects[args.sizes[0]].id, args.formats[0], probe)
            for size in args.sizes:
                for name in args.formats:
                    for r in range(args.repeat):
                        for path in args.paths:
                            load_now = os.getloadavg()[0]
                            if path == "worker":
                                row = worker_run(
                                    projects[size], name, chunk, env, trace=not args.no_trace and r == 0
                                )
                            else:
                                row = {"path": "api", **api_export(*api[:2], projects[size].id, name, api[2])}
                            row.update(size=size, format=name, repeat=r, loadavg=round(load_now, 2),
                                       tasks_per_s=round(size / row["seconds"]))  # fmt: skip
                            results.append(row)
                            cpu = (
                                f"cpu {row['cpu_s']:.2f} s + pg {row['pg_cpu_s']:.2f} s"
                                if path == "worker"
                                else f"cpu client {row['client_cpu_s']:.2f} web {row['web_cpu_s']:.2f} "
                                f"worker {row['worker_cpu_s']:.2f} pg {row['pg_cpu_s']:.2f} s"
                            )
                            log(
                                f"  {size:>9,} {name:<14} {path:<6} {row['seconds']:>8.2f} s  {cpu}  "
                                f"file {mb(row['file_bytes'])} MB  RSS {mb(row.get('maxrss_bytes'))} MB  "
                                f"traced {mb(row.get('traced_peak_bytes'))} MB  load {load_now:.1f}"
                            )
    finally:
        shutil.rmtree(media, ignore_errors=True)

    log("\n== Results (seconds: request to complete file for api; the export itself for worker) ==")
    log(
        f"{'tasks':>9} {'format':<14} {'path':<6} {'seconds':>8} {'tasks/s':>8} {'CPU s':>7} {'pg CPU s':>8} "
        f"{'file MB':>8} {'max RSS MB':>10} {'traced MB':>9} {'load':>5}"
    )
    for r in results:
        cpu = r["cpu_s"] if r["path"] == "worker" else r["worker_cpu_s"] + r["web_cpu_s"]
        log(
            f"{r['size']:>9,} {r['format']:<14} {r['path']:<6} {r['seconds']:>8.2f} {r['tasks_per_s']:>8,} "
            f"{cpu:>7.2f} {r['pg_cpu_s']:>8.2f} {mb(r['file_bytes']):>8} {mb(r.get('maxrss_bytes')):>10} "
            f"{mb(r.get('traced_peak_bytes')):>9} {r['loadavg']:>5.1f}"
        )
    worker_rows = [r for r in results if r["path"] == "worker" and r["repeat"] == 0]
    if len(args.sizes) > 1 and worker_rows:
        small, large = args.sizes[0], args.sizes[-1]
        log(f"\nGrowth from {small:,} to {large:,} tasks ({large / small:.0f}x the tasks), worker path:")
        for name in args.formats:
            a = next(r for r in worker_rows if r["size"] == small and r["format"] == name)
            b = next(r for r in worker_rows if r["size"] == large and r["format"] == name)
            traced = (
                f", traced peak x{b['traced_peak_bytes'] / a['traced_peak_bytes']:.2f}"
                if a["traced_peak_bytes"] and b["traced_peak_bytes"]
                else ""
            )
            log(
                f"  {name:<14} seconds x{b['seconds'] / a['seconds']:.1f}, "
                f"CPU x{b['cpu_s'] / a['cpu_s']:.1f}, "
                f"max RSS x{b['maxrss_bytes'] / a['maxrss_bytes']:.2f}{traced}"
            )
    out = args.json or RESULTS_DIR / f"export-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                **meta,
                "loadavg_at_end": os.getloadavg(),
                "hardware": hw,
                "chunk_size": chunk,
                "baseline_rss_bytes": baseline,
                "loads": loads,
                "results": results,
            },
            indent=2,
            default=str,
        )
    )
    log(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
