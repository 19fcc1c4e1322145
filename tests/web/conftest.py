"""Page tests with Django's test client: people are signed in with ``force_login`` (no password)."""

from __future__ import annotations

import pytest
from django.test import Client as PageClient

from tests.annotation.factories import AnnotatorFactory
from tests.web.factories import MemberFactory, NoPasswordUserFactory


@pytest.fixture
def pages():
    """``pages(user)``: a test client signed in as ``user``; ``pages()``: anonymous."""

    def make(user=None) -> PageClient:
        browser = PageClient()
        if user is not None:
            browser.force_login(user)
        return browser

    return make


@pytest.fixture
def member_pages(pages):
    """``member_pages(client, role)``: a signed-in member of ``client`` with ``role``."""

    def make(client, role="owner"):
        return pages(MemberFactory(client=client, role=role).user)

    return make


@pytest.fixture
def owner(client_a):
    """The owner membership of ``client_a`` (the Team pages' tests)."""
    return MemberFactory(client=client_a, role="owner")


@pytest.fixture
def owner_pages(pages, owner):
    """Signed in as ``owner``."""
    return pages(owner.user)


@pytest.fixture
def staff_pages(pages, db):
    return pages(NoPasswordUserFactory(is_staff=True))


@pytest.fixture
def annotator_pages(pages, db):
    return pages(AnnotatorFactory(user=NoPasswordUserFactory()).user)
