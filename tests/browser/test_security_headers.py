"""The Content-Security-Policy in Chromium: the pages' own scripts run, injected ones do not.

(Every browser test fails on a CSP violation, see conftest.py; these tests add the cases that
exercise the policy on purpose.)"""

from __future__ import annotations

from playwright.sync_api import expect

from annotation.models import ExportJob
from tests.annotation.factories import ProjectFactory
from tests.browser.conftest import login, make_member


def test_the_exports_page_posts_to_the_project_picked_without_an_inline_handler(page):
    membership = make_member(email="pm@csp.test", role="member")
    ProjectFactory(client=membership.client, name="First")
    second = ProjectFactory(client=membership.client, name="Second")
    login(page, "pm@csp.test")
    page.goto("/portal/exports/")
    page.get_by_label("Project").select_option(label="Second")
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_role("button", name="Create export").click()
    expect(page.locator(".messages")).to_contain_text("Export jsonl queued")
    assert list(ExportJob.objects.values_list("project_id", flat=True)) == [second.id]


def test_an_injected_inline_script_and_javascript_url_do_not_run(page):
    make_member(email="pm2@csp.test")
    login(page, "pm2@csp.test")
    page.goto("/portal/")
    # What an attacker's stored markup would do if it reached the page: neither may run.
    page.evaluate(
        """() => {
            const s = document.createElement("script"); s.textContent = "window.pwned = 1;";
            document.body.append(s);
            const a = document.createElement("a"); a.href = "javascript:window.pwned2 = 1";
            a.id = "evil"; a.textContent = "evil link";
            document.body.append(a);
        }"""
    )
    page.locator("#evil").click()
    assert page.evaluate("() => [window.pwned, window.pwned2]") == [None, None]
    violations, page.csp_violations = page.csp_violations, []  # expected here, not a failure
    assert violations and all("Content Security Policy" in v for v in violations)
