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


def test_claim_bench_smoke_run(tmp_path):
    out = tmp_path / "claim.json"
    cmd = [
        sys.executable, "bench/claim.py", "--fresh", "--db-name", "quorum_bench_smoke", "--sizes", "300,600",
        "--open", "200", "--concurrency", "2", "--duration", "1", "--warmup", "0.2", "--workers", "1", "--json", str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    paths = {(r["size"], r["path"]) for r in data["results"]}
    assert {(300, "raw"), (600, "raw")} <= paths
    assert any(path.startswith("http") for _, path in paths)
    assert all(r["cycles"] > 0 and not r["errors"] for r in data["results"]), [(r["path"], r["errors"]) for r in data["results"]]
