"""The benchmark still runs against the current schema (a smoke run, not a measurement).

bench/claim.py writes SQL of its own for speed (bulk loads, the raw loop); this catches it
drifting from the models. Its figures are not checked: timings belong in bench/, not in tests.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.long_run  # scheduled first: see tests/conftest.py
# Per test run (make test sets it), so two runs on one machine never drop each other's database.
RUN = os.environ.get("QUORUM_RUN_NAME", "local")


def test_claim_bench_smoke_run(tmp_path):
    out = tmp_path / "claim.json"
    cmd = [
        sys.executable,
        "bench/claim.py",
        "--fresh",
        "--db-name",
        f"quorum_bench_smoke_{RUN}",
        "--sizes",
        "300,600",
        "--open",
        "200",
        "--concurrency",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--workers",
        "1",
        "--json",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    paths = {(r["size"], r["path"]) for r in data["results"]}
    assert {(300, "raw"), (600, "raw")} <= paths
    assert any(path.startswith("http") for _, path in paths)
    assert all(r["cycles"] > 0 and not r["errors"] for r in data["results"]), [
        (r["path"], r["errors"]) for r in data["results"]
    ]


def test_export_bench_smoke_run(tmp_path):
    """bench/export.py loads its own rows with SQL, runs each export in a child process (worker
    path) and through the web server and a real Celery exports worker (api path)."""
    out = tmp_path / "export.json"
    cmd = [
        sys.executable,
        "bench/export.py",
        "--fresh",
        "--db-name",
        f"quorum_bench_export_smoke_{RUN}",
        "--sizes",
        "30,70",
        "--formats",
        "coco,jsonl+answers",
        "--paths",
        "worker,api",
        "--chunk-size",
        "25",
        "--json",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {(r["size"], r["format"], r["path"]): r for r in data["results"]}
    assert set(rows) == {
        (n, f, p) for n in (30, 70) for f in ("coco", "jsonl+answers") for p in ("worker", "api")
    }
    for (size, _, path), r in rows.items():
        assert r["tasks"] == size and r["file_bytes"] > 0 and r["seconds"] > 0
        if path == "worker":
            assert r["traced_peak_bytes"] > 0 and r["cpu_s"] > 0
        else:
            assert r["worker_cpu_s"] > 0 and r["web_cpu_s"] > 0
    assert rows[(70, "jsonl+answers", "worker")]["file_bytes"] > 70 * 2 * len('"annotations"')  # with answers
    assert (
        rows[(70, "jsonl+answers", "api")]["file_bytes"]
        == rows[(70, "jsonl+answers", "worker")]["file_bytes"]
    )
    assert data["hardware"]["cpus"] and data["chunk_size"] == 25 and data["commit"] and data["command"]


def test_import_bench_smoke_run(tmp_path):
    """bench/import.py: single requests through the web server and in-process, a replay, and a long run."""
    out = tmp_path / "import.json"
    cmd = [
        sys.executable,
        "bench/import.py",
        "--fresh",
        "--db-name",
        f"quorum_bench_import_smoke_{RUN}",
        "--request-size",
        "40",
        "--repeat",
        "2",
        "--total",
        "200",
        "--workers",
        "1",
        "--profile",
        "--json",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    kinds = [r["kind"] for r in data["single"]]
    assert kinds == ["http", "service", "http", "service"]
    assert all(r["tasks"] == 40 and r["wall_s"] > 0 for r in data["single"])
    assert data["replay"]["status"] == 200
    assert data["long_run"]["counts"] == {"tasks": 200, "task_created_events": 200}
    assert data["long_run"]["requests"] == 5
    assert (
        data["profile"]["by_own_time"] and data["commit"] and data["command"].startswith("make bench-import")
    )
