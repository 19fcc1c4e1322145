"""bench/billing.py still runs against the current schema (a smoke run, not a measurement).

It loads the ledger with SQL of its own for speed; this catches that SQL drifting from the
models, and checks the one figure that is not a timing: invoice totals equal the ledger."""

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


def test_billing_bench_smoke_run(tmp_path):
    out = tmp_path / "billing.json"
    cmd = [
        sys.executable,
        "bench/billing.py",
        "--fresh",
        "--db-name",
        f"quorum_bench_billing_smoke_{RUN}",
        "--clients",
        "12",
        "--entries",
        "3000",
        "--annotators",
        "5",
        "--months",
        "2",
        "--json",
        str(out),
    ]
    result = subprocess.run(cmd, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["sizes"] == {"clients": 12, "transactions": 1500, "entries": 3000}
    assert data["load"]["unbalanced"] == 0
    invoices = data["invoices"]
    assert invoices["totals_equal_ledger"] is True and invoices["invoices"] > 0 and invoices["lines"] > 0
    assert set(data["reports"]) == {"revenue_by_client_month", "concentration", "margin_by_month"}
    assert 0 < data["reports"]["concentration"]["hhi"] <= 10_000
