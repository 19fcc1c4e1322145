"""bench/capacity.py still runs, and its per-cycle figures hang together (a smoke run, not a
measurement: tiny sizes, no timing asserted).

It starts its own PostgreSQL cluster with pg_stat_statements (so it needs the server binaries and
the contrib module, as bench/chaos.py does) and Redis from the launcher for the HTTP path.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.long_run  # scheduled first: see tests/conftest.py
CYCLES = 60


def test_capacity_bench_smoke_run(tmp_path):
    out = tmp_path / "capacity.json"
    cmd = [
        sys.executable, "bench/capacity.py", "--cycles", str(CYCLES), "--concurrency", "4", "--size", "400",
        "--open", "200", "--gold", "20", "--hot-updates", "60", "--json", str(out),
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert (
        data["commit"] and data["command"].startswith("make bench-capacity") and data["hardware"]["cpu_model"]
    )
    assert "pg_stat_statements" in data["hardware"]["postgresql_settings"]["shared_preload_libraries"]
    runs = {r["path"]: r for r in data["runs"]}
    assert set(runs) == {"raw", "http"}
    for path, r in runs.items():
        c, calls = r["per_cycle"], r["per_cycle"]["statement_calls"]
        assert r["cycles"] == CYCLES and r["errors"] == 0 and not r["drained"], (path, r["errors"])
        # tests/annotation/test_query_budget.py: a claim is one statement, a submit is one statement
        # (in BEGIN/COMMIT: the answer's validation runs before the commit).
        assert calls["claim"] == CYCLES and calls["submit"] == CYCLES, (path, calls)
        assert calls["transaction"] == 2 * CYCLES, (path, calls)
        # Authentication is cached per process: a lookup per connection at most, not per request.
        assert calls.get("auth", 0) + calls.get("other", 0) <= 2 * 4 + 8, (path, calls)
        assert 2 <= c["work_statements"] < 2.3, (path, c["work_statements"])
        assert c["pg_cluster_cpu_ms"] > 0 and c["exec_ms"] > 0 and c["buffers"]["hit"] > 0, path
        assert c["wal_bytes"] > 0 and c["wal_records"] > 0 and c["wal_bytes_pg_stat_wal"] > 0, path
        assert c["wal_bytes_statements"] <= c["wal_bytes"], path  # commit records and autovacuum: outside
        tables = c["tables"]
        assert tables["annotation_assignment"]["inserted"] == 1.0, path  # one lease per claim
        assert tables["annotation_submission"]["inserted"] == 1.0, path  # one answer per submit
        assert tables["annotation_task"]["dead_tuples_made"] > 0 and c["table_bytes_grown"] > 0, path
        assert 0 < r["completed_tasks_per_cycle"] <= 1 / 3 + 0.05, path  # overlap 3
    # Django checks its persistent connection at the start of every request (DB_CONN_HEALTH_CHECKS),
    # with a SELECT 1 only when the server wrote on the idle connection (core/postgresql/base.py):
    # on a healthy run next to none, so both paths make the same round trips. A SELECT 1 per request
    # would be 2 per cycle; what is counted instead is the web server's readiness probes (GET /healthz
    # every 0.2 s until every worker is up, in the window: more of them on a busy machine, 6 seen
    # with a second test worker running), so the bound is one per cycle, not a tenth.
    health = runs["http"]["per_cycle"]["statement_calls"].get("health", 0)
    assert health < CYCLES, health
    assert "health" not in runs["raw"]["per_cycle"]["statement_calls"]
    assert runs["raw"]["per_cycle"]["round_trips"] <= runs["http"]["per_cycle"]["round_trips"]
    assert {h["rows"] for h in data["hot_row"]} >= {1, 4} and all(
        h["updates_per_s"] > 0 for h in data["hot_row"]
    )
    model = data["model"]
    assert [row["vcpus"] for row in model["rows"]] == [2, 8, 32, 96]
    cpu = [row["limits"]["PostgreSQL CPU"] for row in model["rows"]]
    assert cpu[0] > 0 and cpu == sorted(cpu)  # more cores, more cycles at the same CPU per cycle
    assert all(row["cycles_per_s"] > 0 and row["tasks_per_day"] > 0 for row in model["rows"])
