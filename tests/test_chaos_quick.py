"""The chaos suite's short tier (bench/chaos.py --quick) on every test run: the real processes on
private PostgreSQL and Redis, with the faults that fit in about a minute. Only the figures that
must be zero (or a refusal) are asserted, never a timing; the whole suite is ``make chaos``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.long_run  # scheduled first: see tests/conftest.py


def test_the_quick_chaos_tier_holds_its_zero_figures(tmp_path):
    out = tmp_path / "chaos.json"
    result = subprocess.run(
        [sys.executable, "bench/chaos.py", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert out.exists(), result.stdout[-3000:] + result.stderr[-5000:]
    data = json.loads(out.read_text())
    figures = data["figures"]
    report = result.stdout[-4000:] + "\n" + result.stderr[-8000:]  # a process that exited: its log's end
    assert data["failed"] == [], report
    assert figures["suite.unexpected_exits"] == 0, report
    # 16-way contention: never more live or submitted assignments than the overlap, no pair twice
    assert figures["contention.over_assignment"] == 0, report
    assert figures["contention.duplicate_pairs"] == 0, report
    assert figures["contention.http_5xx"] == 0, report
    # SSRF: every payload refused at save and at send, nothing reached the canary
    assert figures["ssrf.accepted"] == 0 and figures["ssrf.api_5xx"] == 0, report
    assert figures["ssrf.canary_connections"] == 0, report
    assert figures["ssrf.refused_at_send"] == f"{figures['ssrf.payloads']}/{figures['ssrf.payloads']}", report
    assert figures["ssrf.redirect_followed"] is False, report
    # hostile inputs: no server error, nothing wrong accepted, nothing changed
    assert figures["hostile.http_5xx"] == 0, report
    assert figures["hostile.accepted_but_wrong"] == 0, report
    assert figures["hostile.rows_changed"] == 0, report
    # brute force: locked before the limit, and the right password refused once locked
    for path in ("login", "admin"):
        assert figures[f"brute_force.{path}.evaluated_per_minute"] < 5, report
        assert figures[f"brute_force.{path}.right_password_after_lockout"] == 429, report
    # Redis stopped under claim/submit load: no 5xx (committed work answers its result), no callback lost
    assert figures["redis_outage.http_5xx"] == 0, report
    assert figures["redis_outage.committed_5xx"] == 0, report
    assert figures["redis_outage.callbacks_lost"] == 0, report
