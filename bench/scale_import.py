"""``manage.py import_scale_tasks`` at two file sizes: memory must not grow with the file.

Run it through the launcher, which exports ``DATABASE_URL`` for the local server::

    make bench-scale-import                                   # 10,000 and 1,000,000 lines
    make bench-scale-import BENCH_ARGS='--sizes 2000,20000'
    python -m config.devservices test -- .venv/bin/python bench/scale_import.py --sizes 10000,1000000

What it does:

1. Uses its own database (``quorum_bench_scale_import_<run name>`` on the server of ``DATABASE_URL``;
   ``--fresh`` drops it), migrated with ``manage.py migrate``. Never the dev or the test database.
2. Per size N: writes N JSON lines as a Scale ``get_tasks`` loop writes them (``Task.as_dict()``):
   95 % completed categorization tasks (a ``taxonomies`` question and its response, metadata,
   tags, a unique id, Scale timestamps) over 3 projects and one batch per project and 10,000 lines, 5 %
   pending (skipped by the import). A new client per run, so every task is created.
3. Per size: a fresh child process runs exactly the command (``call_command("import_scale_tasks",
   …)``) and reports its wall seconds, its CPU seconds and its peak RSS (``ru_maxrss`` of that
   process); then a second child re-runs the same file (everything ``already imported``): the
   idempotent path. A child that only imports the app gives the baseline RSS.
4. Prints the hardware and a table, and writes ``bench/results/scale-import-<time>.json`` with
   the commit and the command line.

It only talks to 127.0.0.1 (or a local unix socket) and stops by itself; the generated files are
written to a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.claim import hardware, log, open_bench_database  # noqa: E402
from bench.provenance import bench_db_name  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
TAXONOMIES = {
    "helpfulness": {
        "type": "category",
        "description": "Is the reply helpful?",
        "choices": ["helpful", {"choice": "not helpful", "subchoices": ["off-topic", "incorrect"]}],
    }
}
ANSWERS = ["helpful", "off-topic", "incorrect"]


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int_list, default=[10_000, 1_000_000], help="lines per file (comma-separated)"
    )
    parser.add_argument("--fresh", action="store_true", help="drop and re-create the bench database first")
    parser.add_argument("--db-name", default=bench_db_name("quorum_bench_scale_import"))
    parser.add_argument("--no-rerun", action="store_true", help="skip the idempotent re-run")
    parser.add_argument(
        "--json", type=Path, default=None, help="result file (default bench/results/scale-import-<time>.json)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # FILE: run the import in this process
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def child(args: argparse.Namespace) -> None:
    import io

    import django

    django.setup()
    from django.core.management import call_command

    if args.baseline:
        from annotation.services import scale_import  # noqa: F401 - the app, imported as the command has it

        print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
        return
    out = io.StringIO()
    t0, c0 = time.perf_counter(), time.process_time()
    call_command("import_scale_tasks", args.child, "--client", args.client, "--no-progress", stdout=out)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps({"seconds": seconds, "cpu_seconds": cpu, "maxrss_kb": usage.ru_maxrss, "summary": summary})
    )


def run_child(extra: list[str], env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *extra], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if proc.returncode:
        sys.exit(f"bench: child {extra} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_file(path: Path, size: int, tag: str) -> int:
    """N Scale task objects, one per line; returns the file size in bytes."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as f:
        for i in range(size):
            created = start + timedelta(seconds=i)
            completed = i % 20 != 0
            task = {
                "task_id": f"{tag}{i:016x}",
                "type": "categorization",
                "status": "completed" if completed else "pending",
                "project": f"Chat ratings {i % 3}",
                "batch": f"{tag}-batch-{i % 3}-{i // 10_000}",
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "updated_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "callback_url": "https://hooks.example.com/scale/callback",
                "instruction": "Rate the assistant's reply.",
                "params": {
                    "attachment": f"User: question {i}? Assistant: answer {i}.",
                    "attachment_type": "text",
                    "taxonomies": TAXONOMIES,
                },
                "metadata": {"conversation": i, "source": "scale"},
                "tags": ["imported"],
                "unique_id": f"{tag}-conversation-{i}",
                "is_test": False,
            }
            if completed:
                task["completed_at"] = (created + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                task["response"] = {"taxonomies": {"helpfulness": [ANSWERS[i % 3]]}}
            f.write(json.dumps(task) + "\n")
    return path.stat().st_size


def mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 1024 / 1024:.1f}"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child or args.baseline:
        child(args)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="quorum-bench-import-"))
    results = []
    try:
        bench_url, _admin_url, env = open_bench_database(
            args.db_name, fresh=args.fresh, make_target="bench-import"
        )
        conn = psycopg.connect(bench_url, autocommit=True)
        hw = hardware(conn)
        log("\n== Hardware ==")
        for k, v in hw.items():
            log(f"  {k}: {v}")
        from clients import services as client_services

        baseline = run_child(["--baseline"], env)["maxrss_kb"] * 1024
        log(f"  baseline RSS (a process that imported the app): {mb(baseline)} MB")
        for size in args.sizes:
            tag = f"b{int(time.time())}{size}"
            path = folder / f"{tag}.jsonl"
            t0 = time.perf_counter()
            file_bytes = write_file(path, size, tag)
            log(f"  {size:>9,} lines: file {mb(file_bytes)} MB written in {time.perf_counter() - t0:.1f} s")
            client = client_services.client_create(name=f"Bench import {tag}", slug=tag)
            first = run_child(["--child", str(path), "--client", client.slug], env)
            row = {
                "lines": size,
                "file_bytes": file_bytes,
                "created": first["summary"]["created"],
                "skipped": first["summary"]["skipped"],
                "bad": first["summary"]["bad"],
                "seconds": round(first["seconds"], 2),
                "cpu_seconds": round(first["cpu_seconds"], 2),
                "lines_per_s": round(size / first["seconds"]),
                "tasks_per_s": round(first["summary"]["created"] / first["seconds"]),
                "maxrss_bytes": first["maxrss_kb"] * 1024,
            }
            if not args.no_rerun:
                again = run_child(["--child", str(path), "--client", client.slug], env)
                assert again["summary"]["created"] == 0, again
                row |= {
                    "rerun_seconds": round(again["seconds"], 2),
                    "rerun_cpu_seconds": round(again["cpu_seconds"], 2),
                    "rerun_existing": again["summary"]["existing"],
                    "rerun_maxrss_bytes": again["maxrss_kb"] * 1024,
                }
            results.append(row)
            log(
                f"  {size:>9,} lines: {row['created']:,} created in {row['seconds']} s "
                f"(CPU {row['cpu_seconds']} s, {row['tasks_per_s']:,} tasks/s), "
                f"max RSS {mb(row['maxrss_bytes'])} MB"
                + (
                    f"; re-run {row['rerun_seconds']} s, RSS {mb(row['rerun_maxrss_bytes'])} MB"
                    if not args.no_rerun
                    else ""
                )
            )
            path.unlink()
        conn.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    log("\n== Results ==")
    log(
        f"{'lines':>9} {'created':>9} {'seconds':>8} {'CPU s':>7} {'tasks/s':>8} "
        f"{'max RSS MB':>10} {'re-run s':>8}"
    )
    for r in results:
        log(
            f"{r['lines']:>9,} {r['created']:>9,} {r['seconds']:>8} {r['cpu_seconds']:>7} "
            f"{r['tasks_per_s']:>8,} "
            f"{mb(r['maxrss_bytes']):>10} {r.get('rerun_seconds', '-'):>8}"
        )
    if len(results) > 1:
        a, b = results[0], results[-1]
        log(
            f"\nGrowth from {a['lines']:,} to {b['lines']:,} lines: "
            f"seconds x{b['seconds'] / a['seconds']:.1f}, "
            f"max RSS x{b['maxrss_bytes'] / a['maxrss_bytes']:.2f}"
        )
    out = args.json or RESULTS_DIR / f"scale-import-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "commit": commit(),
                "command": " ".join([Path(sys.executable).name, "bench/scale_import.py", *argv]),
                "hardware": hw,
                "load_average": os.getloadavg(),
                "baseline_rss_bytes": baseline,
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
