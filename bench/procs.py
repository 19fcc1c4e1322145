"""Start the Procfile's processes as an operator would, one process group each, so a test or the
chaos suite can kill one of them (``kill -9``), restart it, and read its log.

Each line of the Procfile runs through ``/bin/sh -c`` (as honcho and foreman run it), so
``${PORT:-8000}``-style defaults and ``mkdir -p var && exec …`` behave exactly as in production.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def read_procfile(path: Path) -> dict[str, str]:
    """``{name: command}`` in file order."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line.strip())
        if match and not line.lstrip().startswith("#"):
            out[match.group(1)] = match.group(2)
    return out


def wait_until(predicate: Callable[[], object], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass
class Proc:
    name: str
    command: str
    log_path: Path
    process: subprocess.Popen | None = None
    starts: int = 0

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ProcessSet:
    """The Procfile's processes, started from ``cwd`` with ``env``; logs under ``log_dir``."""

    procfile: Path
    cwd: Path
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, command in read_procfile(self.procfile).items():
            self.procs[name] = Proc(name, command, self.log_dir / f"{name}.log")

    def start(self, name: str) -> Proc:
        proc = self.procs[name]
        proc.starts += 1
        log = open(proc.log_path, "ab")  # noqa: SIM115 - owned by the child from here on
        log.write(f"--- start {proc.starts} ---\n".encode())
        log.flush()
        proc.process = subprocess.Popen(
            ["/bin/sh", "-c", proc.command], cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        return proc

    def start_all(self) -> None:
        for name in self.procs:
            self.start(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (``kill -9`` by default: the main process and its pool)."""
        proc = self.procs[name]
        if proc.process is None:
            return
        try:
            os.killpg(proc.process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.process.pid, signal.SIGKILL)
            proc.process.wait(timeout=10)

    def stop(self, name: str) -> None:
        proc = self.procs[name]
        if not proc.alive():
            return
        try:
            os.killpg(proc.process.pid, signal.SIGTERM)
            proc.process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            self.kill(name)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.process is not None and not proc.alive()]

    def wait_log(self, name: str, pattern: str, *, timeout: float, after: int = 0) -> bool:
        """Wait until ``pattern`` (a regex) appears in the log of ``name`` past offset ``after``."""
        proc = self.procs[name]
        regex = re.compile(pattern)
        return wait_until(lambda: regex.search(proc.log()[after:]) is not None, timeout=timeout, interval=0.2)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except Exception:
        return False
