"""The rows the migrations seed survive a transactional test's flush (tests/conftest.py).

Two transactional tests in file order: the first ends with a flush of every table; the second finds
the seeded default rate cards again. Without the conftest hooks that save them back, the second
fails whenever both run in one process (``TEST_WORKERS=0``, or the same xdist worker), and under two
workers a plain database test stolen after a transactional one failed the same way
(tests/web/test_pricing.py).

The rows saved back are those of the freshly migrated database, never a test's own: the snapshot
was once taken when the first transactional test ran, after its fixtures had written rows, so a
narrowed run (``make test PYTEST_ARGS=tests/scale``) brought a fixture's client back after every
flush and the next fixture creating it failed on its unique slug."""

from __future__ import annotations

import json

import pytest

from billing.models import RateCard
from clients import services as client_services
from clients.models import Client
from tests import conftest

PROBE = "Seeded Rows Probe"


def _default_cards() -> int:
    return RateCard.objects.filter(client__isnull=True, created_by="migration:billing.0006").count()


@pytest.fixture
def probe_client(transactional_db) -> Client:
    return client_services.client_create(name=PROBE)


def test_the_snapshot_holds_what_the_migrations_put_not_a_fixtures_rows(probe_client):
    models = {row["model"] for row in json.loads(conftest._seeded[0])}
    assert "billing.ratecard" in models
    assert "clients.client" not in models


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_sees_the_seeded_rate_cards_and_its_flush_empties_them():
    assert _default_cards() > 0


@pytest.mark.django_db(transaction=True)
def test_the_next_transactional_test_sees_them_again():
    assert _default_cards() > 0
    assert not Client.objects.filter(name=PROBE).exists()
