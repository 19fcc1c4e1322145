"""The quality simulation's full seed sweep: issue 3's experiment at full size on several seeds.

Run it through the launcher, which exports ``DATABASE_URL`` for the local (or embedded) server::

    make simulate                                   # full size, the default seeds
    make simulate BENCH_ARGS='--seeds 20261127'     # one seed
    make simulate BENCH_ARGS='--size ci --seeds 1,2,3,4,5,6,7,8'   # the size CI runs, more seeds

What it does (bench/README.md says how to read the output):

1. Uses its own database, ``quorum_sim_<run name>`` (the run name of config/devservices.py), on
   the server of ``DATABASE_URL``, dropped and created fresh, migrated. Never the dev or the test
   database; dropped again at the end.
2. Per seed: ``tests.annotation.quality_simulation.experiment`` — the very code the test
   ``tests/annotation/test_quality_simulation.py`` runs — inside one transaction that is rolled
   back (as pytest-django runs the test: nothing commits, so no wake-up leaves for Redis).
3. Prints each seed's table, then one line per seed and the claims the test asserts, and writes
   ``bench/results/simulate-<time>.json`` (commit, command, load average, every figure).

Exit status 1 when a claim the test asserts fails on some seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.claim import log, open_bench_database  # noqa: E402
from bench.provenance import provenance  # noqa: E402

DEFAULT_SEEDS = [20261127, 1, 2, 3, 4]
CONFIG_FIELDS = {
    "live_tasks": int,
    "gold_tasks": int,
    "honest": int,
    "spammers": int,
    "gold_ratio": float,
    "max_honest_removed": int,
    "confidence_threshold": float,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=["full", "ci"], default="full", help="FULL (issue 3) or CI (the test)")
    p.add_argument(
        "--seeds",
        default=",".join(map(str, DEFAULT_SEEDS)),
        help=f"comma-separated seeds (default {','.join(map(str, DEFAULT_SEEDS))})",
    )
    p.add_argument(
        "--one-transaction",
        action="store_true",
        help="run each seed inside one rolled-back transaction (as a plain django_db test would)",
    )
    for name, kind in CONFIG_FIELDS.items():
        p.add_argument(
            f"--{name.replace('_', '-')}", type=kind, default=None, help="override the size's value"
        )
    p.add_argument("--db-name", default=None, help="database name (default quorum_sim_<run name>)")
    p.add_argument("--out", default=None, help="result file (default bench/results/simulate-<time>.json)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    run = os.environ.get("QUORUM_RUN_NAME", "local")
    db_name = args.db_name or f"quorum_sim_{run}"
    meta = provenance("bench/simulate.py", argv, make_target="simulate")
    _, admin_url, _ = open_bench_database(db_name, fresh=True, make_target="simulate")

    from django.db import connection, transaction

    from tests.annotation import quality_simulation as sim

    config = sim.FULL if args.size == "full" else sim.CI
    overrides = {k: v for k, v in vars(args).items() if k in CONFIG_FIELDS and v is not None}
    config = dataclasses.replace(config, **overrides)
    results, failed = [], False
    try:
        for seed in seeds:
            t0 = time.perf_counter()
            if args.one_transaction:
                with transaction.atomic():
                    figures = sim.experiment(config, seed)
                    transaction.set_rollback(True)
            else:
                figures = sim.experiment(config, seed)
            wall = time.perf_counter() - t0
            print(figures.table(), flush=True)
            failures = figures.failures()
            failed |= bool(failures)
            print(
                f"seed {seed}: {wall:.0f} s; "
                + ("every claim holds" if not failures else "FAILED: " + "; ".join(failures))
            )
            print(flush=True)
            results.append(
                {
                    "seed": seed,
                    "wall_seconds": round(wall, 1),
                    "failures": failures,
                    "fixed": dataclasses.asdict(figures.fixed),
                    "dynamic": dataclasses.asdict(figures.dynamic),
                    "spammers": sorted(figures.spammers),
                }
            )
    finally:
        connection.close()
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    print(f"{'seed':>9} {'fixed MV':>8} {'fixed DS':>8} {'dyn DS':>8} {'dyn/fixed answers':>17} "
          f"{'spammers removed':>16} {'honest removed':>14} claims")  # fmt: skip
    for r in results:
        f, d = r["fixed"], r["dynamic"]
        spam = set(r["spammers"])
        caught = min(len(spam & set(f["removed"])), len(spam & set(d["removed"])))
        honest = max(len(set(f["removed"]) - spam), len(set(d["removed"]) - spam))
        print(
            f"{r['seed']:>9} {f['majority']:>8.4f} {f['dawid_skene']:>8.4f} {d['dawid_skene']:>8.4f} "
            f"{d['answers'] / f['answers']:>17.3f} {f'{caught}/{len(spam)}':>16} {honest:>14} "
            f"{'hold' if not r['failures'] else 'FAIL'}"
        )
    out = (
        Path(args.out)
        if args.out
        else ROOT
        / "bench"
        / "results"
        / (f"simulate-{args.size}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    body = {**meta, "size": args.size, "config": dataclasses.asdict(config), "seeds": results}
    body["loadavg_at_end"] = os.getloadavg()
    out.write_text(json.dumps(body, indent=2, default=sorted) + "\n")
    log(f"simulate: wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
