"""Signing in and out in a real browser: the home page sends each person to their area."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, login, make_user, screenshot


def test_a_wrong_password_is_refused_with_the_email_kept(page):
    make_user("someone@example.test")

    page.goto("/login/")
    page.get_by_label("Email").fill("someone@example.test")
    page.get_by_label("Password").fill(PASSWORD + "-wrong")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("correct email and password")
    expect(page.get_by_label("Email")).to_have_value("someone@example.test")
    assert screenshot(page, "refused").exists()


def test_a_person_without_a_role_is_told_so_and_can_sign_out(page):
    make_user("nobody@example.test")

    login(page, "nobody@example.test")

    expect(page.get_by_role("heading", level=1)).to_have_text("No access yet")
    screenshot(page, "no-role")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
