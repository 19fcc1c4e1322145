"""Self-service sign-up (/signup/): an organisation and its owner, usable once the e-mailed link is
opened; switched off with QUORUM_SIGNUP_ENABLED; bad input changes nothing."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client as PageClient

from clients.models import Client, Membership, User

PASSWORD = "signup-pass-2026!w"
FORM = {"organisation": "Gamma Vision", "email": "Founder@Gamma.example", "new_password1": PASSWORD}


def _post(browser=None, **changes):
    data = {**FORM, "new_password2": PASSWORD, **changes}
    return (browser or PageClient()).post("/signup/", data)


def _verify_path() -> str:
    return re.search(r"https?://[^/\s]+(/signup/verify/\S+/)", mail.outbox[-1].body).group(1)


def test_signup_creates_the_organisation_and_an_owner_who_must_verify(db):
    page = _post()

    assert page.status_code == 200 and b"Confirm your e-mail" in page.content
    user = User.objects.get(email="founder@gamma.example")
    assert not user.is_active and user.check_password(PASSWORD)
    membership = Membership.objects.get(user=user)
    assert (membership.client.name, membership.role) == ("Gamma Vision", "owner")
    assert mail.outbox[0].to == ["founder@gamma.example"]
    # Not verified yet: signing in fails.
    assert PageClient().post("/login/", {"username": user.email, "password": PASSWORD}).status_code == 200

    browser = PageClient()
    done = browser.get(_verify_path(), follow=True)

    assert done.redirect_chain[-1][0] == "/portal/" and b"e-mail is confirmed" in done.content
    user.refresh_from_db()
    assert user.is_active
    replay = PageClient().get(_verify_path())
    assert replay.status_code == 409 and b"already used" in replay.content


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"email": "nope"}, b"valid email"),
        ({"organisation": "!!!"}, b"letters or digits"),
        ({"organisation": "Acme"}, b"organisation with this name already exists"),
        ({"email": "taken@acme.example"}, b"already exists"),
        ({"new_password2": "different-2026!"}, b"The two passwords differ"),
        ({"new_password1": "123", "new_password2": "123"}, b"too short"),
    ],
)
def test_bad_signups_are_refused_on_the_form_and_change_nothing(client_a, changes, message):
    User.objects.create_user(email="taken@acme.example")
    before = (Client.objects.count(), User.objects.count(), Membership.objects.count())

    page = _post(**changes)

    assert page.status_code == 400 and message in page.content
    assert (Client.objects.count(), User.objects.count(), Membership.objects.count()) == before
    assert mail.outbox == []


def test_a_bad_verification_link_shows_a_readable_page(db):
    _post()
    path = _verify_path()
    bad = path.rsplit("/", 2)[0] + "/wrong-token/"

    page = PageClient().get(bad)

    assert page.status_code == 409 and b"sign-up link is invalid" in page.content
    assert not User.objects.get().is_active
    assert PageClient().get("/signup/verify/xx/yy/").status_code == 404


def test_signup_can_be_switched_off(db, settings):
    settings.QUORUM_SIGNUP_ENABLED = False

    assert PageClient().get("/signup/").status_code == 404
    page = _post()

    assert page.status_code == 404 and b"Sign-up is switched off" in page.content
    assert User.objects.count() == 0


@pytest.mark.parametrize("enabled", [True, False])
def test_the_sign_in_page_links_to_sign_up_only_when_it_is_on(db, settings, enabled):
    settings.QUORUM_SIGNUP_ENABLED = enabled

    body = PageClient().get("/login/").content.decode()

    assert ('href="/signup/"' in body) is enabled
