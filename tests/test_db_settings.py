"""``DB_CONN_HEALTH_CHECKS`` is read from the environment at start-up (default on)."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.settings_probe import settings_value


def _health_checks(value: str | None) -> bool:
    env = {} if value is None else {"DB_CONN_HEALTH_CHECKS": value}
    return settings_value(
        "settings.DATABASES['default']['CONN_HEALTH_CHECKS']", env, unset=["DB_CONN_HEALTH_CHECKS"]
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("true", True), ("false", False), ("0", False)]
)
def test_connection_health_checks_follow_the_setting(value, expected):
    assert _health_checks(value) is expected


# --- the health check itself (core/postgresql/base.py) -----------------------------------------------


@pytest.fixture
def own_connection():
    """A connection of our own (not the test's transaction), closed at the end."""
    from django.db import connections

    conn = connections.create_connection("default")
    conn.ensure_connection()
    yield conn
    conn.close()


@pytest.mark.django_db(transaction=True)
def test_a_quiet_healthy_connection_is_usable_without_a_statement(own_connection, monkeypatch):
    from django.db.backends.postgresql.base import DatabaseWrapper as DjangoWrapper

    assert settings.DATABASES["default"]["ENGINE"] == "core.postgresql"
    round_trips = []
    monkeypatch.setattr(DjangoWrapper, "is_usable", lambda self: round_trips.append(1) or True)
    with own_connection.cursor() as cursor:  # use it, as a request would
        cursor.execute("SELECT 1")
    assert own_connection.is_usable() is True
    assert round_trips == []  # nothing was pending on the socket: no SELECT 1


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_unusable_and_replaced(own_connection):
    import select

    import psycopg

    pid = own_connection.connection.info.backend_pid
    with psycopg.connect(own_connection.connection.info.dsn, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] is True
    # The server's FATAL message and end-of-file arrive on the idle socket (no timing: wait for it).
    poller = select.poll()
    poller.register(own_connection.connection.fileno(), select.POLLIN)
    assert poller.poll(60_000), "the server never closed the terminated backend's socket"
    assert own_connection.is_usable() is False
    # What Django does at the next request: the health check closes it, the next query reconnects.
    own_connection.health_check_enabled, own_connection.health_check_done = True, False
    own_connection.close_if_health_check_failed()
    assert own_connection.connection is None
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
