"""Reads that may lag go to a real streaming replica; money and assignment never do (core/dbrouter.py).

These run under ``make test-replica`` only: config/replica.py makes a replica of the test PostgreSQL
with ``pg_basebackup -R`` and sets ``DATABASE_REPLICA_URL`` (tests/conftest.py leaves this file out of
``make test``, which has no replica). Run without one, this module fails; it never skips.

pytest-django creates the test database on the primary after the replica exists; streaming
replication brings it over. Every test waits for the replica to replay the primary's current WAL
position before it asserts anything read from the replica; replay is paused (``pg_wal_replay_pause``)
where a test needs the replica to be behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings
from django.db import connections, router, transaction

from annotation import services
from clients import services as client_services
from clients.models import Client
from config.launcher import free_port
from core import dbrouter
from tests.annotation.export_factories import CompletedTaskFactory, media_root  # noqa: F401 - fixture
from tests.annotation.factories import AnnotatorFactory, ProjectFactory
from tests.clients.factories import ClientFactory
from tests.conftest import api_for_key
from tests.e2e.conftest import wait_until
from tests.settings_probe import settings_value
from tests.web.factories import NoPasswordUserFactory

if not dbrouter.configured():
    pytest.fail(
        "DATABASE_REPLICA_URL is not set: run these with `make test-replica` (config/replica.py)",
        pytrace=False,
    )

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

REPLAY_TIMEOUT = 60.0


def replica_admin() -> psycopg.Connection:
    """A connection of our own to the replica's cluster (not Django's)."""
    s = settings.DATABASES["replica"]
    return psycopg.connect(
        host=s["HOST"], port=s["PORT"], user=s["USER"] or "postgres", dbname="postgres", autocommit=True
    )


def wait_for_replay() -> None:
    """Until the replica has replayed everything the primary has written so far."""
    _wait_for_wal("pg_last_wal_replay_lsn", "replay")


def wait_for_receive() -> None:
    """Until the replica has received (not necessarily replayed) the primary's WAL so far."""
    _wait_for_wal("pg_last_wal_receive_lsn", "receive")


def _wait_for_wal(position: str, verb: str) -> None:
    """Until the replica's ``position()`` (an LSN function) reaches the primary's current LSN."""
    lsn = dbrouter.primary_lsn()
    with replica_admin() as admin:
        reached = wait_until(
            lambda: admin.execute(f"SELECT {position}() >= %s::pg_lsn", [lsn]).fetchone()[0],
            timeout=REPLAY_TIMEOUT,
        )
    assert reached, f"the replica did not {verb} up to {lsn} within {REPLAY_TIMEOUT}s"


@pytest.fixture(autouse=True)
def replica(settings) -> Iterator[None]:
    # The shared server's other databases write WAL too: a replica that has received a burst but
    # not yet replayed it counts as behind by the age of its last replayed commit. Only the lag
    # test sets a bound.
    settings.QUORUM_REPLICA_MAX_LAG_SECONDS = 3600
    dbrouter.reset()
    wait_for_replay()  # the test database and the previous test's rows, replayed
    yield
    resume_replay()
    dbrouter.reset()


def pause_replay() -> None:
    with replica_admin() as admin:
        admin.execute("SELECT pg_wal_replay_pause()")
        paused = wait_until(
            lambda: admin.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused",
            timeout=REPLAY_TIMEOUT,
        )
    assert paused


def resume_replay() -> None:
    with replica_admin() as admin:
        admin.execute("SELECT pg_wal_replay_resume()")


class Queries:
    """The statements Django sends over one alias's connection, but the router's own health checks."""

    def __init__(self, alias: str):
        self.alias = alias
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        if sql not in (dbrouter.STATUS_SQL, dbrouter.PROBE_SQL):
            self.sql.append(sql)
        return execute(sql, params, many, context)

    def __enter__(self) -> Queries:
        self._cm = connections[self.alias].execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._cm.__exit__(*exc)


def on_replica() -> Queries:
    return Queries("replica")


def test_the_replica_is_a_streaming_standby_of_the_test_database():
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_database()")
        assert cursor.fetchone() == (True, connections["default"].settings_dict["NAME"])


def test_reads_in_replica_reads_come_from_the_replica_and_lag_until_replayed():
    first = ClientFactory()
    wait_for_replay()
    with dbrouter.replica_reads() as alias:
        assert alias == "replica" and router.db_for_read(Client) == "replica"
        assert Client.objects.filter(pk=first.pk).exists()
        with connections[router.db_for_read(Client)].cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            assert cursor.fetchone() == (True,)

    pause_replay()
    second = ClientFactory()  # committed on the primary, not yet replayed
    with dbrouter.replica_reads():
        assert not Client.objects.filter(pk=second.pk).exists()
    assert Client.objects.filter(pk=second.pk).exists()  # outside the block: the primary

    resume_replay()
    wait_for_replay()
    with dbrouter.replica_reads():
        assert Client.objects.filter(pk=second.pk).exists()


