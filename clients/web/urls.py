"""Client portal pages of the clients app, under /portal/ (config/urls.py)."""

from django.urls import path

from clients.web import views

urlpatterns = [
    path("client", views.choose_client, name="portal-choose-client"),
    path("api-keys/", views.api_keys, name="portal-api-keys"),
    path("api-keys/<uuid:key_id>/revoke", views.api_key_revoke, name="portal-api-key-revoke"),
    path("webhooks/", views.webhooks, name="portal-webhooks"),
    path("webhooks/<uuid:endpoint_id>/enabled", views.webhook_toggle, name="portal-webhook-toggle"),
    path("team/", views.team, name="portal-team"),
    path("team/<uuid:membership_id>/role", views.team_role, name="portal-team-role"),
    path("team/<uuid:membership_id>/remove", views.team_remove, name="portal-team-remove"),
    path(
        "team/invitations/<uuid:invitation_id>/revoke",
        views.invitation_revoke,
        name="portal-invitation-revoke",
    ),
    path(
        "team/invitations/<uuid:invitation_id>/resend",
        views.invitation_resend,
        name="portal-invitation-resend",
    ),
]
