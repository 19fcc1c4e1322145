"""``manage.py create_api_key --client SLUG [--mode live|test] [--name N]``: issue a client API key.

The key is printed once, alone on the last line of stdout, so a script can capture it::

    KEY=$(python manage.py create_api_key --client acme | tail -1)
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clients import services
from clients.models import ApiKey, Client
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create an API key for a client and print it once (the last line of output is the key alone). "
        "Only its prefix and a hash are stored: copy it now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--client", required=True, metavar="SLUG", help="The client's slug.")
        parser.add_argument(
            "--mode",
            choices=ApiKey.Mode.values,
            default=ApiKey.Mode.LIVE,
            help="live (default) or test: test keys create sandbox tasks, never billed, completed by a "
            "simulator.",
        )
        parser.add_argument(
            "--name", default="created with manage.py", help="A label to recognise the key by."
        )

    def handle(self, *args, client: str, mode: str, name: str, **options):
        found = Client.objects.filter(slug=client).first()
        if found is None:
            raise CommandError(
                f"No client with slug {client!r} (list them in the admin, or create one with manage.py "
                "create_client)."
            )
        if not found.is_active:
            raise CommandError(f"Client {client!r} is deactivated; its keys would not authenticate.")
        try:
            issued = services.api_key_create(client=found, name=name, mode=mode)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Created {issued.obj.mode} API key {issued.obj.name!r} (prefix {issued.obj.prefix}) for client "
            f"{found.slug}. It is shown only now:"
        )
        self.stdout.write(issued.key)
