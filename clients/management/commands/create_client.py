"""``manage.py create_client NAME [--slug S] [--currency USD] [--owner-email E]``: create a client
organization, and optionally its owner (created or reused), with a one-time link to set a password."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clients import services
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create a client organization (tenant). Prints its slug and id, and how its owner signs in."

    def add_arguments(self, parser):
        parser.add_argument("name", help='Display name, e.g. "Acme Autonomy".')
        parser.add_argument("--slug", help="URL-safe identifier (default: derived from NAME).")
        parser.add_argument(
            "--currency", default="USD", help="ISO 4217 currency of its prices and invoices (default USD)."
        )
        parser.add_argument(
            "--owner-email",
            help="Make this person the owner (created when new); prints a one-time link to set a password.",
        )

    def handle(self, *args, name: str, slug: str | None, currency: str, owner_email: str | None, **options):
        try:
            with transaction.atomic():
                client = services.client_create(name=name, slug=slug, currency=currency)
                owner = created = None
                if owner_email is not None:
                    owner, created = services.client_owner_add(client=client, email=owner_email)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created client {client.name} ({client.currency})")
        self.stdout.write(f"slug: {client.slug}")
        self.stdout.write(f"id:   {client.id}")
        if owner is None:
            return
        base = settings.QUORUM_PUBLIC_URL or "http://127.0.0.1:8000"
        if created or not owner.has_usable_password():
            who = "new" if created else "existing"
            self.stdout.write(f"owner: {owner.email} ({who} user, no password yet)")
            self.stdout.write("They set a password once at this link, then sign in at /login/:")
            self.stdout.write(base + services.password_set_path(owner))
        else:
            self.stdout.write(f"owner: {owner.email} (existing user)")
            self.stdout.write(f"They sign in with their password at {base}/login/")
