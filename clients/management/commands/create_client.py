"""``manage.py create_client NAME [--slug S] [--currency USD]``: create a client organization."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clients import services
from clients.errors import DomainError


class Command(BaseCommand):
    help = "Create a client organization (tenant). Prints its slug and id."

    def add_arguments(self, parser):
        parser.add_argument("name", help='Display name, e.g. "Acme Autonomy".')
        parser.add_argument("--slug", help="URL-safe identifier (default: derived from NAME).")
        parser.add_argument(
            "--currency", default="USD", help="ISO 4217 currency of its prices and invoices (default USD)."
        )

    def handle(self, *args, name: str, slug: str | None, currency: str, **options):
        try:
            client = services.client_create(name=name, slug=slug, currency=currency)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created client {client.name} ({client.currency})")
        self.stdout.write(f"slug: {client.slug}")
        self.stdout.write(f"id:   {client.id}")
