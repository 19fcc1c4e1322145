"""The Procfile runs from a fresh checkout pointed at real servers (the production path).

A temporary ``git clone`` of this checkout's HEAD has no ``var/`` (it is git-ignored), and with
``DATABASE_URL`` and ``REDIS_URL`` set nothing else creates it. Every Procfile process is started
from the clone as an operator would (``sh -c`` per line, as honcho does); the test waits until
web answers, each worker says it is ready and beat has sent its first due tasks (beat opens its
schedule file before that), then checks that no process has exited, and stops them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from bench.procs import ProcessSet, http_ok, wait_until
from tests.e2e.conftest import database_url_for

ROOT = Path(settings.BASE_DIR)
START_TIMEOUT = 120.0  # two shared cores: five Python processes take a while to import Django


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_procfile_processes_start_and_stay_up_from_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    assert not (clone / "var").exists()  # the fresh checkout the issue describes
    port = _free_port()
    prefix = f"{settings.REDIS_KEY_PREFIX}procfile-{uuid.uuid4().hex[:8]}:"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": settings.REDIS_URL,
        "QUORUM_REDIS_PREFIX": prefix,  # private queues: nothing of this run's other tests is consumed
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "CELERY_CONCURRENCY": "1",
        "WEBHOOK_CONCURRENCY": "1",
        "EXPORT_CONCURRENCY": "1",
    }
    procs = ProcessSet(procfile=clone / "Procfile", cwd=clone, env=env, log_dir=tmp_path / "logs")
    assert set(procs.procs) == {"web", "worker", "webhooks", "exports", "beat"}
    try:
        procs.start_all()
        assert wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/healthz") or procs.dead(), timeout=START_TIMEOUT
        )
        for name in ("worker", "webhooks", "exports"):
            assert procs.wait_log(name, r"ready\.", timeout=START_TIMEOUT) or procs.dead(), name
        assert procs.wait_log("beat", r"Sending due task", timeout=START_TIMEOUT) or procs.dead()
        logs = {name: proc.log()[-3000:] for name, proc in procs.procs.items()}
        assert procs.dead() == [], logs
        assert http_ok(f"http://127.0.0.1:{port}/healthz"), logs["web"]
        assert (clone / "var" / "celerybeat-schedule").exists() or any(
            (clone / "var").glob("celerybeat-schedule*")
        )
    finally:
        procs.stop_all()
        r = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(r.scan_iter(f"{prefix}*"))
        if keys:
            r.delete(*keys)
        shutil.rmtree(clone, ignore_errors=True)
