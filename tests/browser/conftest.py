"""Browser test harness: Playwright drives Debian's Chromium against pytest-django's live server.

- ``browser``: one Chromium for all the browser tests (package scope: the session of
  ``tests/browser``), started from ``/usr/bin/chromium`` (``.ci/run`` installs the ``chromium``
  package when it is absent; ``playwright install`` is never used).
- ``page`` (per test): a fresh browser context (no cookies shared between tests) on the live
  server, with ``page.output_dir`` = ``tests/browser/output/<test name>/`` for screenshots.
- ``login(page, email, password)``, ``screenshot(page, name)``: helpers.
- ``make_user`` / ``make_member`` / ``make_staff``: users with a known password. Argon2 hashing is
  slow on purpose, so only people who sign in get a usable password; others get none.

The Playwright sync API runs its own asyncio loop in a greenlet of the test thread, started once
here (outside any loop of pytest's). While it runs, Django sees a running loop in the test thread
and refuses ORM calls there (the factories, the database flush); the live server's thread is not
affected. So ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for exactly as long as Playwright runs, and
Playwright stops when the browser tests are done (package scope): the tests after them, and the
subprocesses they start (``manage.py check --deploy`` refuses the variable), never see either.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from clients.models import Client, Membership, User
from tests.clients.factories import ClientFactory, MembershipFactory, UserFactory
from tests.web.factories import NoPasswordUserFactory

CHROMIUM = os.environ.get("QUORUM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT_ROOT = Path(__file__).resolve().parent / "output"
PASSWORD = "browser-test-password-2026"
LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture(scope="package")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (.ci/run does)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _test_folder(node_name: str) -> Path:
    return OUTPUT_ROOT / re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name)


@pytest.fixture
def page(browser: Browser, live_server, transactional_db, request) -> Page:
    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP, accept_downloads=True)
    context.set_default_timeout(20_000)
    new_page = context.new_page()
    new_page.output_dir = _test_folder(request.node.name)
    new_page.output_dir.mkdir(parents=True, exist_ok=True)
    # Every page is served with a Content-Security-Policy: a violation (an inline script or handler,
    # a javascript: URL, eval) is a broken feature, so it fails the test that met it.
    new_page.csp_violations = []
    new_page.on(
        "console",
        lambda message: (
            new_page.csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield new_page
    context.close()
    assert new_page.csp_violations == [], new_page.csp_violations


def login(page: Page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page and wait until the site has sent the person on."""
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``<test's output folder>/<name>.png`` and return its path."""
    path = page.output_dir / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def make_user(email: str, *, can_sign_in: bool = True, **fields) -> User:
    if not can_sign_in:
        return NoPasswordUserFactory(email=email, **fields)
    return UserFactory(email=email, password=PASSWORD, **fields)


def make_member(
    client: Client | None = None, *, email: str, role: str = Membership.Role.OWNER, can_sign_in: bool = True
) -> Membership:
    return MembershipFactory(
        user=make_user(email, can_sign_in=can_sign_in), client=client or ClientFactory(), role=role
    )


def make_staff(email: str = "staff@quorum.test") -> User:
    return make_user(email, is_staff=True, is_superuser=True)
