"""The demo people seed_demo creates sign in on the sign-in page with the printed password and
land on their own pages; the command prints the page URLs."""

import io

import pytest
from django.core.management import call_command
from django.test import Client as PageClient

from annotation.management.commands.seed_demo import ADMIN_EMAIL, ANNOTATORS, DEMO_PASSWORD, OWNER_EMAIL

pytestmark = pytest.mark.django_db


def test_demo_people_sign_in_to_their_pages():
    out = io.StringIO()
    call_command("seed_demo", "--base-url", "http://127.0.0.1:8000", stdout=out)
    printed = out.getvalue()
    for url in [
        "http://127.0.0.1:8000/login/",
        "http://127.0.0.1:8000/portal/",
        "http://127.0.0.1:8000/work/",
        "http://127.0.0.1:8000/ops/",
    ]:
        assert url in printed
    for email, home in [(OWNER_EMAIL, "/portal/"), (ADMIN_EMAIL, "/ops/"), (ANNOTATORS[0][0], "/work/")]:
        browser = PageClient()
        signed_in = browser.post("/login/", {"username": email, "password": DEMO_PASSWORD})
        assert signed_in.status_code == 302, email
        assert browser.get(signed_in["Location"])["Location"] == home
