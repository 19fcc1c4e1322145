"""The web process's own cost of one claim + submit cycle, in-process: CPU time and instructions.

Run it through the launcher, which exports ``DATABASE_URL`` for the local server::

    make bench-cycle-cpu                                   # CPU µs per cycle, 5 rounds
    make bench-cycle-cpu BENCH_ARGS='--callgrind'          # instructions per cycle (valgrind)
    make bench-cycle-cpu BENCH_ARGS='--callgrind --gc-unfreeze'   # as before config/wsgi.py froze

``bench/claim.py`` measures throughput through the HTTP server, where the web processes share the
two cores with PostgreSQL and the load generator and the same work moves ±20 % between runs on a
busy cloud machine. A change worth a few per cent of the web CPU is invisible there. This script
measures only the web side: one thread calls ``config.wsgi.application`` directly (the WSGI
handler, the middleware, DRF and the views exactly as granian calls them, minus the socket) with
``POST /api/v1/work/next`` then ``POST …/submit`` on the same data ``bench/claim.py`` builds (the
10,000-task priced project with the quality rules on, eight annotators taken in a seeded random
order), against the real PostgreSQL and Redis.

- Default: ``time.process_time`` per cycle over ``--rounds`` rounds (this process only; the
  PostgreSQL and Redis servers' CPU is not in it), and the garbage collector's collections and
  CPU per generation (``gc.callbacks``). Subject to the machine's noise.
- ``--callgrind``: the script runs itself under ``valgrind --tool=callgrind`` with instrumentation
  off, turns it on (``callgrind_control -i on``) for the measured cycles only, and reports the
  instructions per cycle, with a fixed ``PYTHONHASHSEED``. Instruction counts do not depend on what
  else the machine does: two runs of the same code differ by about 1 %, so a change of a few per
  cent shows. Slow (about 40 s).

The identity cache is set to an hour for the run (``QUORUM_AUTH_CACHE_SECONDS``), so that the
measured cycles do the same work however slowly they run (under valgrind a 5 s cache would expire
mid-run and add token reads). Results go to ``bench/results/cycle-cpu-<time>.json`` with the
command and the commit.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import claim  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
SIZE, OVERLAP, PRICE, PAY, GOLD, ANNOTATORS = 10_000, 3, 10, 3, 200, 8


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=200, help="measured cycles per round (default 200)")
    p.add_argument("--rounds", type=int, default=5, help="rounds without --callgrind (default 5)")
    p.add_argument("--warmup", type=int, default=50, help="unmeasured cycles first (default 50)")
    p.add_argument("--callgrind", action="store_true", help="count instructions under valgrind")
    p.add_argument(
        "--gc-unfreeze",
        action="store_true",
        help="undo config/wsgi.py's gc.freeze() (to measure what it saves)",
    )
    p.add_argument("--db-name", default="quorum_bench_cycle_cpu")
    p.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    p.add_argument("--json", help="result file (default bench/results/cycle-cpu-<time>.json)")
    p.add_argument("--child", help=argparse.SUPPRESS)  # internal: the run under valgrind
    return p.parse_args(argv)


def setup(args: argparse.Namespace):
    """The bench database of bench/claim.py's 10,000-task run, reset; Django set up on it."""
    os.environ["QUORUM_API_RATE"] = "10000000/min"  # counted in Redis, never refused
    os.environ["QUORUM_AUTH_CACHE_SECONDS"] = "3600"
    bench_url, _, _ = claim.open_bench_database(
        args.db_name, fresh=args.fresh and not args.child, make_target="bench-cycle-cpu"
    )
    fx = claim.make_fixtures(ANNOTATORS, OVERLAP, True)
    with psycopg.connect(bench_url, cursor_factory=psycopg.ClientCursor, autocommit=True) as conn:
        load = claim.load_data(conn, fx, SIZE, SIZE, PRICE, PAY, OVERLAP, GOLD)
        claim.reset(conn, load["loaded_at"])
    from django.db import connection

    connection.close()
    return fx, claim.ANSWER


def make_cycle(fx, answer):
    from config.wsgi import application

    rng = random.Random(1)

    def call(path: str, body: dict, token: str) -> dict:
        data = json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        status = []
        out = b"".join(application(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"{path}: {status[0]} {out[:300]!r}")
        return json.loads(out)

    def cycle() -> None:
        token = rng.choice(fx.tokens)
        got = call("/api/v1/work/next", {}, token)["assignment"]
        if got is None:
            raise RuntimeError("nothing to claim: the backlog ran out (fewer --cycles)")
        body = {"claim_version": got["claim_version"], "answer": answer}
        call(f"/api/v1/work/assignments/{got['id']}/submit", body, token)

    return cycle


def callgrind_toggle(on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], check=True, capture_output=True
    )


