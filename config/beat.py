"""One scheduler across any number of beat processes: a PostgreSQL leader lock.

Every node may run ``celery -A config beat`` (the Procfile's ``beat`` line); settings make
``LeaderScheduler`` the scheduler of every beat. Each beat holds its own **direct** connection to
PostgreSQL (``QUORUM_SCHEDULER_DATABASE_URL``, default ``DATABASE_URL``) and tries
``pg_try_advisory_lock`` on it. The process that holds the lock is the leader and the only one that
sends due tasks; the others send nothing and try again every ``QUORUM_BEAT_LEADER_POLL_SECONDS``.

The lock is session-level: it belongs to that one server connection and is released by PostgreSQL
when the connection ends (the leader exits, is killed, or its host goes away: TCP keepalives on
both ends, set below, bound how long a silent peer holds it). A follower then takes over at its
next poll. The leader runs ``SELECT 1`` on its connection before each tick and stops sending as
soon as that fails, so a leader cut off from PostgreSQL steps down instead of sending alongside
the next one.

Because the lock lives in a session, this connection must NOT go through a transaction-mode pooler
(PgBouncer ``pool_mode=transaction`` hands the server connection, and its lock, to other clients
between transactions). With ``DATABASE_POOLER=pgbouncer`` beat refuses to start unless
``QUORUM_SCHEDULER_DATABASE_URL`` names PostgreSQL itself.

A new leader starts from its own schedule state (its local schedule file), as a restarted beat
does: interval jobs that are overdue run at once, then every period. Every periodic job here is a
relay, sweep or billing job that is safe to run twice (docs/reliability.md, rule 4; billing/tasks.py),
so a takeover may repeat one run; it does not skip one.
"""

from __future__ import annotations

import logging
import zlib

import psycopg
from celery.beat import PersistentScheduler
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# One lock per database: two deployments on one PostgreSQL server, in different databases, each
# get their own leader. A fixed 64-bit key (CRC32 of a name) keeps it readable in pg_locks.
LOCK_KEY = zlib.crc32(b"quorum.beat.leader")

# libpq keepalives: a leader whose host vanishes without closing its socket is noticed by the
# server within about idle + interval * count seconds, and the lock is released.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 25_000,
    "application_name": "quorum-beat",
    # the server side of the same bound, for this session only
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
}


def scheduler_database_url() -> str:
    if settings.QUORUM_SCHEDULER_DATABASE_URL:
        return settings.QUORUM_SCHEDULER_DATABASE_URL
    if settings.DATABASE_POOLER != "none":
        raise ImproperlyConfigured(
            "DATABASE_POOLER is set: beat's leader lock is a session lock and cannot go through a "
            "transaction-mode pooler. Set QUORUM_SCHEDULER_DATABASE_URL to PostgreSQL itself."
        )
    return settings.DATABASE_URL


class LeaderScheduler(PersistentScheduler):
    """A ``PersistentScheduler`` that sends due tasks only while it holds the leader lock."""

    def __init__(self, *args, **kwargs):
        self._lock_conn: psycopg.Connection | None = None
        self.is_leader = False
        self.poll_seconds = float(settings.QUORUM_BEAT_LEADER_POLL_SECONDS)
        self._url = scheduler_database_url()
        self._waiting_logged = False
        super().__init__(*args, **kwargs)

    # -- the lock ---------------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection:
        timeout = int(settings.DATABASES["default"]["OPTIONS"].get("connect_timeout", 5))
        # autocommit: the lock is the session's, no transaction is left open; prepare_threshold
        # None: nothing is prepared (harmless here, and the connection is direct anyway).
        return psycopg.connect(
            self._url, autocommit=True, connect_timeout=timeout, prepare_threshold=None, **_KEEPALIVES
        )

    def _drop(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def holds_lock(self) -> bool:
        """True while this process is the leader; tries to become it when it is not."""
        if self.is_leader:
            try:
                self._lock_conn.execute("SELECT 1").fetchone()
                return True
            except psycopg.Error as exc:
                logger.error("beat leader: lost the PostgreSQL connection (%s); no longer sending", exc)
                self.is_leader = False
                self._drop()
                return False
        try:
            if self._lock_conn is None or self._lock_conn.closed:
                self._drop()
                self._lock_conn = self._connect()
            (got,) = self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()
        except psycopg.Error as exc:
            logger.warning("beat: PostgreSQL unreachable for the leader lock (%s); not sending", exc)
            self._drop()
            return False
        if got:
            self.is_leader = True
            self._waiting_logged = False
            logger.info("beat leader: acquired the leader lock; sending due tasks")
        elif not self._waiting_logged:
            logger.info("beat follower: another beat holds the leader lock; waiting to take over")
            self._waiting_logged = True
        return got

    # -- celery.beat.Scheduler --------------------------------------------------------------------

    def tick(self, *args, **kwargs):
        if not self.holds_lock():
            return self.poll_seconds
        return min(super().tick(*args, **kwargs), self.poll_seconds)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.is_leader = False
            self._drop()  # releases the lock at once
