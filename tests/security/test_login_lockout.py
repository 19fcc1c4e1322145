"""Brute force on sign-in: django-axes locks an email from an address after AXES_FAILURE_LIMIT
failures, the right password included, on /login/ and /admin/login/; 429 with Retry-After."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.clients.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _login(client: Client, email: str, password: str, path: str = "/login/"):
    field = "username"
    return client.post(path, {field: email, "password": password}, REMOTE_ADDR=client.ip)


def _client(ip: str) -> Client:
    client = Client()
    client.ip = ip
    return client


def test_login_locks_after_the_limit_and_the_right_password_is_refused_too(settings):
    user = UserFactory()
    attacker = _client("203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(attacker, user.email, "wrong password 123")
        assert response.status_code == 200  # the form again, with the error
    assert _login(attacker, user.email, "wrong password 123").status_code == 429  # the limit-th failure
    locked = _login(attacker, user.email, PASSWORD)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    page = locked.content.decode()
    assert "Too many failed sign-ins" in page and f'value="{user.email}"' in page  # what was typed is kept
    assert "_auth_user_id" not in attacker.session
    # the person themselves, from another address, still signs in (no lock-out by a stranger)
    owner = _client("198.51.100.9")
    response = _login(owner, user.email, PASSWORD)
    assert response.status_code == 302 and "_auth_user_id" in owner.session


def test_admin_login_is_locked_the_same_way(settings):
    staff = UserFactory(is_staff=True, is_superuser=True)
    attacker = _client("203.0.113.8")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(attacker, staff.email, "nope nope nope", "/admin/login/").status_code == 200
    assert _login(attacker, staff.email, "nope nope nope", "/admin/login/").status_code == 429
    locked = _login(attacker, staff.email, PASSWORD, "/admin/login/")
    assert locked.status_code == 429 and locked["Retry-After"]
    assert b"Too many sign-in attempts" in locked.content


def test_a_success_before_the_limit_resets_the_count(settings):
    user = UserFactory()
    person = _client("192.0.2.10")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(person, user.email, "typo typo typo")
    assert _login(person, user.email, PASSWORD).status_code == 302
    person.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(person, user.email, "typo typo typo").status_code == 200
    assert _login(person, user.email, PASSWORD).status_code == 302
