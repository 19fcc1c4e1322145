"""End-to-end fixtures: a real Celery worker process against the test database and Redis.

The worker is a separate OS process (``celery -A config worker``), so it sees only what the test
has committed: use it with ``@pytest.mark.django_db(transaction=True)``. pytest-django renames the
database for the session (``test_…``); the worker is pointed at that name through ``DATABASE_URL``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
WORKER_READY_TIMEOUT = 60.0


def wait_until(predicate: Callable[[], object], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it returns something truthy; False if ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def database_url_for(name: str) -> str:
    """The project's ``DATABASE_URL`` with its database replaced by ``name`` (the test database)."""
    parts = urlsplit(settings.DATABASE_URL)
    return parts._replace(path="/" + quote(name, safe="")).geturl()


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def succeeded(self, task_id: str) -> str | None:
        """The return value a task reported in the worker log (``Task name[id] succeeded in …s: value``)."""
        match = re.search(rf"\[{re.escape(task_id)}\] succeeded in [0-9.e-]+s: (.*)$", self.log(), re.MULTILINE)
        return match.group(1).strip() if match else None

    def wait_succeeded(self, task_id: str, timeout: float = 30.0) -> str:
        assert wait_until(lambda: self.succeeded(task_id) is not None, timeout=timeout), (
            f"task {task_id} did not succeed within {timeout} s; worker log:\n{self.log()}"
        )
        return self.succeeded(task_id)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # the whole group: main process and pool children
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _other_sessions(db_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db_name]
        )
        return cursor.fetchone()[0]


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path) -> Iterator[WorkerProcess]:
    """Start ``celery -A config worker`` (prefork, 2 children, queue ``default``) on the test
    database; purge the queue first (Redis db 15 is test-only); stop the process group after."""
    from config.celery import app as celery_app

    db_name = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url_for(db_name),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "QUORUM_OUTBOUND_ALLOW_LOOPBACK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    celery_app.control.purge()  # stale wake-ups from earlier runs would only be no-ops, but noisy
    log_path = tmp_path / "celery-worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool", "prefork", "--concurrency", "2",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel", "INFO", "-Q", "default", "-n", f"e2e-{os.getpid()}@%h",
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = WorkerProcess(process=process, log_path=log_path)
    try:
        ready = wait_until(
            lambda: process.poll() is not None or re.search(r"\bready\.", worker.log()), timeout=WORKER_READY_TIMEOUT
        )
        if not ready or process.poll() is not None:
            pytest.fail(f"the Celery worker did not become ready (exit code {process.poll()}):\n{worker.log()}")
        yield worker
    finally:
        _stop(process)
        # Shown by pytest only when the test fails (captured teardown output).
        print(f"----- Celery worker log (exit code {process.returncode}) -----\n{worker.log()}")
        # The database is flushed and later dropped: wait for the worker's sessions to go away.
        wait_until(lambda: _other_sessions(db_name) == 0, timeout=10)
