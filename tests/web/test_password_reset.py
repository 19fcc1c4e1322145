"""Password reset with Django's own views under /password-reset/: mail through the e-mail backend
(locmem here), a link that works once, readable pages for bad links, nothing revealed about addresses."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client as PageClient

from clients.models import User
from tests.web.factories import NoPasswordUserFactory

NEW = "fresh-password-2026!q"


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/password-reset/\S+)", message.body).group(1)


def _ask(email: str):
    return PageClient().post("/password-reset/", {"email": email}, follow=True)


def test_sign_in_page_links_to_password_reset(db):
    page = PageClient().get("/login/")
    assert b'href="/password-reset/"' in page.content
    assert b"Forgot your password?" in page.content


def test_reset_mail_is_sent_and_its_link_works_once(db):
    user = NoPasswordUserFactory(email="pm@acme.example")

    page = _ask("PM@acme.example")

    assert page.redirect_chain[-1][0] == "/password-reset/sent/"
    assert b"Check your e-mail" in page.content
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["pm@acme.example"]
    link = _link(mail.outbox[0])

    browser = PageClient()
    form = browser.get(link, follow=True)
    assert b"Choose a password" in form.content
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW}, follow=True)
    assert b"Password set" in done.content
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert PageClient().post("/login/", {"username": "pm@acme.example", "password": NEW}).status_code == 302

    replay = PageClient().get(link, follow=True)
    assert b"This link no longer works" in replay.content


@pytest.mark.parametrize("tail", ["Zm9v/set-password/", "Zm9v/abc-123/", "/password-reset/MQ/bad-token/"])
def test_a_wrong_token_shows_a_readable_page(db, tail):
    NoPasswordUserFactory(email="pm@acme.example")
    path = tail if tail.startswith("/") else f"/password-reset/{tail}"

    page = PageClient().get(path, follow=True)

    assert page.status_code == 200
    assert b"This link no longer works" in page.content and b"Send me a new link" in page.content


def test_an_expired_link_shows_the_readable_page_and_changes_nothing(db, settings):
    user = NoPasswordUserFactory(email="pm@acme.example")
    _ask("pm@acme.example")
    link = _link(mail.outbox[0])
    settings.PASSWORD_RESET_TIMEOUT = -1  # every token is already too old

    browser = PageClient()
    page = browser.get(link, follow=True)
    assert b"This link no longer works" in page.content
    browser.post(link, {"new_password1": NEW, "new_password2": NEW}, follow=True)
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_mismatched_passwords_are_refused_on_the_form(db):
    user = NoPasswordUserFactory(email="pm@acme.example")
    _ask("pm@acme.example")
    browser = PageClient()
    form = browser.get(_link(mail.outbox[0]), follow=True)

    page = browser.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW + "x"})

    assert page.status_code == 200 and b"didn" in page.content  # "The two password fields didn't match."
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_an_unknown_address_reveals_nothing(db):
    NoPasswordUserFactory(email="pm@acme.example")

    known = _ask("pm@acme.example")
    unknown = _ask("nobody@acme.example")

    assert unknown.redirect_chain == known.redirect_chain
    assert unknown.status_code == known.status_code == 200
    assert b"Check your e-mail" in unknown.content and b"nobody" not in unknown.content
    assert len(mail.outbox) == 1
    assert User.objects.count() == 1


def test_an_inactive_user_gets_no_mail(db):
    NoPasswordUserFactory(email="gone@acme.example", is_active=False)

    page = _ask("gone@acme.example")

    assert b"Check your e-mail" in page.content and mail.outbox == []
