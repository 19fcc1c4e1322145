"""Layout and keyboard use in Chromium: the portal's pages fit a tablet without sideways
scrolling, the skip link comes first in the focus order, and form fields are labelled."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.annotation.export_factories import CompletedTaskFactory
from tests.annotation.factories import BoxProjectFactory
from tests.browser.conftest import TABLET, login, make_member, screenshot

UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map(el => el.name || el.id)"""


def test_portal_pages_fit_a_tablet_and_start_with_the_skip_link(page):
    membership = make_member(email="pm@acme.test", role="owner")
    project = BoxProjectFactory(client=membership.client, name="Street boxes")
    box = {"type": "box", "label": "car", "left": 20, "top": 30, "width": 100, "height": 60}
    task = CompletedTaskFactory(
        project=project,
        unique_id="street-02",
        response={"annotations": [box]},
        params={**project.params, "attachment": "/static/demo/street-02.png"},
    )
    page.set_viewport_size(TABLET)
    login(page, "pm@acme.test")
    for name, url in [
        ("projects", "/portal/"),
        ("new", "/portal/projects/new/"),
        ("project", f"/portal/projects/{project.id}/"),
        ("task", f"/portal/projects/{project.id}/tasks/{task.id}/"),
        ("upload", f"/portal/projects/{project.id}/upload/"),
        ("keys", "/portal/api-keys/"),
        ("webhooks", "/portal/webhooks/"),
        ("billing", "/portal/billing/"),
    ]:
        page.goto(url)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px at tablet width"
        unlabelled = page.evaluate(UNLABELLED)
        assert unlabelled == [], f"{url}: fields without a label: {unlabelled}"
        screenshot(page, f"tablet-{name}")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    skip.press("Enter")
    expect(page.locator("main")).to_be_focused()
