"""The portal's Team page and invitations (issue 14): owners invite by e-mail with a role, change
roles and remove members (never the last owner); an invitation is single-use and expires; other
roles see the team but cannot change it; another client's owner is refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client as PageClient
from django.utils import timezone

from clients.models import Invitation, Membership, User
from tests.web.factories import MemberFactory, NoPasswordUserFactory

PASSWORD = "joining-pass-2026!z"


def _invite(browser, email="new@acme.example", role="member", status=302):
    response = browser.post("/portal/team/", {"email": email, "role": role})
    assert response.status_code == status, response.content[:2000]
    return response


def _accept_path() -> str:
    return re.search(r"https?://[^/\s]+(/invitations/\S+/)", mail.outbox[-1].body).group(1)


def _set_password(browser, path, one=PASSWORD, two=PASSWORD):
    return browser.post(path, {"new_password1": one, "new_password2": two}, follow=True)


def test_owner_invites_and_a_new_person_joins_with_a_password(client_a, owner_pages):
    _invite(owner_pages, "New@Acme.example", "admin")

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@acme.example"]
    invitation = Invitation.objects.get()
    assert (invitation.client, invitation.role, invitation.accepted_at) == (client_a, "admin", None)
    listing = owner_pages.get("/portal/team/")
    assert b"new@acme.example" in listing.content and b"Pending invitations" in listing.content
    path = _accept_path()
    assert invitation.token_hash not in path  # only the hash is stored

    browser = PageClient()
    assert b"Choose a password for new@acme.example" in browser.get(path).content
    page = _set_password(browser, path)

    assert page.redirect_chain[-1][0] == "/portal/"
    user = User.objects.get(email="new@acme.example")
    assert user.check_password(PASSWORD)
    assert Membership.objects.get(user=user).role == "admin"
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None and invitation.accepted_by == user


def test_an_accepted_invitation_cannot_be_replayed(client_a, owner_pages):
    _invite(owner_pages)
    path = _accept_path()
    _set_password(PageClient(), path)

    for browser in (PageClient(), owner_pages):
        replay = browser.get(path)
        assert replay.status_code == 409 and b"already been used" in replay.content
        assert browser.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD}).status_code == 409
    assert Membership.objects.filter(client=client_a).count() == 2


def test_an_expired_invitation_is_refused_and_changes_nothing(client_a, owner_pages, settings):
    settings.QUORUM_INVITATION_DAYS = 7
    _invite(owner_pages)
    invitation = Invitation.objects.get()
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    page = _set_password(PageClient(), _accept_path())

    assert page.status_code == 409 and b"expired" in page.content
    assert not User.objects.filter(email="new@acme.example").exists()


def test_an_unknown_token_shows_a_readable_page(db):
    page = PageClient().get("/invitations/not-a-real-token/")
    assert page.status_code == 404 and b"invitation link is not valid" in page.content


def test_a_signed_in_existing_user_just_joins(client_a, client_b, owner_pages, pages):
    person = MemberFactory(client=client_b, role="owner").user
    _invite(owner_pages, person.email, "viewer")
    browser = pages(person)

    page = browser.post(_accept_path(), follow=True)

    assert page.redirect_chain[-1][0] == "/portal/"
    assert Membership.objects.get(user=person, client=client_a).role == "viewer"
    assert not person.has_usable_password()  # nothing about the password changed


def test_an_existing_user_who_is_not_signed_in_is_asked_to_sign_in(client_a, owner_pages):
    person = NoPasswordUserFactory(email="known@acme.example")
    _invite(owner_pages, person.email)
    path = _accept_path()

    assert b"already exists" in PageClient().get(path).content
    _set_password(PageClient(), path)

    assert not Membership.objects.filter(user=person).exists()
    assert not person.has_usable_password()


def test_signed_in_as_someone_else_is_refused(client_a, owner_pages, pages):
    _invite(owner_pages, "new@acme.example")
    other = NoPasswordUserFactory(email="other@acme.example")

    page = pages(other).post(_accept_path())

    assert page.status_code == 403 and b"This invitation is for new@acme.example" in page.content
    assert not Membership.objects.filter(user=other).exists()
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.parametrize(
    "email, role, message",
    [
        ("not-an-address", "member", b"valid email"),
        ("new@acme.example", "emperor", b"Select a valid choice"),
        ("OWNER", "member", b"already a member"),
        ("pending@acme.example", "member", b"already has a pending invitation"),
    ],
)
def test_bad_invitations_are_refused_on_the_form_and_change_nothing(owner, owner_pages, email, role, message):
    _invite(owner_pages, "pending@acme.example")
    mail.outbox.clear()
    email = owner.user.email if email == "OWNER" else email

    page = _invite(owner_pages, email, role, status=400)

    assert message in page.content
    assert Invitation.objects.count() == 1 and mail.outbox == []


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_non_owners_see_the_team_but_cannot_change_it(client_a, owner, pages, role):
    member = MemberFactory(client=client_a, role=role)
    browser = pages(member.user)

    page = browser.get("/portal/team/")
    assert page.status_code == 200 and owner.user.email.encode() in page.content
    assert b"Send invitation" not in page.content

    assert browser.post("/portal/team/", {"email": "x@acme.example", "role": "owner"}).status_code == 403
    assert browser.post(f"/portal/team/{owner.id}/role", {"role": "viewer"}).status_code == 403
    assert browser.post(f"/portal/team/{owner.id}/remove").status_code == 403
    assert (Invitation.objects.count(), Membership.objects.get(id=owner.id).role) == (0, "owner")


def test_owner_changes_a_role_and_removes_a_member(client_a, owner_pages):
    member = MemberFactory(client=client_a, role="viewer")

    page = owner_pages.post(f"/portal/team/{member.id}/role", {"role": "admin"}, follow=True)
    assert b"is now admin" in page.content
    assert Membership.objects.get(id=member.id).role == "admin"

    page = owner_pages.post(f"/portal/team/{member.id}/remove", follow=True)
    assert b"removed from" in page.content
    assert not Membership.objects.filter(id=member.id).exists()


def test_a_bad_role_is_refused_with_a_message(client_a, owner, owner_pages):
    member = MemberFactory(client=client_a, role="viewer")

    page = owner_pages.post(f"/portal/team/{member.id}/role", {"role": "emperor"}, follow=True)

    assert b"must be one of" in page.content
    assert Membership.objects.get(id=member.id).role == "viewer"


def test_the_last_owner_is_never_demoted_or_removed(client_a, owner, owner_pages):
    MemberFactory(client=client_a, role="admin")

    demote = owner_pages.post(f"/portal/team/{owner.id}/role", {"role": "admin"}, follow=True)
    remove = owner_pages.post(f"/portal/team/{owner.id}/remove", follow=True)

    for page in (demote, remove):
        assert b"is the last owner" in page.content and b"make another member owner first" in page.content
    assert Membership.objects.get(id=owner.id).role == "owner"

    second = MemberFactory(client=client_a, role="owner")
    owner_pages.post(f"/portal/team/{second.id}/role", {"role": "member"})
    assert Membership.objects.get(id=second.id).role == "member"


def test_another_clients_owner_is_refused(client_a, client_b, owner, pages):
    member = MemberFactory(client=client_a, role="viewer")
    outsider = pages(MemberFactory(client=client_b, role="owner").user)

    assert outsider.post(f"/portal/team/{member.id}/role", {"role": "owner"}).status_code == 404
    assert outsider.post(f"/portal/team/{owner.id}/remove").status_code == 404
    listing = outsider.get("/portal/team/")
    assert (
        member.user.email.encode() not in listing.content and owner.user.email.encode() not in listing.content
    )
    assert Membership.objects.get(id=member.id).role == "viewer"
    assert Membership.objects.filter(id=owner.id).exists()


@pytest.mark.parametrize(
    "one, two, message", [(PASSWORD, PASSWORD + "x", b"differ"), ("123", "123", b"too short")]
)
def test_a_bad_password_on_the_accept_page_changes_nothing(client_a, owner_pages, one, two, message):
    _invite(owner_pages)

    page = PageClient().post(_accept_path(), {"new_password1": one, "new_password2": two})

    assert page.status_code == 400 and message in page.content
    assert not User.objects.filter(email="new@acme.example").exists()
    assert Invitation.objects.get().accepted_at is None
