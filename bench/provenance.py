"""What every result file records about where its figures came from: the commit (and whether the
work tree had changes), the command that produced it, and the load average around the run."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_db_name(base: str) -> str:
    """A bench's default database: ``<base>_<run name>`` under the launcher (which always exports
    ``QUORUM_RUN_NAME``, per checkout by default), so two checkouts benchmarking on one server never
    share (or ``--fresh``-drop) each other's database; ``base`` alone outside it."""
    run = os.environ.get("QUORUM_RUN_NAME")
    return f"{base}_{run}" if run else base


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance(script: str, argv: list[str], make_target: str | None = None) -> dict:
    """``commit``: HEAD; ``dirty``: tracked files differ from it (figures then belong to HEAD plus
    those changes); ``command``: how to run it again."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    command = f"{Path(sys.executable).name} {script} {shlex.join(argv)}".strip()
    if make_target:
        command = f"make {make_target}" + (f" BENCH_ARGS='{shlex.join(argv)}'" if argv else "")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "command": command,
        "argv": argv,
        "loadavg_at_start": os.getloadavg(),
    }


def cpu_seconds_of(pid: int) -> float:
    """utime + stime of a process (any user's, from /proc), in seconds; 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
