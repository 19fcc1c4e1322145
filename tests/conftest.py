"""Shared fixtures. Every test runs against real PostgreSQL (and, where marked, Redis and a real
Celery worker); ``make test`` picks the servers (see config/devservices.py)."""

from __future__ import annotations

import os
import socket
import uuid

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from clients import services as client_services
from tests.clients.factories import ClientFactory

# No per-example deadline for any hypothesis test: a deadline is a timing assertion, and on a shared
# 2-core CI machine an example's time says more about the neighbours than about the code (speed is
# measured in bench/). Tests may still set their own settings; this is the default they start from.
hypothesis_settings.register_profile("quorum", deadline=None)
hypothesis_settings.load_profile("quorum")

# tests/test_replica.py needs a streaming replica (DATABASE_REPLICA_URL): `make test-replica` starts
# one and runs that file (CI runs both); `make test` has none, so it leaves the file out.
collect_ignore = [] if os.environ.get("DATABASE_REPLICA_URL") else ["test_replica.py"]

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    """Egress guard (docs/reliability.md, "Tests that show it"): no test may open a connection
    outside loopback."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise ConnectionRefusedError(f"test egress guard: refusing to connect to {host!r}")
    return _real_connect(self, address)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Tests marked ``long_run`` (a bench script's smoke run, the chaos tier: a minute or so each in
    a subprocess, on databases and servers of their own) go first. ``make test`` runs two xdist
    workers that steal queued tests from each other: started first, the long runs overlap the short
    tests, and neither worker is left idle at the end waiting for one. After pytest-django's own
    ordering (``trylast``); a stable sort, so the order of everything else is kept. They must not use
    the test database: the order pytest-django gives the database tests (transactional ones last)
    is kept only among those."""
    for item in items:
        if item.get_closest_marker("long_run") and item.get_closest_marker("django_db"):
            raise pytest.UsageError(f"{item.nodeid}: a long_run test must not use the test database")
    items.sort(key=lambda item: item.get_closest_marker("long_run") is None)


# --- the rows the migrations seed, kept across transactional tests ---------------------------------
# A transactional test (``transaction=True``, ``transactional_db``, ``live_server``) ends with a
# flush that empties every table, the rows the migrations seeded too (the default rate cards,
# billing 0006). pytest-django runs them after the other database tests, so in one process nothing
# runs after a flush that needs those rows. With two xdist workers stealing work, a worker that has
# run transactional tests can be handed plain database tests afterwards (stolen from the tail of the
# other worker's queue) and would find the seeded rows gone. So the seeded rows are serialized
# once the test database is migrated and saved again after every flush. Content types and
# permissions are left out: the flush's post_migrate signal makes them again.
_seeded: list[str] = []
_REMADE_BY_FLUSH = {"contenttypes.ContentType", "auth.Permission"}


def _flushes(item) -> bool:
    marker = item.get_closest_marker("django_db")
    transaction = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    names = getattr(item, "fixturenames", ())
    return transaction or "transactional_db" in names or "live_server" in names


def _seeded_rows() -> str:
    from django.apps import apps
    from django.core import serializers

    models = [
        m
        for m in apps.get_models()
        if m._meta.managed and not m._meta.proxy and m._meta.label not in _REMADE_BY_FLUSH
    ]
    return serializers.serialize("json", [obj for m in models for obj in m._default_manager.order_by("pk")])


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, then the snapshot of what the migrations put in the fresh test database.
    (Taken here, not when the first flushing test runs: by then that test's own fixtures have
    written rows, which every later flush would bring back.)"""
    with django_db_blocker.unblock():
        _seeded.append(_seeded_rows())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield  # the fixtures' teardown, the flush among them (and, after the last test, the database's)
    if _flushes(item) and _seeded and nextitem is not None:
        from django.core import serializers
        from django.db import transaction
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock(), transaction.atomic():
            for obj in serializers.deserialize("json", _seeded[0]):
                obj.save()


@pytest.fixture(autouse=True, scope="session")
def egress_guard():
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True)
def fresh_identity_cache():
    """Each test starts with an empty authentication cache (clients.auth): keys and users of an
    earlier test's rolled-back transaction must not be remembered."""
    from clients import auth

    auth.identities.clear()
    yield
    auth.identities.clear()


@pytest.fixture
def client_a(db):
    return ClientFactory(name="Acme Autonomy", slug="acme")


@pytest.fixture
def client_b(db):
    return ClientFactory(name="Beta Labs", slug="beta")


def api_for_key(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


@pytest.fixture
def api_a(client_a):
    issued = client_services.api_key_create(client=client_a, name="test key")
    return api_for_key(issued.key)


@pytest.fixture
def api_b(client_b):
    issued = client_services.api_key_create(client=client_b, name="test key")
    return api_for_key(issued.key)


@pytest.fixture(autouse=True)
def throttle_namespace(settings):
    """API rate-limit counters live in Redis across tests: each test counts in its own namespace."""
    settings.QUORUM_THROTTLE_NAMESPACE = uuid.uuid4().hex[:12]
