"""End-to-end fixtures: a real Celery worker process against the test database and Redis.

The worker is a separate OS process (``celery -A config worker``), so it sees only what the test
has committed: use it with ``@pytest.mark.django_db(transaction=True)``. pytest-django renames the
database for the session (``test_…``); the worker is pointed at that name through ``DATABASE_URL``.

Each worker consumes private copies of the app's queues (``e2e-<random>.default``,
``e2e-<random>.webhooks``, …), and for the duration of the test this process routes every message
to the copy of the queue it would have gone to. Several test runs share Redis db 15 (developers,
CI jobs): a worker of another run consuming ``default`` would take this run's wake-ups to its own
database, where the ids do not exist, and they would be lost for this run. Messages a task
publishes from inside the worker still go to the real queues; no test here relies on those.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
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


def database_url_for(name: str, application_name: str = "") -> str:
    """The project's ``DATABASE_URL`` with its database replaced by ``name`` (the test database),
    and the sessions named ``application_name`` (in ``pg_stat_activity``) when one is given."""
    parts = urlsplit(settings.DATABASE_URL)
    parts = parts._replace(path="/" + quote(name, safe=""))
    if application_name:
        query = "&".join(q for q in (parts.query, f"application_name={quote(application_name)}") if q)
        parts = parts._replace(query=query)
    return parts.geturl()


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def succeeded(self, task_id: str) -> str | None:
        """The return value a task reported in the worker log (``Task name[id] succeeded in …s: value``)."""
        match = re.search(
            rf"\[{re.escape(task_id)}\] succeeded in [0-9.e-]+s: (.*)$", self.log(), re.MULTILINE
        )
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


def _sessions_named(db_name: str, application_name: str) -> int:
    """Sessions on ``db_name`` named ``application_name``: the worker's, not the live server's (a
    browser test's keep-alive connections hold a server thread and its session until the page's
    context closes, after this fixture's teardown)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s "
            "AND pid <> pg_backend_pid()",
            [db_name, application_name],
        )
        return cursor.fetchone()[0]


class _PrivateQueues:
    """A Celery router that sends each message to ``<prefix>.<the queue the app's router picks>``."""

    def __init__(self, inner, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix

    def queue_for(self, name: str) -> str:
        return f"{self.prefix}.{self.inner.route({}, name)['queue'].name}"

    def route(self, options, name, args=(), kwargs=None, task_type=None):
        routed = self.inner.route(options, name, args, kwargs, task_type)
        private = self.inner.queues[f"{self.prefix}.{routed['queue'].name}"]
        return {**{k: v for k, v in routed.items() if k not in ("exchange", "routing_key")}, "queue": private}


def _delete_queue(celery_app, queue: str) -> None:
    """Drop the queue, its messages and its bindings from the broker (declare first: kombu's
    virtual transports only delete the bindings a channel knows about)."""
    with celery_app.connection_for_write() as conn:
        bound = celery_app.amqp.queues[queue].bind(conn.default_channel)
        bound.declare()
        bound.delete()


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path) -> Iterator[WorkerProcess]:
    """Start ``celery -A config worker`` (prefork, 2 children) on the test database, consuming
    private copies of the app's queues that this process publishes to; stop the process group and
    delete the queues after."""
    from config.celery import app as celery_app

    db_name = connection.settings_dict["NAME"]
    app_router = celery_app.amqp.router
    private = _PrivateQueues(app_router, prefix=f"e2e-{uuid.uuid4().hex[:12]}")
    celery_app.loader.import_default_modules()  # autodiscovery: register every app's tasks here too
    queues = sorted({private.queue_for(name) for name in celery_app.tasks if not name.startswith("celery.")})
    assert queues, "no Celery tasks were discovered"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url_for(db_name, application_name=private.prefix),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "QUORUM_OUTBOUND_ALLOW_LOOPBACK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "celery-worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool", "prefork", "--concurrency", "2",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel", "INFO", "-Q", ",".join(queues), "-n", f"{private.prefix}@%h",
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = WorkerProcess(process=process, log_path=log_path)
    celery_app.amqp.router = private  # send_task() asks amqp.router for every message
    try:
        ready = wait_until(
            lambda: process.poll() is not None or re.search(r"\bready\.", worker.log()),
            timeout=WORKER_READY_TIMEOUT,
        )
        if not ready or process.poll() is not None:
            pytest.fail(
                f"the Celery worker did not become ready (exit code {process.poll()}):\n{worker.log()}"
            )
        yield worker
    finally:
        celery_app.amqp.router = app_router
        _stop(process)
        # Shown by pytest only when the test fails (captured teardown output).
        print(f"----- Celery worker log (exit code {process.returncode}) -----\n{worker.log()}")
        # The database is flushed and later dropped: wait for the worker's sessions to go away.
        wait_until(lambda: _sessions_named(db_name, private.prefix) == 0, timeout=10)
        for queue in queues:
            _delete_queue(celery_app, queue)