def test_writes_and_transactions_inside_replica_reads_use_the_primary():
    client = ClientFactory()
    wait_for_replay()
    with on_replica() as replica_queries, dbrouter.replica_reads() as alias:
        assert alias == "replica"
        with transaction.atomic():  # what decides money or assignment runs in a transaction
            locked = Client.objects.select_for_update().get(pk=client.pk)
            assert Client.objects.filter(pk=client.pk).count() == 1
        locked.name = "renamed"
        locked.save()
    assert replica_queries.sql == []
    assert dbrouter.ReplicaRouter().allow_migrate("replica", "clients") is False
    assert dbrouter.ReplicaRouter().allow_migrate("default", "clients") is True


def test_claim_submit_and_billing_never_touch_the_replica(client_a, api_a):
    project = ProjectFactory(client=client_a, params={"categories": ["car", "bus"]}, price_per_task=12)
    created = api_a.post(
        "/api/v1/tasks/bulk",
        {"project": str(project.id), "tasks": [{"params": {"attachment": "x"}}]},
        format="json",
    )
    assert created.status_code == 201, created.content
    annotator = AnnotatorFactory()
    worker = api_for_key(client_services.access_token_create(user=annotator.user).key)
    wait_for_replay()
    with on_replica() as replica_queries:
        assignment = worker.post("/api/v1/work/next", {}, format="json").json()["assignment"]
        done = worker.post(
            f"/api/v1/work/assignments/{assignment['id']}/submit",
            {"claim_version": assignment["claim_version"], "answer": {"category": "car"}},
            format="json",
        )
        assert done.status_code == 200, done.content
        assert api_a.get("/api/v1/billing/balance").json()["receivable"] == 12
        # the services themselves, even if a caller wrapped them in replica_reads()
        with dbrouter.replica_reads() as alias:
            assert alias == "replica"
            assert services.assignment_claim(annotator=AnnotatorFactory()) is None  # nothing left
    assert replica_queries.sql == []


def test_report_and_invoice_pages_read_from_the_replica(pages_for, client_a, api_a):
    staff = pages_for(NoPasswordUserFactory(is_staff=True))
    wait_for_replay()
    for url, aggregate in (
        ("/ops/?from=2025-01&to=2025-06", "billing_ledgerentry"),  # revenue, margin, pay
        ("/ops/invoices/", None),
        ("/ops/trends/?from=2025-03-01&to=2025-03-05", "generate_series"),  # the task trends
        ("/ops/trends.csv?from=2025-03-01&to=2025-03-05", "generate_series"),
    ):  # the ORM reads and the raw SQL aggregates (core.sqlrows.dict_rows follows the router)
        with on_replica() as replica_queries:
            response = staff.get(url)
        assert response.status_code == 200, url
        assert replica_queries.sql, f"{url} read nothing from the replica"
        if aggregate:
            assert any(aggregate in sql for sql in replica_queries.sql), f"{url}: aggregates on the primary"
    with on_replica() as replica_queries:
        assert api_a.get("/api/v1/billing/invoices").status_code == 200
    assert any("billing_invoice" in sql for sql in replica_queries.sql)


def test_after_a_write_that_caller_reads_from_the_primary_for_a_while(settings, monkeypatch, pages_for):
    settings.QUORUM_REPLICA_STICKY_SECONDS = 10
    now = time.time()
    monkeypatch.setattr(dbrouter, "clock", lambda: now)
    writer = pages_for(NoPasswordUserFactory(is_staff=True))
    other = pages_for(NoPasswordUserFactory(is_staff=True))
    wait_for_replay()

    def replica_reads_of(browser) -> int:
        with on_replica() as replica_queries:
            assert browser.get("/ops/invoices/").status_code == 200
        return len(replica_queries.sql)

    assert replica_reads_of(writer) > 0
    assert (
        writer.post("/ops/invoices/", {"client": "", "period": "bad"}).status_code == 400
    )  # a write request
    assert replica_reads_of(writer) == 0  # pinned to the primary
    assert replica_reads_of(other) > 0  # only the caller who wrote is pinned
    now += 9
    assert replica_reads_of(writer) == 0
    now += 2  # the pin has expired
    assert replica_reads_of(writer) > 0


