"""``manage.py create_annotator --email E [--password P] [--qualify-all] [--reviewer] [--new-token]``.

Creates the user (if absent) and their annotator profile, then prints a personal access token
once, alone on the last line of stdout::

    TOKEN=$(python manage.py create_annotator --email ann@example.com --qualify-all | tail -1)
"""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from annotation import services
from annotation.models import Annotator
from clients import services as client_services
from clients.models import User
from core.errors import DomainError

ACTOR = "system:manage.py create_annotator"


class Command(BaseCommand):
    help = (
        "Create an annotator (and their user account if absent) and print a personal access token once: "
        "the last line of output is the token alone. Without --qualify-all the annotator is an applicant "
        "and cannot claim work until vetted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The annotator's login email.")
        parser.add_argument(
            "--password",
            help="Password for a NEW user (checked by the password validators). Without it the account has "
            "no usable password and authenticates with the token. An existing user's password is never "
            "changed (use manage.py changepassword).",
        )
        parser.add_argument(
            "--qualify-all",
            action="store_true",
            help="Marks the annotator active (vetted) so they can claim work now; once qualifications exist "
            "it will also grant every qualification. Without it the annotator is an applicant.",
        )
        parser.add_argument("--reviewer", action="store_true", help="Also make the annotator a reviewer.")
        parser.add_argument(
            "--new-token",
            action="store_true",
            help="If EMAIL is already an annotator, issue them another personal access token instead of "
            "failing (their profile is left unchanged).",
        )

    def handle(
        self,
        *args,
        email: str,
        password: str | None,
        qualify_all: bool,
        reviewer: bool,
        new_token: bool,
        **options,
    ):
        email = (email or "").strip().lower()
        user = User.objects.filter(email=email).first()
        annotator = Annotator.objects.filter(user=user).first() if user else None
        if annotator is not None:
            if not new_token:
                raise CommandError(
                    f"{email} is already an annotator ({annotator.status}). "
                    "To issue another personal access token, add --new-token."
                )
            if password or qualify_all or reviewer:
                raise CommandError(
                    "--new-token on an existing annotator only issues a token; "
                    "--password, --qualify-all and --reviewer do not apply."
                )
            issued = client_services.access_token_create(user=user, name="created with manage.py")
            self.stdout.write(
                f"Issued a new personal access token for {email} (annotator, {annotator.status}). Shown only "
                "now:"
            )
            self.stdout.write(issued.key)
            return
        if user is not None and password:
            raise CommandError(
                f"User {email} already exists; this command does not change passwords "
                f"(use manage.py changepassword {email}). Run again without --password."
            )
        if password:
            try:
                password_validation.validate_password(password, user=User(email=email))
            except DjangoValidationError as exc:
                raise CommandError("Password rejected: " + " ".join(exc.messages)) from exc
        try:
            with transaction.atomic():
                created_user = user is None
                if created_user:
                    user = client_services.user_create(email=email, password=password)
                annotator = services.annotator_create(
                    user=user, actor=ACTOR, active=qualify_all, is_reviewer=reviewer
                )
                issued = client_services.access_token_create(user=user, name="created with manage.py")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if created_user:
            how = "with the given password" if password else "without a usable password (use the token)"
            self.stdout.write(f"Created user {user.email} {how}.")
        else:
            self.stdout.write(f"Using existing user {user.email}.")
        role = "reviewer" if annotator.is_reviewer else "annotator"
        note = (
            "can claim work now"
            if annotator.status == Annotator.Status.ACTIVE
            else "cannot claim work until vetted"
        )
        self.stdout.write(f"Created {role} {user.email}: status {annotator.status} ({note}).")
        self.stdout.write("Personal access token (Authorization: Bearer <token>), shown only now:")
        self.stdout.write(issued.key)
