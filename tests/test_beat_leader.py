"""Exactly one scheduler across any number of beat processes (config/beat.py).

Real processes: the test starts ``celery -A config beat`` twice (as two nodes would run the
Procfile's beat line, each with its own schedule file), on the test database and this run's Redis
prefix, with a one-job schedule (a probe every second, tests/beat_probe_settings.py) routed to a
private queue that nothing consumes. Every message a beat publishes names its sender in the
``origin`` header (``gen<pid>@host``), so the queue tells who sent what:

- while both run, every probe comes from one of them, and each of its sends is one message (the
  count in the queue equals the "Sending due task" lines in the leader's log; the other has none);
- ``kill -9`` of the leader's process group drops its PostgreSQL session and so the lock: the
  other beat starts sending, alone, and a third one started then waits as a follower.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.e2e.conftest import database_url_for, wait_until

ROOT = Path(settings.BASE_DIR)
START_TIMEOUT = 120.0  # hang guard: two shared cores importing Django in three processes
SENT = re.compile(r"Sending due task beat-probe")


class Beat:
    def __init__(self, name: str, env: dict[str, str], tmp: Path):
        self.name = name
        self.log_path = tmp / f"{name}.log"
        with open(self.log_path, "wb") as log:
            # fmt: off
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                 "--schedule", str(tmp / f"{name}-schedule")],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            # fmt: on

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sends(self) -> int:
        return len(SENT.findall(self.log()))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _senders(client: redis.Redis, key: str) -> list[int]:
    """The pid of the process that published each message in the queue, oldest first."""
    out = []
    for raw in reversed(client.lrange(key, 0, -1)):  # LPUSH: newest first
        origin = json.loads(raw)["headers"]["origin"]  # gen<pid>@<host>
        out.append(int(re.match(r"gen(\d+)@", origin).group(1)))
    return out


@pytest.mark.django_db
def test_one_beat_sends_and_another_takes_over_when_it_dies(tmp_path):
    queue = f"beatprobe-{uuid.uuid4().hex[:8]}"
    key = f"{settings.REDIS_KEY_PREFIX}{queue}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.beat_probe_settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": settings.REDIS_URL,
        "QUORUM_REDIS_PREFIX": settings.REDIS_KEY_PREFIX,
        "BEAT_PROBE_QUEUE": queue,
    }
    # The lock on the test database, directly (make test-pgbouncer sets QUORUM_SCHEDULER_DATABASE_URL
    # to the server itself, DATABASE_URL to PgBouncer).
    client = redis.Redis.from_url(settings.REDIS_URL)
    beats = {name: Beat(name, env, tmp_path) for name in ("a", "b")}

    def report() -> str:
        return "\n".join(f"--- beat {n} (pid {b.pid}) ---\n{b.log()[-3000:]}" for n, b in beats.items())

    try:
        # Both are up and probes have been sent for a few periods.
        assert wait_until(
            lambda: all("beat: Starting" in b.log() for b in beats.values()) and client.llen(key) >= 6,
            timeout=START_TIMEOUT,
        ), report()
        assert all(b.process.poll() is None for b in beats.values()), report()
        senders = _senders(client, key)
        leader = next(b for b in beats.values() if b.pid == senders[0])
        follower = next(b for b in beats.values() if b is not leader)
        assert set(senders) == {leader.pid}, report()  # one scheduler: the other never sent
        assert follower.sends() == 0, report()
        assert wait_until(lambda: "waiting to take over" in follower.log(), timeout=START_TIMEOUT), report()
        # each period's send is one message: the leader's sends, and nothing else, are in the queue
        assert wait_until(lambda: client.llen(key) == leader.sends(), timeout=10), report()

        # The leader dies without a word: its session ends, PostgreSQL releases the lock, and the
        # follower takes over.
        leader.kill()
        before = client.llen(key)
        beats["c"] = Beat("c", env, tmp_path)  # a newcomer while b takes over: it must wait
        assert wait_until(lambda: follower.sends() >= 3, timeout=START_TIMEOUT), report()
        assert "acquired the leader lock" in follower.log(), report()
        assert wait_until(lambda: "follower" in beats["c"].log(), timeout=START_TIMEOUT), report()
        assert wait_until(lambda: follower.sends() >= 6, timeout=START_TIMEOUT), report()
        after = _senders(client, key)[before:]
        assert set(after) == {follower.pid}, report()
        assert beats["c"].sends() == 0, report()
        assert wait_until(lambda: client.llen(key) - before == follower.sends(), timeout=10), report()
    finally:
        for beat in beats.values():
            beat.kill(signal.SIGTERM)
        client.delete(key)


def test_beat_behind_a_transaction_pooler_needs_a_direct_scheduler_url(settings):
    from django.core.exceptions import ImproperlyConfigured

    from config.beat import scheduler_database_url

    settings.DATABASE_POOLER = "pgbouncer"
    settings.QUORUM_SCHEDULER_DATABASE_URL = ""
    with pytest.raises(ImproperlyConfigured, match="QUORUM_SCHEDULER_DATABASE_URL"):
        scheduler_database_url()
    settings.QUORUM_SCHEDULER_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/quorum"
    assert scheduler_database_url() == "postgresql://postgres@127.0.0.1:5432/quorum"


@pytest.mark.django_db(transaction=True)
def test_a_leader_cut_off_from_postgresql_steps_down_and_a_follower_leads(settings, tmp_path):
    """The leader's session is terminated on the server (as a network cut or a failover would end
    it): PostgreSQL releases the lock, the old leader notices at its next check and stops sending,
    and the follower becomes the leader."""
    from config.beat import LeaderScheduler
    from config.celery import app

    settings.QUORUM_SCHEDULER_DATABASE_URL = settings.QUORUM_SCHEDULER_DATABASE_URL or database_url_for(
        connection.settings_dict["NAME"]
    )
    a = LeaderScheduler(app=app, schedule_filename=str(tmp_path / "a"))
    b = LeaderScheduler(app=app, schedule_filename=str(tmp_path / "b"))
    try:
        assert a.holds_lock() and not b.holds_lock()
        backend = a._lock_conn.info.backend_pid
        with psycopg.connect(settings.QUORUM_SCHEDULER_DATABASE_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [backend])
            assert wait_until(
                lambda: (
                    not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend]).fetchone()
                ),
                timeout=10,
            )
        assert not a.holds_lock()  # its check fails: no longer the leader
        assert b.holds_lock()  # the lock was released with a's session
        assert a.tick() == a.poll_seconds and not a.is_leader  # reconnected, b leads: a sends nothing
    finally:
        a.close()
        b.close()
