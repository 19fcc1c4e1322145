"""Behind PgBouncer in transaction mode, nothing the app leaves on a server connection is needed
by a later transaction (config/dbpool.py). A private PgBouncer (config/pgbouncer.py) is started in
front of the test database; a missing ``pgbouncer`` binary fails these tests (CI installs it).

Each test makes the failure mode happen for real: client A leaves state on server connection S1;
client B then holds S1 in an open transaction, so PgBouncer must give A's next statement another
server connection, S2, where that state does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from clients.models import Client
from config import pgbouncer
from config.dbpool import for_transaction_pooler
from tests.clients.factories import ClientFactory
from tests.e2e.conftest import database_url_for
from tests.settings_probe import settings_value

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bouncer() -> Iterator[pgbouncer.PgBouncer]:
    try:
        pgbouncer.binary()
    except RuntimeError as exc:
        pytest.fail(str(exc))  # never a skip: CI installs pgbouncer (.ci/run)
    with pgbouncer.running(database_url_for(connection.settings_dict["NAME"])) as running:
        yield running


@pytest.fixture
def pooled(bouncer) -> Iterator[dict]:
    """Point Django's default connection at PgBouncer with the pooler settings; restore after.
    The URL asked for prepared statements (``?prepare_threshold=5`` lands in OPTIONS): pooler mode
    must win over that. (Django's own default is already None.)"""
    before = dict(connection.settings_dict)
    connection.close()
    asked = {**before, "OPTIONS": {**before["OPTIONS"], "prepare_threshold": 5}}
    connection.settings_dict.update(for_transaction_pooler(asked, conn_max_age=0))
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(bouncer.port))
    try:
        yield connection.settings_dict
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(before)


def _hold_a_server_connection(bouncer) -> psycopg.Connection:
    """Client B: a transaction left open on PgBouncer, which keeps the idle server connection busy."""
    b = psycopg.connect(bouncer.url(settings.DATABASE_URL, connection.settings_dict["NAME"]))
    b.execute("SELECT 1")  # BEGIN (not autocommit) and hold the server connection
    return b


def test_iterator_outside_a_transaction_survives_a_server_connection_switch(bouncer, pooled):
    ClientFactory.create_batch(3)
    rows = Client.objects.order_by("id").values_list("id", flat=True).iterator(chunk_size=1)
    first = next(rows)  # with a server-side cursor: DECLARE … WITH HOLD on S1, one row fetched
    b = _hold_a_server_connection(bouncer)
    try:
        rest = list(rows)  # with a server-side cursor: FETCH on S2, where it does not exist
    finally:
        b.close()
    assert [first, *rest] == list(Client.objects.order_by("id").values_list("id", flat=True))


def test_a_repeated_query_is_never_prepared_on_one_server_connection(bouncer, pooled):
    # Django's default cursors bind client-side and never prepare; a server-binding cursor on a
    # connection made from Django's parameters (OPTIONS server_side_binding=True, raw psycopg) does
    # after prepare_threshold runs, unless it is None.
    a = psycopg.connect(**connection.get_connection_params())
    a.autocommit = True
    try:
        cursor = psycopg.Cursor(a)
        for i in range(8):
            assert cursor.execute("SELECT %s::int + 1", [i]).fetchone() == (i + 1,)
        b = _hold_a_server_connection(bouncer)
        try:
            assert cursor.execute("SELECT %s::int + 1", [41]).fetchone() == (42,)
        finally:
            b.close()
    finally:
        a.close()


def _database_settings(env_extra: dict) -> list:
    """The default database's settings in a fresh process (settings are read at start-up)."""
    return settings_value(
        "[(d := settings.DATABASES['default']).get('DISABLE_SERVER_SIDE_CURSORS', False), "
        "d['OPTIONS'].get('prepare_threshold', 'unset'), d['CONN_MAX_AGE']]",
        env_extra,
        unset=["DATABASE_POOLER", "DB_CONN_MAX_AGE"],
    )


@pytest.mark.django_db(transaction=False)
def test_database_pooler_pgbouncer_is_read_from_the_environment():
    assert _database_settings({}) == [False, "unset", 60]
    url = "postgresql://postgres@127.0.0.1:6432/quorum?prepare_threshold=5"
    assert _database_settings({"DATABASE_POOLER": "pgbouncer", "DATABASE_URL": url}) == [True, None, 0]
    assert _database_settings({"DATABASE_POOLER": "pgbouncer", "DB_CONN_MAX_AGE": "30"})[2] == 30
