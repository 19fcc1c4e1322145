"""Task import speed: ``POST /api/v1/tasks/bulk`` through the real HTTP stack and in-process.

Run it through the launcher, which exports ``DATABASE_URL`` for the local server::

    # 10,000-task requests, then 1,000,000 tasks in 100 requests
    make bench-import
    # 2,000-task requests, 100,000 tasks in 50 requests
    make bench-import BENCH_ARGS='--quick'
    # only the single requests, plus a cProfile of the service
    make bench-import BENCH_ARGS='--total 0 --profile'

What it does (README.md beside this file says how to read the output):

1. Uses its own database (``quorum_bench_import_<run name>`` on the server of ``DATABASE_URL``; ``--fresh``
   drops and recreates it), migrated with ``manage.py migrate``. Never the dev or the test database.
   One client with a live API key and one ``imageannotation`` project (box and polygon labels,
   price 12, pay 3). Tasks and events are emptied at the start of every run.
2. **Single requests** (``--repeat`` times, default 5): one request of ``--request-size`` image tasks
   (default 10,000; each with an attachment URL, the image size, metadata, a ``unique_id`` and a
   callback URL) sent as JSON by ``requests`` to the Procfile's granian on 127.0.0.1 (``--workers``
   processes of one thread, as ``bench/claim.py`` starts it), timed from sending the request to having
   the whole response; interleaved with the same work done in this process by
   ``annotation.services.task_bulk_create`` (the service alone: no HTTP, no JSON, no DRF). Then
   one replay of the last HTTP request (every task exists: nothing is created, 200).
3. **A million tasks** (``--total``, default 1,000,000) in requests of ``--request-size`` through
   HTTP, one after the other, into the same project: the per-request time of the first and the
   last decile of requests shows whether a request gets slower as the table grows.
4. For every request: wall seconds and the CPU seconds of this process (the client), the web
   server's processes and the PostgreSQL backends of the bench database; for in-process runs, this
   process and its own backend. The load average is recorded at each step: above the CPU count,
   other work shared the machine.
5. ``--profile``: one more in-process request under cProfile; the top functions by own time.
6. Prints a table and writes ``bench/results/import-<time>.json`` (commit, command, hardware,
   every figure).

It only talks to 127.0.0.1 (or a local unix socket) and stops by itself.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402

from bench.claim import children, hardware, log, machine_cpu, open_bench_database, web_server  # noqa: E402
from bench.provenance import bench_db_name, cpu_seconds_of, provenance  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
CLIENT_SLUG = "bench-import"
PROJECT_NAME = "bench-import"
PARAMS = {
    "geometries": {
        "box": {"objects_to_annotate": ["car", "pedestrian", "cyclist"]},
        "polygon": {"objects_to_annotate": ["road"]},
    }
}
CALLBACK_URL = "http://127.0.0.1:9/quorum-callback"  # an IP literal: checked without DNS
CPU_KEYS = ("client_cpu_s", "web_cpu_s", "pg_cpu_s", "other_cpu_s")


def int_list(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--request-size", type=int, default=None, help="tasks per request (default 10000)")
    p.add_argument("--repeat", type=int, default=None, help="single requests of each kind (default 5)")
    p.add_argument(
        "--total", type=int, default=None, help="tasks of the long run, 0 to skip it (default 1000000)"
    )
    p.add_argument("--workers", type=int, default=2, help="web server processes, one thread each (default 2)")
    p.add_argument("--quick", action="store_true", help="2,000-task requests, 3 repeats, 100,000 tasks")
    p.add_argument("--profile", action="store_true", help="cProfile one more in-process request")
    p.add_argument("--no-callback", action="store_true", help="tasks without a callback_url")
    p.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--db-name", default=bench_db_name("quorum_bench_import"))
    p.add_argument(
        "--json", type=Path, default=None, help="result file (default bench/results/import-<time>.json)"
    )
    a = p.parse_args(argv)
    a.request_size = a.request_size or (2000 if a.quick else 10000)
    a.repeat = a.repeat if a.repeat is not None else (3 if a.quick else 5)
    a.total = a.total if a.total is not None else (100_000 if a.quick else 1_000_000)
    if a.request_size < 1 or a.repeat < 1 or a.total < 0:
        p.error("--request-size and --repeat must be positive, --total not negative")
    return a


# --- payload ------------------------------------------------------------------------------------------


def payload(project_id: str, tag: str, n: int, callback: bool) -> bytes:
    """One bulk request body: ``n`` image tasks whose ``unique_id`` starts with ``tag``."""
    tasks = []
    for i in range(n):
        item = {
            "params": {
                "attachment": f"https://img.example.com/{tag}/frame-{i:07d}.jpg",
                "attachment_type": "image",
                "attachment_width": 1920,
                "attachment_height": 1080,
            },
            "unique_id": f"{tag}-{i:07d}",
            "metadata": {"sequence": tag, "frame": i, "camera": "front-left", "weather": "rain"},
        }
        if callback:
            item["callback_url"] = CALLBACK_URL
        tasks.append(item)
    return json.dumps({"project": project_id, "tasks": tasks}).encode()


# --- CPU accounting -----------------------------------------------------------------------------------


class Probe:
    """CPU seconds of this process, the web server's processes and the bench database's backends."""

    def __init__(self, admin_url: str, db_name: str, web_pid: int | None = None):
        self.admin_url, self.db_name, self.web_pid = admin_url, db_name, web_pid

    def _backends(self) -> list[int]:
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            return [
                r[0]
                for r in c.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                    [self.db_name],
                ).fetchall()
            ]

    def sample(self) -> dict:
        web = [*children(self.web_pid), self.web_pid] if self.web_pid else []
        ru = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = machine_cpu()
        return {
            "client": ru.ru_utime + ru.ru_stime,
            "web": {p: cpu_seconds_of(p) for p in web},
            "pg": {p: cpu_seconds_of(p) for p in self._backends()},
            "busy": busy,
            "total": total,
            "t": time.perf_counter(),
        }

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        def group(key: str) -> float:
            return sum(max(0.0, b[key][p] - a[key].get(p, 0.0)) for p in b[key])

        parts = {
            "client_cpu_s": b["client"] - a["client"],
            "web_cpu_s": group("web"),
            "pg_cpu_s": group("pg"),
        }
        machine = b["busy"] - a["busy"]
        out = {k: round(v, 3) for k, v in parts.items()}
        out["other_cpu_s"] = round(max(0.0, machine - sum(parts.values())), 3)
        return out


# --- the runs -----------------------------------------------------------------------------------------


def http_request(session: requests.Session, base: str, body: bytes, probe: Probe) -> tuple[dict, dict]:
    before = probe.sample()
    t0 = time.perf_counter()
    r = session.post(f"{base}/api/v1/tasks/bulk", data=body, timeout=600)
    wall = time.perf_counter() - t0
    after = probe.sample()
    if r.status_code not in (200, 201):
        sys.exit(f"bench: POST /api/v1/tasks/bulk answered {r.status_code}: {r.text[:500]}")
    answer = r.json()
    return {"wall_s": round(wall, 4), "status": r.status_code, **Probe.delta(before, after)}, answer


def service_request(client, project, body: bytes, probe: Probe) -> dict:
    from django.db import connection

    from annotation import services

    items = json.loads(body)["tasks"]
    connection.ensure_connection()
    backend = connection.cursor().connection.info.backend_pid
    before, pg0 = probe.sample(), cpu_seconds_of(backend)
    t0, c0 = time.perf_counter(), time.process_time()
    results = services.task_bulk_create(client=client, actor="bench", project=project, items=items)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    pg1, after = cpu_seconds_of(backend), probe.sample()
    created = sum(r.created for r in results)
    if created != len(items):
        sys.exit(f"bench: the service created {created} of {len(items)} tasks")
    delta = Probe.delta(before, after)
    return {
        "wall_s": round(wall, 4),
        "created": created,
        "client_cpu_s": round(cpu, 3),
        "web_cpu_s": 0.0,
        "pg_cpu_s": round(pg1 - pg0, 3),
        "other_cpu_s": delta["other_cpu_s"],
    }


def profile_service(client, project, body: bytes, top: int = 25) -> list[dict]:
    from annotation import services

    items = json.loads(body)["tasks"]
    prof = cProfile.Profile()
    prof.enable()
    services.task_bulk_create(client=client, actor="bench", project=project, items=items)
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = stats.total_tt
    rows = []
    for (file, line, func), (_cc, ncalls, tt, ct, _callers) in stats.stats.items():
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls": ncalls,
                "own_s": round(tt, 4),
                "cumulative_s": round(ct, 4),
                "own_pct": round(100 * tt / total, 1) if total else None,
            }
        )
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    log(f"\n== cProfile of one in-process request ({len(items):,} tasks; {total:.2f} s profiled) ==")
    log(f"  {'own s':>7} {'own %':>6} {'cum s':>7} {'calls':>9}  function")
    for r in rows[:top]:
        log(
            f"  {r['own_s']:>7.3f} {r['own_pct']:>6.1f} {r['cumulative_s']:>7.3f} {r['calls']:>9,}  "
            f"{r['function']}"
        )
    cumulative = sorted(rows, key=lambda r: r["cumulative_s"], reverse=True)
    return {"total_s": round(total, 3), "by_own_time": rows[:top], "by_cumulative_time": cumulative[:top]}


def fixtures():
    from annotation import services as work
    from annotation.models import Project
    from clients import services as accounts
    from clients.models import Client

    client = Client.objects.filter(slug=CLIENT_SLUG).first() or accounts.client_create(
        name="Bench import", slug=CLIENT_SLUG
    )
    project = Project.objects.filter(client=client, name=PROJECT_NAME).first() or work.project_create(
        client=client,
        actor=None,
        name=PROJECT_NAME,
        task_type="imageannotation",
        params=PARAMS,
        instructions="Box every road user; outline the road.",
        overlap=3,
        price_per_task=12,
        pay_per_answer=3,
    )
    key = accounts.api_key_create(client=client, name=f"bench {datetime.now(UTC):%H%M%S}").key
    return client, project, key


def empty_tables(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE annotation_task, clients_event CASCADE")
    conn.execute("VACUUM (ANALYZE) annotation_task, clients_event")
    conn.execute("CHECKPOINT")


def row_counts(conn: psycopg.Connection, project_id) -> dict:
    tasks, events = conn.execute(
        "SELECT (SELECT count(*) FROM annotation_task WHERE project_id = %s), "
        "(SELECT count(*) FROM clients_event WHERE kind = 'task.created')",
        [project_id],
    ).fetchone()
    return {"tasks": tasks, "task_created_events": events}


def decile_summary(walls: list[float]) -> dict:
    k = max(1, len(walls) // 10)
    first, last = walls[:k], walls[-k:]
    return {
        "requests": len(walls),
        "decile_requests": k,
        "first_decile_mean_s": round(statistics.fmean(first), 4),
        "last_decile_mean_s": round(statistics.fmean(last), 4),
        "first_decile_median_s": round(statistics.median(first), 4),
        "last_decile_median_s": round(statistics.median(last), 4),
        "last_over_first_median": round(statistics.median(last) / statistics.median(first), 3),
        "median_s": round(statistics.median(walls), 4),
        "max_s": round(max(walls), 4),
    }


def fmt_row(label: str, n: int, r: dict) -> str:
    return (
        f"  {label:<22} {n:>8,} {r['wall_s']:>8.3f} {n / r['wall_s']:>10,.0f} "
        f"{r['client_cpu_s']:>8.2f} {r['web_cpu_s']:>8.2f} {r['pg_cpu_s']:>8.2f} {r['other_cpu_s']:>8.2f}"
        f"  load {os.getloadavg()[0]:.1f}"
    )


HEADER = (
    f"  {'run':<22} {'tasks':>8} {'wall s':>8} {'tasks/s':>10} "
    f"{'client':>8} {'web':>8} {'pg':>8} {'other':>8}"
    "   (CPU seconds)"
)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    meta = provenance("bench/import.py", argv, make_target="bench-import")
    bench_url, admin_url, env = open_bench_database(
        args.db_name, fresh=args.fresh, make_target="bench-import"
    )
    conn = psycopg.connect(bench_url, autocommit=True)
    hw = hardware(conn)
    log("\n== Hardware ==")
    for k, v in hw.items():
        log(f"  {k}: {v}")
    client, project, key = fixtures()
    empty_tables(conn)
    n, callback = args.request_size, not args.no_callback
    log(
        f"== Parameters ==\n  request size {n:,}, repeat {args.repeat}, total {args.total:,}, "
        f"web workers {args.workers}, callback_url {'yes' if callback else 'no'}"
    )
    result: dict = {
        **meta,
        "hardware": hw,
        "params": {
            "request_size": n,
            "repeat": args.repeat,
            "total": args.total,
            "workers": args.workers,
            "callback_url": callback,
            "request_body_bytes": len(payload(str(project.id), "size", n, callback)),
        },
    }
    singles: list[dict] = []
    with web_server(env, args.workers) as (base, gpid):
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        session.get(f"{base}/healthz", timeout=30)
        http_probe, local_probe = Probe(admin_url, args.db_name, gpid), Probe(admin_url, args.db_name)
        # Warm-up: each web worker and this process import, connect and compile once.
        for w in range(args.workers):
            http_request(session, base, payload(str(project.id), f"warm-h{w}", 50, callback), http_probe)
        service_request(client, project, payload(str(project.id), "warm-s", 50, callback), local_probe)

        log(f"\n== Single requests of {n:,} tasks (HTTP and in-process, interleaved) ==\n{HEADER}")
        body = b""
        for r in range(args.repeat):
            body = payload(str(project.id), f"http{r}", n, callback)
            row, answer = http_request(session, base, body, http_probe)
            if answer["created"] != n:
                sys.exit(f"bench: HTTP request created {answer['created']} of {n}")
            row.update(kind="http", repeat=r, tasks=n, tasks_per_s=round(n / row["wall_s"]),
                       loadavg=os.getloadavg())  # fmt: skip
            singles.append(row)
            log(fmt_row(f"http #{r}", n, row))
            srow = service_request(
                client, project, payload(str(project.id), f"svc{r}", n, callback), local_probe
            )
            srow.update(kind="service", repeat=r, tasks=n, tasks_per_s=round(n / srow["wall_s"]),
                        loadavg=os.getloadavg())  # fmt: skip
            singles.append(srow)
            log(fmt_row(f"in-process #{r}", n, srow))
        replay, answer = http_request(session, base, body, http_probe)
        if answer["created"] != 0 or answer["existing"] != n or replay["status"] != 200:
            sys.exit(f"bench: the replay created {answer['created']} (status {replay['status']})")
        replay.update(
            kind="http-replay", tasks=n, tasks_per_s=round(n / replay["wall_s"]), loadavg=os.getloadavg()
        )
        log(fmt_row("http replay (200)", n, replay))
        result["single"] = singles
        result["replay"] = replay
        for kind in ("http", "service"):
            rows = [s for s in singles if s["kind"] == kind]
            walls = sorted(s["wall_s"] for s in rows)
            result[f"{kind}_summary"] = {
                "best_s": walls[0],
                "median_s": statistics.median(walls),
                "tasks_per_s_best": round(n / walls[0]),
                "tasks_per_s_median": round(n / statistics.median(walls)),
                "cpu_s_median": {k: statistics.median(s[k] for s in rows) for k in CPU_KEYS},
            }
        if args.profile:
            result["profile"] = profile_service(
                client, project, payload(str(project.id), "profile", n, callback)
            )
        result["counts_after_single"] = row_counts(conn, project.id)

        if args.total:
            empty_tables(conn)
            requests_n = -(-args.total // n)
            log(f"\n== {args.total:,} tasks in {requests_n} requests of up to {n:,} (HTTP) ==\n{HEADER}")
            rows, t_start = [], time.perf_counter()
            for i in range(requests_n):
                size = min(n, args.total - i * n)
                row, answer = http_request(
                    session, base, payload(str(project.id), f"m{i:04d}", size, callback), http_probe
                )
                if answer["created"] != size:
                    sys.exit(f"bench: request {i} created {answer['created']} of {size}")
                row.update(index=i, tasks=size, loadavg=os.getloadavg()[0])
                rows.append(row)
                if i < 3 or i % max(1, requests_n // 10) == 0 or i == requests_n - 1:
                    log(fmt_row(f"request {i + 1}/{requests_n}", size, row))
            elapsed = time.perf_counter() - t_start
            # Summed per request: a web worker's connection lives 60 s (DB_CONN_MAX_AGE), so one
            # sample at each end of the run would miss the backends that came and went in between.
            total_cpu = {k: round(sum(r[k] for r in rows), 2) for k in CPU_KEYS}
            walls = [r["wall_s"] for r in rows]
            result["long_run"] = {
                "tasks": args.total,
                "elapsed_s": round(elapsed, 2),
                "request_wall_sum_s": round(sum(walls), 2),
                "tasks_per_s": round(args.total / sum(walls)),
                "cpu_s": total_cpu,
                **decile_summary(walls),
                "requests_detail": rows,
                "counts": row_counts(conn, project.id),
            }
            s = result["long_run"]
            log(
                f"\n  {args.total:,} tasks: {s['request_wall_sum_s']:.1f} s in requests "
                f"({s['tasks_per_s']:,} tasks/s); per request median {s['median_s']:.3f} s, "
                f"first decile {s['first_decile_median_s']:.3f} s, "
                f"last decile {s['last_decile_median_s']:.3f} s "
                f"(x{s['last_over_first_median']:.2f}); CPU client {total_cpu['client_cpu_s']:.1f} s, "
                f"web {total_cpu['web_cpu_s']:.1f} s, PostgreSQL {total_cpu['pg_cpu_s']:.1f} s, "
                f"other {total_cpu['other_cpu_s']:.1f} s"
            )
            if s["counts"]["tasks"] != args.total or s["counts"]["task_created_events"] != args.total:
                sys.exit(f"bench: expected {args.total} tasks and events, found {s['counts']}")
        session.close()
    conn.close()
    result["loadavg_at_end"] = os.getloadavg()
    hs, ss = result["http_summary"], result["service_summary"]
    log(
        f"\n== Summary ==\n  {n:,} tasks per request: HTTP best {hs['best_s']:.3f} s "
        f"({hs['tasks_per_s_best']:,} tasks/s), median {hs['median_s']:.3f} s "
        f"({hs['tasks_per_s_median']:,}); "
        f"in-process best {ss['best_s']:.3f} s ({ss['tasks_per_s_best']:,}), median {ss['median_s']:.3f} s "
        f"({ss['tasks_per_s_median']:,}); load average {meta['loadavg_at_start'][0]:.1f} -> "
        f"{result['loadavg_at_end'][0]:.1f}"
    )
    out = args.json or RESULTS_DIR / f"import-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    log(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