def warmed_cycle(args: argparse.Namespace):
    """The data reset, the application loaded (``--gc-unfreeze``: its start-up objects given back
    to the collector), ``--warmup`` cycles run: the cycle to measure."""
    fx, answer = setup(args)
    cycle = make_cycle(fx, answer)
    if args.gc_unfreeze:
        gc.unfreeze()
    for _ in range(args.warmup):
        cycle()
    return cycle


def child(args: argparse.Namespace) -> None:
    """Under valgrind: warm up, then count only the measured cycles."""
    cycle = warmed_cycle(args)
    callgrind_toggle(True)
    for _ in range(args.cycles):
        cycle()
    callgrind_toggle(False)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    started = datetime.now(UTC)
    result: dict = {
        "bench": "cycle_cpu",
        "command": " ".join([Path(sys.argv[0]).name, *argv]),
        "commit": claim.git_commit(),
        "started": started.isoformat(),
        "parameters": {
            "tasks": SIZE,
            "overlap": OVERLAP,
            "price": PRICE,
            "pay": PAY,
            "gold": GOLD,
            "annotators": ANNOTATORS,
            "cycles": args.cycles,
            "warmup": args.warmup,
            "gc_unfreeze": args.gc_unfreeze,
        },
    }
    if args.callgrind:
        if not shutil.which("valgrind"):
            sys.exit("bench: --callgrind needs valgrind (apt-get install valgrind)")
        if args.fresh:
            setup(args)  # build the data once, outside valgrind
        out = Path(f"/tmp/quorum-cycle-cpu-{os.getpid()}.callgrind")
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            "1",
            "--db-name",
            args.db_name,
            "--cycles",
            str(args.cycles),
            "--warmup",
            str(args.warmup),
            *(["--gc-unfreeze"] if args.gc_unfreeze else []),
        ]
        t0 = time.perf_counter()
        # A fixed hash seed: with a random one, dict and set layouts (and so the instructions) move by
        # a few per cent from run to run.
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        found = re.findall(r"Collected : (\d+)", proc.stderr)
        if proc.returncode != 0 or not found:
            sys.stderr.write(proc.stderr[-3000:])
            sys.exit("bench: the run under valgrind failed")
        out.unlink(missing_ok=True)
        instructions = int(found[-1])
        result["callgrind"] = {
            "instructions": instructions,
            "instructions_per_cycle": round(instructions / args.cycles),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        per_cycle = instructions / args.cycles / 1e6
        print(f"{per_cycle:.3f} M instructions per claim + submit cycle ({args.cycles} cycles)")
    else:
        cycle = warmed_cycle(args)
        collections, gc_cpu, started_at = [0, 0, 0], [0.0, 0.0, 0.0], [0.0]

        def on_gc(phase: str, info: dict) -> None:  # the collector's own CPU, per generation
            if phase == "start":
                started_at[0] = time.process_time()
            else:
                collections[info["generation"]] += 1
                gc_cpu[info["generation"]] += time.process_time() - started_at[0]

        gc.callbacks.append(on_gc)
        rounds = []
        for _ in range(args.rounds):
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(args.cycles):
                cycle()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            cpu_us, wall_us = round(cpu / args.cycles * 1e6), round(wall / args.cycles * 1e6)
            rounds.append({"cpu_us_per_cycle": cpu_us, "wall_us_per_cycle": wall_us})
            print(f"CPU {cpu_us} µs, wall {wall_us} µs per cycle")
        gc.callbacks.remove(on_gc)
        cpus = sorted(r["cpu_us_per_cycle"] for r in rounds)
        result["gc"] = {
            "collections_per_generation": collections,
            "cpu_ms_per_generation": [round(s * 1000, 1) for s in gc_cpu],
            "frozen_objects": gc.get_freeze_count(),
        }
        print(
            f"garbage collector over {args.rounds * args.cycles} cycles: collections per generation "
            f"{collections}, CPU ms {result['gc']['cpu_ms_per_generation']}, "
            f"{gc.get_freeze_count()} objects frozen"
        )
        result["rounds"] = rounds
        result["cpu_us_per_cycle_median"] = cpus[len(cpus) // 2]
        print(f"median CPU {result['cpu_us_per_cycle_median']} µs per claim + submit cycle")
    path = Path(args.json) if args.json else RESULTS_DIR / f"cycle-cpu-{started:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"bench: results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
