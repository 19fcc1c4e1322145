"""bench/consensus.py still runs (a smoke run, not a measurement): pure numpy, no database.

Its figures are not checked, except the ones that are not timings: the accuracies are fractions
and Dawid-Skene is at least as accurate as majority vote on the generator's crowd."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_consensus_bench_smoke_run(tmp_path):
    out = tmp_path / "consensus.json"
    cmd = [
        sys.executable,
        "bench/consensus.py",
        "--tasks",
        "2000",
        "--annotators",
        "50",
        "--repeat",
        "1",
        "--no-crowdkit",
        "--json",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["labels"] == 10_000 and data["params"]["tasks"] == 2000
    results = data["results"]
    assert set(results) == {"majority_vote", "dawid_skene_cold", "dawid_skene_warm"}
    assert all(
        0 < r["accuracy"] <= 1 and r["seconds_best"] > 0 and r["tracemalloc_peak_mb"] >= 0
        for r in results.values()
    )
    assert results["dawid_skene_cold"]["accuracy"] >= results["majority_vote"]["accuracy"]
    assert results["dawid_skene_cold"]["iterations"] >= 1
    assert data["hardware"]["cpus"]
    assert "crowd-kit: skipped" in result.stdout and data["vs_crowdkit"] is None
