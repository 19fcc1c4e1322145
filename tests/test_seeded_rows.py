"""The rows the migrations seed survive a transactional test's flush (tests/conftest.py).

Two transactional tests in file order: the first ends with a flush of every table; the second finds
the seeded default rate cards again. Without the conftest hooks that save them back, the second
fails whenever both run in one process (``TEST_WORKERS=0``, or the same xdist worker), and under two
workers a plain database test stolen after a transactional one failed the same way
(tests/web/test_pricing.py)."""

from __future__ import annotations

import pytest

from billing.models import RateCard


def _default_cards() -> int:
    return RateCard.objects.filter(client__isnull=True, created_by="migration:billing.0006").count()


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_sees_the_seeded_rate_cards_and_its_flush_empties_them():
    assert _default_cards() > 0


@pytest.mark.django_db(transaction=True)
def test_the_next_transactional_test_sees_them_again():
    assert _default_cards() > 0