def test_an_api_client_that_wrote_reads_its_invoices_from_the_primary(settings, client_a, api_a):
    settings.QUORUM_REPLICA_STICKY_SECONDS = 10
    wait_for_replay()
    with on_replica() as before:
        assert api_a.get("/api/v1/billing/invoices").status_code == 200
    created = api_a.post("/api/v1/projects", {"name": "P", "task_type": "categorization"}, format="json")
    assert created.status_code in (201, 400), created.content
    with on_replica() as after:
        assert api_a.get("/api/v1/billing/invoices").status_code == 200
    assert before.sql and after.sql == []


def test_an_unreachable_replica_falls_back_to_the_primary_with_a_warning(pages_for, caplog):
    staff = pages_for(NoPasswordUserFactory(is_staff=True))
    replica_settings = connections["replica"].settings_dict
    real_port = replica_settings["PORT"]
    connections["replica"].close()
    replica_settings["PORT"] = str(free_port())  # nothing listens there
    try:
        with caplog.at_level(logging.WARNING, logger="quorum.replica"):
            response = staff.get("/ops/invoices/")
            assert response.status_code == 200
            assert staff.get("/ops/?from=2025-01&to=2025-06").status_code == 200
        warnings = [r for r in caplog.records if "replica: unavailable" in r.getMessage()]
        assert len(warnings) == 1  # the second page did not try the replica again
    finally:
        connections["replica"].close()
        replica_settings["PORT"] = real_port


def test_a_replica_lost_in_the_middle_of_a_read_is_retried_on_the_primary(caplog):
    client = ClientFactory()
    wait_for_replay()
    ran_on = []

    def read():
        alias = router.db_for_read(Client)
        ran_on.append(alias)
        if alias == "replica":
            with connections["replica"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            with replica_admin() as admin:  # the replica's connection dies under the view
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return Client.objects.get(pk=client.pk).name

    with caplog.at_level(logging.WARNING, logger="quorum.replica"):
        assert dbrouter.run_replica_reads(read) == client.name
    assert ran_on == ["replica", "default"]
    assert any("replica: unavailable" in r.getMessage() for r in caplog.records)


def test_a_replica_too_far_behind_is_not_read(settings):
    pause_replay()
    ClientFactory()
    wait_for_receive()  # received, not replayed: behind by the age of its last replayed commit
    with dbrouter.replica_reads() as alias:
        assert alias == "replica"  # within QUORUM_REPLICA_MAX_LAG_SECONDS (an hour here)
    settings.QUORUM_REPLICA_MAX_LAG_SECONDS = 0
    with dbrouter.replica_reads() as alias:
        assert alias == "default"


@pytest.mark.usefixtures("media_root")
def test_an_export_reads_the_replica_once_it_has_replayed_what_the_primary_had(settings, client_a):
    project = ProjectFactory(client=client_a)
    for _ in range(3):
        CompletedTaskFactory(project=project, response={"category": "car"}, confidence=1.0)

    def export() -> tuple[int, list[str]]:
        job = services.export_create(client=client_a, actor=None, project=project, format="jsonl").job
        with on_replica() as replica_queries:
            done = services.export_run(export_id=job.id)
        assert done.status == "ready", done.error
        return done.task_count, [sql for sql in replica_queries.sql if "annotation_task" in sql]

    # the attempt's own writes (the job's claim) reach the replica within this generous guard
    settings.QUORUM_REPLICA_CATCH_UP_SECONDS = REPLAY_TIMEOUT
    count, task_reads = export()
    assert count == 3 and task_reads  # caught up: the tasks were read from the replica

    settings.QUORUM_REPLICA_CATCH_UP_SECONDS = 0
    pause_replay()
    CompletedTaskFactory(project=project, response={"category": "bus"}, confidence=1.0)
    count, task_reads = export()
    assert count == 4 and task_reads == []  # the replica is behind: read from the primary


def _database_settings(env_extra: dict) -> list:
    """The databases and routers in a fresh process (settings are read at start-up)."""
    return settings_value(
        "[sorted(settings.DATABASES), settings.DATABASE_ROUTERS, (r := settings.DATABASES.get('replica')) "
        "and [r['PORT'], r['TEST']['MIRROR'], r['OPTIONS']['connect_timeout']]]",
        env_extra,
        unset=["DATABASE_REPLICA_URL"],
    )


@pytest.mark.django_db(transaction=False)
def test_database_replica_url_adds_the_replica_alias_and_the_router():
    assert _database_settings({}) == [["default"], [], None]
    url = "postgresql://postgres@127.0.0.1:6543/quorum"
    assert _database_settings({"DATABASE_REPLICA_URL": url}) == [
        ["default", "replica"],
        ["core.dbrouter.ReplicaRouter"],
        [6543, "default", 2],
    ]


@pytest.fixture
def pages_for():
    from django.test import Client as PageClient

    def make(user) -> PageClient:
        browser = PageClient()
        browser.force_login(user)
        return browser

    return make
