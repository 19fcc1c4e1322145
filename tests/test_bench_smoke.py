"""The benchmark still runs against the current schema (a smoke run, not a measurement).

bench/claim.py writes SQL of its own for speed (bulk loads, the raw loop); this catches it
drifting from the models. Its figures are not checked: timings belong in bench/, not in tests.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
    """bench/export.py loads its own rows with SQL and runs each export in a child process."""
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
        "--chunk-size",
        "25",
        "--json",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {(r["size"], r["format"]): r for r in data["results"]}
    assert set(rows) == {(n, f) for n in (30, 70) for f in ("coco", "jsonl+answers")}
    assert all(
        r["tasks"] == size and r["file_bytes"] > 0 and r["traced_peak_bytes"] > 0
        for (size, _), r in rows.items()
    )
    assert rows[(70, "jsonl+answers")]["file_bytes"] > 70 * 2 * len(
        '"annotations"'
    )  # records with their answers
    assert data["hardware"]["cpus"] and data["chunk_size"] == 25
