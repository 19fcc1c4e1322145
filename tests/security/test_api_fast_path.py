"""The API fast path (config/middleware.py): a request authenticated by its Authorization header
skips the page-only middleware, and gets the same response, byte for byte, as through the whole
chain; every other request, session-authenticated API calls among them, takes the whole chain."""

from __future__ import annotations

import base64
from datetime import date
from types import SimpleNamespace

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

import config.throttling
from billing import invoices
from clients import services as client_services
from config.middleware import PAGE_ONLY, ApiFastPathMiddleware
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.web.factories import MemberFactory

pytestmark = pytest.mark.django_db

FAST = "config.middleware.ApiFastPathMiddleware"


def _client(settings, *, fast: bool, **defaults) -> Client:
    """A test client whose handler has the configured chain (``fast``) or the same chain without
    the fast path, as before it existed."""
    configured = list(settings.MIDDLEWARE)
    assert configured[0] == FAST
    if not fast:
        settings.MIDDLEWARE = configured[1:]
    client = Client(**defaults)
    client.handler.load_middleware()
    settings.MIDDLEWARE = configured
    return client


@pytest.fixture
def keys(client_a):
    project = ProjectFactory(client=client_a)
    TaskFactory(project=project)
    annotator = AnnotatorFactory()
    staff = AnnotatorFactory(user__is_staff=True)
    scale_key = client_services.api_key_create(client=client_a, name="scale").key
    return SimpleNamespace(
        client=f"Bearer {client_services.api_key_create(client=client_a, name='native').key}",
        annotator=f"Bearer {client_services.access_token_create(user=annotator.user).key}",
        staff=f"Bearer {client_services.access_token_create(user=staff.user).key}",
        scale="Basic " + base64.b64encode(f"{scale_key}:".encode()).decode(),
        scale_bearer=f"Bearer {scale_key}",
        invoice=invoices.invoice_generate(client=client_a, period_start=date(2025, 1, 1)),
        project=project,
    )


UNKNOWN = "01a252f7-0000-7000-8000-000000000000"
SUBMIT = {"claim_version": 1, "answer": {"category": "car"}}
# (name, status, method, path, body, which key, extra request headers). Each runs twice, through both
# chains; a request whose answer changes state is made once first, so both see the same state.
CASES = [
    ("work-next", 200, "post", "/api/v1/work/next", {}, "annotator", {}),
    (
        "work-next-json-accept",
        200,
        "post",
        "/api/v1/work/next",
        {},
        "annotator",
        {"HTTP_ACCEPT": "application/json"},
    ),
    ("validation-400", 400, "post", "/api/v1/work/next", {"nope": 1}, "annotator", {}),
    (
        "unknown-assignment-404",
        404,
        "post",
        f"/api/v1/work/assignments/{UNKNOWN}/submit",
        SUBMIT,
        "annotator",
        {},
    ),
    ("projects-200", 200, "get", "/api/v1/projects", None, "client", {}),
    ("project-detail-200", 200, "get", "/api/v1/projects/{project}", None, "client", {}),
    ("annotator-on-client-endpoint-403", 403, "get", "/api/v1/projects", None, "annotator", {}),
    ("staff-report-400", 400, "get", "/api/v1/staff/reports/revenue", None, "staff", {}),
    ("invoice-html", 200, "get", "/api/v1/billing/invoices/{invoice}/html", None, "client", {}),
    ("unknown-route-404", 404, "get", "/api/v1/nothing-here", None, "client", {}),
    ("unknown-route-post-404", 404, "post", "/api/v1/nothing-here", {}, "client", {}),
    (
        "invalid-key-401",
        401,
        "get",
        "/api/v1/projects",
        None,
        None,
        {"HTTP_AUTHORIZATION": "Bearer qk_live_nope"},
    ),
    ("empty-bearer-401", 401, "get", "/api/v1/projects", None, None, {"HTTP_AUTHORIZATION": "Bearer"}),
    ("options", 200, "options", "/api/v1/projects", None, "client", {}),
    ("scale-200", 200, "get", "/v1/projects", None, "scale", {}),
    ("scale-bearer-200", 200, "get", "/v1/projects", None, "scale_bearer", {}),
    ("scale-unknown-404", 404, "get", "/v1/nothing-here", None, "scale", {}),
    ("scale-v2-404", 404, "get", "/v2/nothing-here", None, "scale", {}),
    ("scale-bad-basic-401", 401, "get", "/v1/projects", None, None, {"HTTP_AUTHORIZATION": "Basic !!!"}),
]


def _request(client, keys, method, path, body, key, extra):
    headers = dict(extra)
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = getattr(keys, key)
    path = path.format(project=keys.project.pk, invoice=keys.invoice.pk)
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, body, content_type="application/json", **headers)


