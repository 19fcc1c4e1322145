"""A Content-Security-Policy on every page, and templates that need no exception to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.web.factories import MemberFactory

ROOT = Path(settings.BASE_DIR)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/", "/login/", "/portal/", "/portal/exports/", "/admin/login/", "/api/docs/"]
)
def test_pages_send_a_policy_that_allows_only_this_sites_scripts(path, client_a):
    page = Client()
    page.force_login(MemberFactory(client=client_a).user)
    response = page.get(path)
    assert response.status_code in (200, 302), response.status_code
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]


@pytest.mark.django_db
def test_the_swagger_ui_script_comes_from_the_same_url():
    response = Client().get("/api/docs/?script=")
    assert response.status_code == 200 and "javascript" in response["Content-Type"]


INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def test_no_template_has_an_inline_script_handler_or_javascript_url():
    offenders = []
    for path in ROOT.glob("*/templates/**/*.html"):
        if ".venv" in path.parts:
            continue
        text = path.read_text()
        for pattern in (INLINE_HANDLER, INLINE_SCRIPT, JAVASCRIPT_URL):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/projects", "/v1/tasks", "/api/v1/nothing-here"])
def test_json_answers_carry_the_data_only_policy(path):
    response = Client().get(path)  # unauthenticated: an error body, JSON all the same
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "Content-Security-Policy-Report-Only" not in response
