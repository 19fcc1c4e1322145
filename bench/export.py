"""Export time and peak memory at two project sizes: memory must not grow with the project.

Run it through the launcher, which exports ``DATABASE_URL`` for the local server::

    make bench-export                                          # 20,000 and 200,000 tasks; coco, jsonl, jsonl with answers
    make bench-export BENCH_ARGS='--sizes 2000,20000 --formats coco,yolo'
    python -m config.devservices test -- .venv/bin/python bench/export.py --sizes 20000,200000

What it does (README.md beside this file says how to read the output):

1. Uses its own database (``quorum_bench_export`` on the server of ``DATABASE_URL``; ``--fresh``
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
4. Prints the hardware and a table, and writes ``bench/results/export-<time>.json``.

It only talks to 127.0.0.1 (or a local unix socket) and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
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

from bench.claim import _uuid_sql, hardware, log, open_bench_database  # noqa: E402

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
        "--sizes", type=int_list, default=[20000, 200000], help="tasks per project (default 20000,200000)"
    )
    p.add_argument(
        "--formats", default="coco,jsonl,jsonl+answers", help=f"comma separated, of {', '.join(FORMATS)}"
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="tasks per keyset chunk (default: QUORUM_EXPORT_CHUNK_SIZE)",
    )
    p.add_argument("--db-name", default="quorum_bench_export")
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

    if args.trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    job = services.export_run(export_id=args.child, chunk_size=args.chunk_size)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if args.trace else None
    print(json.dumps({
        "status": job.status, "error": job.error, "seconds": seconds, "traced_peak_bytes": peak,
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

META_DDL = "CREATE TABLE IF NOT EXISTS bench_export_meta (size int PRIMARY KEY, project uuid NOT NULL, loaded_at timestamptz NOT NULL)"


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
    series = "SELECT g, %(loaded)s::timestamptz - (%(n)s - g) * interval '1 millisecond' AS ca FROM generate_series(1, %(n)s::bigint) g"
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
            INSERT INTO annotation_task (id, task_type, instruction, params, metadata, tags, unique_id, callback_url, priority,
                price, status, released, is_test, overlap, slots_taken, answers_received, claim_seq, response, confidence,
                is_gold, gold_answer, created_at, updated_at, completed_at, batch_id, client_id, project_id)
            SELECT {task_id}, 'imageannotation', '',
                   %(params)s::jsonb || jsonb_build_object('attachment', 'https://img.example.com/frames/' || g || '.jpg',
                                                          'attachment_width', 1280, 'attachment_height', 720),
                   jsonb_build_object('frame', g, 'camera', 'front'), '[]', %(prefix)s || g, '', 0, 0, 'completed', true, false,
                   1, 1, 1, 1, %(response)s::jsonb, 1.0, false, NULL, ca, ca, ca, NULL, %(client)s, %(project)s
              FROM ({series}) s
            """,
            p,
        )
        conn.execute(
            f"""
            INSERT INTO annotation_assignment (id, status, claim_version, leased_until, claimed_at, finished_at, annotator_id,
                project_id, task_id)
            SELECT {_uuid_sql("ca", f"{tag}e2")}, 'submitted', 1, ca, ca, ca, {annotator}, %(project)s, {task_id}
              FROM ({series}) s
            """,
            p,
        )
        conn.execute(
            f"""
            INSERT INTO annotation_submission (id, answer, status, duration_ms, created_at, annotator_id, assignment_id, task_id)
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


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child or args.baseline:
        child(args)
        return 0
    media = tempfile.mkdtemp(prefix="quorum-bench-export-")
    try:
        bench_url, _admin_url, env = open_bench_database(
            args.db_name,
            fresh=args.fresh,
            make_target="bench-export",
            extra_env={"QUORUM_MEDIA_ROOT": media, "QUORUM_STORAGE": "filesystem"},
        )
        from django.conf import settings

        conn = psycopg.connect(bench_url, autocommit=True)
        hw = hardware(conn)
        chunk = args.chunk_size or settings.QUORUM_EXPORT_CHUNK_SIZE
        log("\n== Hardware ==")
        for k, v in hw.items():
            log(f"  {k}: {v}")
        log(f"== Parameters ==\n  sizes: {args.sizes}\n  formats: {args.formats}\n  chunk size: {chunk}")
        client, annotators = fixtures()
        baseline = run_child(["--baseline"], env)["maxrss_kb"] * 1024
        log(f"  baseline RSS (a process that imported the app): {mb(baseline)} MB")
        loads, results = {}, []
        for index, size in enumerate(args.sizes):
            project, loads[size] = load(conn, client, annotators, size, index)
            for name in args.formats:
                extra = ["--chunk-size", str(chunk)]
                plain = run_child(["--child", str(new_job(project, name).id), *extra], env)
                traced = (
                    None
                    if args.no_trace
                    else run_child(["--child", str(new_job(project, name).id), "--trace", *extra], env)
                )
                if plain["status"] != "ready" or (traced and traced["status"] != "ready"):
                    sys.exit(
                        f"bench: export {name} at {size} failed: {plain.get('error') or traced.get('error')}"
                    )
                row = {
                    "size": size,
                    "format": name,
                    "tasks": plain["task_count"],
                    "seconds": round(plain["seconds"], 2),
                    "tasks_per_s": round(plain["task_count"] / plain["seconds"]),
                    "file_bytes": plain["file_size"],
                    "maxrss_bytes": plain["maxrss_kb"] * 1024,
                    "traced_peak_bytes": traced["traced_peak_bytes"] if traced else None,
                    "report": plain["report"],
                }
                results.append(row)
                log(
                    f"  {size:>9,} {name:<14} {row['seconds']:>8.2f} s  file {mb(row['file_bytes']):>8} MB  "
                    f"RSS {mb(row['maxrss_bytes']):>6} MB  traced peak {mb(row['traced_peak_bytes']):>6} MB"
                )
        conn.close()
    finally:
        shutil.rmtree(media, ignore_errors=True)

    log("\n== Results ==")
    log(
        f"{'tasks':>9} {'format':<14} {'seconds':>8} {'tasks/s':>8} {'file MB':>8} {'max RSS MB':>10} {'traced peak MB':>14}"
    )
    for r in results:
        log(
            f"{r['size']:>9,} {r['format']:<14} {r['seconds']:>8.2f} {r['tasks_per_s']:>8,} {mb(r['file_bytes']):>8} "
            f"{mb(r['maxrss_bytes']):>10} {mb(r['traced_peak_bytes']):>14}"
        )
    if len(args.sizes) > 1:
        small, large = args.sizes[0], args.sizes[-1]
        log(f"\nGrowth from {small:,} to {large:,} tasks ({large / small:.0f}x the tasks):")
        for name in args.formats:
            a = next(r for r in results if r["size"] == small and r["format"] == name)
            b = next(r for r in results if r["size"] == large and r["format"] == name)
            traced = (
                f", traced peak x{b['traced_peak_bytes'] / a['traced_peak_bytes']:.2f}"
                if a["traced_peak_bytes"] and b["traced_peak_bytes"]
                else ""
            )
            log(
                f"  {name:<14} seconds x{b['seconds'] / a['seconds']:.1f}, max RSS x{b['maxrss_bytes'] / a['maxrss_bytes']:.2f}{traced}"
            )
    out = args.json or RESULTS_DIR / f"export-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
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