def _wire(response) -> tuple:
    """What the WSGI handler sends: status, headers in order, cookies, body."""
    return (
        response.status_code,
        list(response.headers.items()),
        response.cookies.output(),
        b"".join(response) if response.streaming else response.content,
    )


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_a_keyed_api_request_gets_the_same_bytes_through_the_fast_path(case, keys, settings):
    _, status, method, path, body, key, extra = case
    fast, full = _client(settings, fast=True), _client(settings, fast=False)
    _request(full, keys, method, path, body, key, extra)  # a claim: both then see the live lease
    through_full = _request(full, keys, method, path, body, key, extra)
    through_fast = _request(fast, keys, method, path, body, key, extra)
    assert through_full.status_code == status, through_full.content
    assert _wire(through_fast) == _wire(through_full)
    # and it did take the fast path: no session, no session user
    assert hasattr(through_full.wsgi_request, "session")
    assert not hasattr(through_fast.wsgi_request, "session")


def test_a_throttled_request_gets_the_same_429(keys, settings, monkeypatch):
    monkeypatch.setattr(config.throttling, "time", SimpleNamespace(time=lambda: 1_800_000_030.25))
    settings.QUORUM_API_RATE = "1/min"
    fast, full = _client(settings, fast=True), _client(settings, fast=False)
    assert fast.get("/api/v1/projects", HTTP_AUTHORIZATION=keys.client).status_code == 200
    through_full = full.get("/api/v1/projects", HTTP_AUTHORIZATION=keys.client)
    through_fast = fast.get("/api/v1/projects", HTTP_AUTHORIZATION=keys.client)
    assert through_full.status_code == 429 and through_full["Retry-After"] == "30"
    assert _wire(through_fast) == _wire(through_full)


@pytest.mark.parametrize("https", [True, False], ids=["hsts", "ssl-redirect"])
def test_hsts_and_the_https_redirect_stay_on_the_fast_path(https, keys, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = True
    fast, full = _client(settings, fast=True), _client(settings, fast=False)
    through = [c.get("/api/v1/projects", secure=https, HTTP_AUTHORIZATION=keys.client) for c in (full, fast)]
    assert through[0].status_code == (200 if https else 301)
    assert ("Strict-Transport-Security" in through[0]) is https
    assert _wire(through[1]) == _wire(through[0])


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a portal page's own call: the session cookie alone
        # not a scheme the native API's key authentication takes: DRF goes on to the session
        {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"someone:pw").decode()},
    ],
    ids=["cookie", "basic-header"],
)
def test_session_authenticated_api_requests_still_need_the_csrf_token(headers, client_a, settings):
    browser = _client(settings, fast=True, enforce_csrf_checks=True)
    browser.force_login(MemberFactory(client=client_a).user)
    body = {"name": "Signs", "task_type": "categorization", "params": {"categories": ["a", "b"]}}
    refused = browser.post("/api/v1/projects", body, "application/json", **headers)
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["message"].startswith("CSRF Failed")
    token = _get_new_csrf_string()
    browser.cookies["csrftoken"] = token
    created = browser.post("/api/v1/projects", body, "application/json", HTTP_X_CSRFTOKEN=token, **headers)
    assert created.status_code == 201, created.content


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/projects", {}),
        ("/api/v1/projects", {"HTTP_AUTHORIZATION": "Basic eDo="}),
        ("/api/v1/projects", {"HTTP_AUTHORIZATION": "Token x"}),
        ("/api/v1/projects", {"HTTP_AUTHORIZATION": "{key}", "HTTP_ACCEPT": "text/html"}),  # browsable API
        ("/api/v1/projects?format=api", {"HTTP_AUTHORIZATION": "{key}"}),
        ("/api/docs/", {"HTTP_AUTHORIZATION": "{key}"}),  # a page under /api/
        ("/api/schema/", {"HTTP_AUTHORIZATION": "{key}"}),
        ("/healthz", {"HTTP_AUTHORIZATION": "{key}"}),
        ("/portal/", {"HTTP_AUTHORIZATION": "{key}"}),
        ("/v1/projects", {"HTTP_AUTHORIZATION": "Token x"}),
        ("/v1/projects", {}),
    ],
)
def test_every_other_request_takes_the_whole_chain(path, headers, keys, settings):
    client = _client(settings, fast=True)
    headers = {name: value.format(key=keys.client) for name, value in headers.items()}
    response = client.get(path, **headers)
    assert hasattr(response.wsgi_request, "session"), response.status_code


def test_the_fast_chain_is_the_configured_one_less_the_page_only_middleware(settings):
    """Middleware added to MIDDLEWARE later (the read-your-writes pin with a replica) stays on the
    fast path unless it is named page-only."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "core.dbrouter.ReadYourWritesMiddleware"]
    fast = ApiFastPathMiddleware(lambda request: None)
    assert fast.fast_paths == [path for path in settings.MIDDLEWARE[1:] if path not in PAGE_ONLY]
    assert fast.fast_paths[-1] == "core.dbrouter.ReadYourWritesMiddleware"
    assert "django.middleware.security.SecurityMiddleware" in fast.fast_paths
    assert not PAGE_ONLY & set(fast.fast_paths)


def test_a_claim_and_submit_work_through_the_fast_path(keys, settings):
    fast = _client(settings, fast=True, HTTP_AUTHORIZATION=keys.annotator)
    assignment = fast.post("/api/v1/work/next", {}, "application/json").json()["assignment"]
    done = fast.post(
        f"/api/v1/work/assignments/{assignment['id']}/submit",
        {"claim_version": assignment["claim_version"], "answer": {"category": "car"}},
        "application/json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["task_status"] == "completed"
