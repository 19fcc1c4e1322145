"""Owners cancel and resend pending invitations from the Team page: a cancelled invitation's link
stops working; a resent one gets a fresh link and the old one stops working. Other roles and other
clients are refused and change nothing; a used invitation is neither cancelled nor resent."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client as PageClient

from clients.models import Invitation, Membership
from core.models import Event
from tests.web.factories import MemberFactory
from tests.web.test_team import _accept_path, _invite, _set_password

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited(owner_pages):
    """A pending invitation of new@acme.example and the path of its mailed link."""
    _invite(owner_pages)
    return Invitation.objects.get(email="new@acme.example"), _accept_path()


def test_the_team_page_offers_resend_and_cancel_to_owners_only(client_a, owner_pages, pages, invited):
    invitation, _ = invited
    body = owner_pages.get("/portal/team/").content.decode()
    assert f"/portal/team/invitations/{invitation.id}/resend" in body
    assert f"/portal/team/invitations/{invitation.id}/revoke" in body and "data-confirm=" in body
    member = pages(MemberFactory(client=client_a, role="member").user)
    assert "/revoke" not in member.get("/portal/team/").content.decode()


def test_an_owner_cancels_an_invitation_and_its_link_stops_working(owner_pages, invited):
    invitation, path = invited
    response = owner_pages.post(f"/portal/team/invitations/{invitation.id}/revoke", follow=True)
    body = response.content.decode()
    assert response.status_code == 200 and "Invitation of new@acme.example cancelled" in body
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert "No pending invitations." in body
    event = Event.objects.get(kind="invitation.revoked")
    assert event.before == {"email": "new@acme.example", "role": "member"}
    gone = PageClient().get(path)
    assert gone.status_code == 404 and "This invitation link is not valid" in gone.content.decode()
    assert _set_password(PageClient(), path).status_code == 404
    assert not Membership.objects.filter(user__email="new@acme.example").exists()


def test_a_resent_invitation_has_a_new_link_and_the_old_one_stops_working(client_a, owner_pages, invited):
    invitation, old_path = invited
    response = owner_pages.post(f"/portal/team/invitations/{invitation.id}/resend", follow=True)
    assert "Invitation sent to new@acme.example (member)." in response.content.decode()
    assert len(mail.outbox) == 2 and mail.outbox[1].to == ["new@acme.example"]
    new_path = _accept_path()
    assert new_path != old_path
    assert Invitation.objects.filter(email="new@acme.example").count() == 1
    assert PageClient().get(old_path).status_code == 404
    assert _set_password(PageClient(), old_path).status_code == 404
    joined = _set_password(PageClient(), new_path)
    assert joined.status_code == 200
    assert Membership.objects.get(client=client_a, user__email="new@acme.example").role == "member"
    assert Event.objects.filter(kind="invitation.resent", entity_id=invitation.id).count() == 1


@pytest.mark.parametrize("action", ["revoke", "resend"])
def test_other_roles_and_other_clients_cannot_cancel_or_resend(client_a, client_b, pages, invited, action):
    invitation, path = invited
    before = Invitation.objects.filter(pk=invitation.pk).values().get()
    member = pages(MemberFactory(client=client_a, role="member").user)
    assert member.post(f"/portal/team/invitations/{invitation.id}/{action}").status_code == 403
    stranger = pages(MemberFactory(client=client_b, role="owner").user)
    assert stranger.post(f"/portal/team/invitations/{invitation.id}/{action}").status_code == 404
    assert Invitation.objects.filter(pk=invitation.pk).values().get() == before
    assert len(mail.outbox) == 1
    assert PageClient().get(path).status_code == 200


@pytest.mark.parametrize("action", ["revoke", "resend"])
def test_a_used_invitation_is_neither_cancelled_nor_resent(client_a, owner_pages, invited, action):
    invitation, path = invited
    _set_password(PageClient(), path)
    before = Invitation.objects.filter(pk=invitation.pk).values().get()
    response = owner_pages.post(f"/portal/team/invitations/{invitation.id}/{action}", follow=True)
    assert "has already been accepted" in response.content.decode()
    assert Invitation.objects.filter(pk=invitation.pk).values().get() == before
    assert len(mail.outbox) == 1
    assert Membership.objects.filter(client=client_a, user__email="new@acme.example").exists()
