"""The native API: flows, error bodies, tenant isolation on every endpoint."""

import pytest
from django.urls import get_resolver
from django.utils import timezone

from annotation import services
from annotation.models import Task
from billing import invoices
from clients import services as client_services
from clients.models import ApiKey
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db

CAT_PARAMS = {"categories": ["car", "pedestrian", "cyclist"]}


def annotator_api(annotator):
    return api_for_key(client_services.access_token_create(user=annotator.user).key)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_full_loop_through_the_api(api_a, client_a):
    project = api_a.post(
        "/api/v1/projects",
        {
            "name": "Signs",
            "task_type": "categorization",
            "params": CAT_PARAMS,
            "overlap": 1,
            "price_per_task": 12,
        },
        format="json",
    )
    assert project.status_code == 201, project.content
    project_id = project.json()["id"]
    created = api_a.post(
        "/api/v1/tasks/bulk",
        {"project": project_id, "tasks": [{"params": {"attachment": "What is this?"}, "unique_id": "s-1"}]},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["created"] == 1
    task_id = created.json()["tasks"][0]["task_id"]

    worker = annotator_api(AnnotatorFactory())
    nxt = worker.post("/api/v1/work/next", {}, format="json").json()
    assignment = nxt["assignment"]
    assert assignment["task"]["id"] == task_id
    assert assignment["task"]["params"] == {"attachment": "What is this?", **CAT_PARAMS}
    assert "client" not in assignment["task"]
    done = worker.post(
        f"/api/v1/work/assignments/{assignment['id']}/submit",
        {"claim_version": assignment["claim_version"], "answer": {"category": "pedestrian"}},
        format="json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["task_status"] == "completed"

    task = api_a.get(f"/api/v1/tasks/{task_id}").json()
    assert task["status"] == "completed"
    assert task["response"] == {"category": "pedestrian"}
    assert task["unique_id"] == "s-1"
    assert task["completed_at"].endswith("Z")
    balance = api_a.get("/api/v1/billing/balance").json()
    assert (balance["currency"], balance["receivable"], balance["committed"], balance["available"]) == (
        "USD",
        12,
        12,
        None,
    )
    assert worker.post("/api/v1/work/next", {}, format="json").json() == {
        "assignment": None,
        "resumed": False,
    }


def test_bulk_replay_returns_existing_ids_and_200(api_a, client_a):
    project = ProjectFactory(client=client_a)
    body = {
        "project": str(project.id),
        "tasks": [{"params": {"attachment": f"t{i}"}, "unique_id": f"u{i}"} for i in range(3)],
    }
    first = api_a.post("/api/v1/tasks/bulk", body, format="json")
    second = api_a.post("/api/v1/tasks/bulk", body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["created"] == 0
    assert second.json()["existing"] == 3
    assert [t["task_id"] for t in first.json()["tasks"]] == [t["task_id"] for t in second.json()["tasks"]]
    assert Task.objects.count() == 3


def test_task_list_filters_and_cursor_pagination(api_a, client_a):
    project = ProjectFactory(client=client_a)
    other = ProjectFactory(client=client_a)
    TaskFactory.create_batch(5, project=project)
    TaskFactory(project=other)
    seen, url = [], "/api/v1/tasks?limit=2&project=" + str(project.id)
    while url:
        page = api_a.get(url).json()
        seen += [t["task_id"] for t in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5
    assert api_a.get("/api/v1/tasks?status=completed").json()["results"] == []
    assert_error(api_a.get("/api/v1/tasks?status=bogus"), 400, "validation_error")


def test_test_key_creates_sandbox_tasks_seen_only_by_test_keys(client_a):
    project = ProjectFactory(client=client_a)
    live = api_for_key(client_services.api_key_create(client=client_a, name="live").key)
    test = api_for_key(
        client_services.api_key_create(client=client_a, name="test", mode=ApiKey.Mode.TEST).key
    )
    test.post(
        "/api/v1/tasks/bulk",
        {"project": str(project.id), "tasks": [{"params": {"attachment": "x"}}]},
        format="json",
    )
    assert Task.objects.get().is_test is True
    assert len(test.get("/api/v1/tasks").json()["results"]) == 1
    assert live.get("/api/v1/tasks").json()["results"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "task_type": "lidar"}, "validation_error"),
        ({"name": "x", "task_type": "categorization", "overlap": 0}, "validation_error"),
        ({"name": "a/b", "task_type": "categorization"}, "invalid_name"),
        ({"name": "x", "task_type": "categorization", "params": {"categories": "car"}}, "invalid_params"),
    ],
)
def test_bad_project_input_is_a_clear_400(api_a, body, code):
    assert_error(api_a.post("/api/v1/projects", body, format="json"), 400, code)


def test_duplicate_project_name_is_409(api_a):
    body = {"name": "Dup", "task_type": "categorization"}
    assert api_a.post("/api/v1/projects", body, format="json").status_code == 201
    assert_error(api_a.post("/api/v1/projects", body, format="json"), 409, "duplicate_project_name")


def test_auth_errors(api_a, client_a):
    from rest_framework.test import APIClient

    assert_error(APIClient().get("/api/v1/projects"), 401, "not_authenticated")
    assert_error(api_for_key("qk_live_000000000000.nope").get("/api/v1/projects"), 401, "invalid_api_key")
    assert_error(api_for_key("garbage").get("/api/v1/projects"), 401, "invalid_api_key")


def test_revoked_key_is_refused_on_the_next_request_and_last_used_is_recorded(client_a):
    issued = client_services.api_key_create(client=client_a, name="k")
    api = api_for_key(issued.key)
    assert api.get("/api/v1/projects").status_code == 200
    issued.obj.refresh_from_db()
    assert issued.obj.last_used_at is not None
    assert api.post(f"/api/v1/api-keys/{issued.obj.id}/revoke").status_code == 200
    assert_error(api.get("/api/v1/projects"), 401, "invalid_api_key")


def test_api_key_is_shown_once_and_stored_hashed(api_a):
    created = api_a.post("/api/v1/api-keys", {"name": "ci", "mode": "test"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("qk_test_")
    listed = api_a.get("/api/v1/api-keys").json()["results"]
    assert all("key" not in k for k in listed)
    stored = ApiKey.objects.get(id=created.json()["id"])
    assert key not in (stored.key_hash, stored.prefix)
    assert api_for_key(key).get("/api/v1/projects").status_code == 200


def test_annotator_token_cannot_use_client_endpoints_and_key_cannot_work(api_a):
    worker = annotator_api(AnnotatorFactory())
    assert_error(worker.get("/api/v1/projects"), 403, "client_key_required")
    assert_error(api_a.post("/api/v1/work/next", {}, format="json"), 403, "not_an_annotator")


def test_stale_submit_through_the_api_is_409_with_code(client_a):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.models import Assignment

    TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    worker = annotator_api(annotator)
    assignment = worker.post("/api/v1/work/next", {}, format="json").json()["assignment"]
    Assignment.objects.filter(pk=assignment["id"]).update(leased_until=timezone.now() - timedelta(seconds=1))
    response = worker.post(
        f"/api/v1/work/assignments/{assignment['id']}/submit",
        {"claim_version": assignment["claim_version"], "answer": {"category": "car"}},
        format="json",
    )
    assert_error(response, 409, "lease_expired")


def test_unknown_api_path_is_a_json_404(api_a):
    assert_error(api_a.get("/api/v1/nothing-here"), 404, "not_found")


# --- tenant isolation ------------------------------------------------------------------------------------


@pytest.fixture
def world_a(client_a):
    project = ProjectFactory(client=client_a)
    batch = services.batch_create(client=client_a, actor=None, project=project, name="a-batch")
    task = TaskFactory(project=project, batch=batch)
    key = client_services.api_key_create(client=client_a, name="a")
    invoice = invoices.invoice_generate(client=client_a, period_start=timezone.now().date().replace(day=1))
    export = services.export_create(client=client_a, actor=None, project=project, format="jsonl").job
    return {
        "project_id": project.id,
        "batch_id": batch.id,
        "task_id": task.id,
        "key_id": key.obj.id,
        "invoice_id": invoice.id,
        "export_id": export.id,
    }


# Every client endpoint that takes an object id, with the method and body to call it with.
FOREIGN_CALLS = [
    ("get", "/api/v1/projects/{project_id}", None),
    ("patch", "/api/v1/projects/{project_id}", {"priority": 3}),
    ("post", "/api/v1/projects/{project_id}/pause", None),
    ("post", "/api/v1/projects/{project_id}/resume", None),
    ("post", "/api/v1/projects/{project_id}/archive", None),
    ("get", "/api/v1/batches/{batch_id}", None),
    ("post", "/api/v1/batches/{batch_id}/finalize", None),
    ("get", "/api/v1/tasks/{task_id}", None),
    ("post", "/api/v1/tasks/{task_id}/cancel", {}),
    ("post", "/api/v1/api-keys/{key_id}/revoke", None),
    ("post", "/api/v1/tasks/bulk", {"project": "{project_id}", "tasks": [{"params": {"attachment": "x"}}]}),
    ("post", "/api/v1/batches", {"project": "{project_id}", "name": "steal"}),
    ("get", "/api/v1/billing/invoices/{invoice_id}", None),
    ("get", "/api/v1/billing/invoices/{invoice_id}/csv", None),
    ("get", "/api/v1/billing/invoices/{invoice_id}/html", None),
    ("get", "/api/v1/projects/{project_id}/exports", None),
    ("post", "/api/v1/projects/{project_id}/exports", {"format": "jsonl"}),
    ("get", "/api/v1/projects/{project_id}/exports/{export_id}", None),
    ("get", "/api/v1/projects/{project_id}/exports/{export_id}/download", None),
    ("post", "/api/v1/projects/{project_id}/attachments", {}),
    ("get", "/api/v1/projects/{project_id}/quality", None),
    ("post", "/api/v1/projects/{project_id}/consensus/recompute", {}),
    ("post", "/api/v1/tasks/{task_id}/audit", {"accepted": False}),
]


@pytest.mark.parametrize(("method", "path", "body"), FOREIGN_CALLS)
def test_client_b_gets_404_for_every_object_of_client_a(world_a, api_b, method, path, body):
    url = path.format(**world_a)
    if body is not None:
        body = {k: (v.format(**world_a) if isinstance(v, str) else v) for k, v in body.items()}
    snapshot = _state()
    response = getattr(api_b, method)(url, body, format="json")
    assert_error(response, 404, "not_found")
    assert _state() == snapshot


def test_client_b_lists_none_of_client_a(world_a, api_b, client_b):
    for path in (
        "/api/v1/projects",
        "/api/v1/batches",
        "/api/v1/tasks",
        "/api/v1/deliveries",
        "/api/v1/tasks?unique_id=x",
    ):
        assert api_b.get(path).json()["results"] == [], path
    keys = api_b.get("/api/v1/api-keys").json()["results"]
    assert {k["id"] for k in keys} == {str(k.id) for k in client_b.api_keys.all()}
    assert str(world_a["key_id"]) not in {k["id"] for k in keys}
    assert api_b.get("/api/v1/client").json()["slug"] == "beta"


@pytest.mark.parametrize("path", [p for m, p, b in FOREIGN_CALLS if "{" in p and m == "get"])
def test_malformed_ids_are_a_404_not_a_500(api_a, path):
    url = (
        path.replace("{project_id}", "nope")
        .replace("{batch_id}", "1")
        .replace("{task_id}", "x" * 40)
        .replace("{export_id}", "e")
    )
    assert_error(api_a.get(url), 404, "not_found")


def test_malformed_ids_in_writes_are_a_404(api_a):
    assert_error(api_a.post("/api/v1/api-keys/not-a-uuid/revoke"), 404, "not_found")
    assert_error(api_a.post("/api/v1/tasks/not-a-uuid/cancel", {}, format="json"), 404, "not_found")


def test_bulk_create_into_own_project_with_a_foreign_batch_is_404(world_a, client_b, api_b):
    own = ProjectFactory(client=client_b)
    body = {
        "project": str(own.id),
        "batch": str(world_a["batch_id"]),
        "tasks": [{"params": {"attachment": "x"}}],
    }
    assert_error(api_b.post("/api/v1/tasks/bulk", body, format="json"), 404, "not_found")
    assert Task.objects.filter(client=client_b).count() == 0


def test_the_isolation_matrix_covers_every_client_endpoint_with_an_id():
    """If someone adds an endpoint with an object id, this fails until it joins FOREIGN_CALLS."""
    patterns = set()
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/v1/":
            continue
        for sub in _flatten(pattern.url_patterns):
            route = str(sub)
            # Annotator work, review and staff routes are not client endpoints
            # (tests/billing/test_money_api.py
            # walks every staff route and checks that client callers are refused; test_workforce_api.py
            # shows a review is only the reviewer's who holds it).
            if "<" in route and not route.startswith(("work/", "staff/", "review/")):
                patterns.add("/api/v1/" + route)
    covered = {
        path.replace("{project_id}", "<str:project_id>")
        .replace("{batch_id}", "<str:batch_id>")
        .replace("{task_id}", "<str:task_id>")
        .replace("{key_id}", "<str:key_id>")
        .replace("{invoice_id}", "<uuid:invoice_id>")
        .replace("{export_id}", "<str:export_id>")
        for _, path, _ in FOREIGN_CALLS
    }
    assert patterns <= covered, patterns - covered


def _flatten(patterns, prefix=""):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            yield from _flatten(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern)


def _state():
    from annotation.models import Batch, Project
    from core.models import Event

    return (
        list(Project.objects.values_list("id", "status", "priority").order_by("id")),
        list(Batch.objects.values_list("id", "status").order_by("id")),
        list(Task.objects.values_list("id", "status").order_by("id")),
        list(ApiKey.objects.values_list("id", "revoked_at").order_by("id")),
        Event.objects.count(),
    )


def test_annotator_cannot_touch_another_annotators_assignment(client_a):
    TaskFactory(project=ProjectFactory(client=client_a))
    owner, thief = AnnotatorFactory(), AnnotatorFactory()
    assignment = annotator_api(owner).post("/api/v1/work/next", {}, format="json").json()["assignment"]
    thief_api = annotator_api(thief)
    for action, body in [
        ("submit", {"claim_version": 1, "answer": {"category": "car"}}),
        ("skip", {"claim_version": 1}),
        ("release", {"claim_version": 1}),
        ("heartbeat", {"claim_version": 1}),
    ]:
        assert_error(
            thief_api.post(f"/api/v1/work/assignments/{assignment['id']}/{action}", body, format="json"),
            404,
            "not_found",
        )


@pytest.mark.parametrize(
    "path", ["/api/v1/projects", "/api/v1/batches", "/api/v1/tasks", "/api/v1/api-keys", "/api/v1/deliveries"]
)
@pytest.mark.parametrize("position", ["x", "notauuid", "%00"])
def test_a_forged_cursor_is_a_404_not_a_500(api_a, path, position):
    import base64
    from urllib.parse import quote

    cursor = base64.b64encode(f"p={position}".encode()).decode()
    assert_error(api_a.get(f"{path}?cursor={quote(cursor)}"), 404, "not_found")


@pytest.mark.parametrize(
    "value",
    ["2020-01-01T00:00:00+16:00", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59-23:00", "yesterday"],
)
def test_dates_postgres_cannot_take_are_a_400(api_a, value):
    from urllib.parse import quote

    assert_error(api_a.get(f"/api/v1/tasks?created_after={quote(value)}"), 400, "validation_error")


def test_a_date_with_an_offset_filters_in_utc(api_a, client_a):
    from datetime import timedelta

    from django.utils import timezone

    task = TaskFactory(project=ProjectFactory(client=client_a))
    just_before = (task.created_at - timedelta(seconds=1)).astimezone(
        timezone.get_fixed_timezone(15 * 60 + 59)
    )
    results = api_a.get("/api/v1/tasks", {"created_after": just_before.isoformat()}).json()["results"]
    assert [t["task_id"] for t in results] == [str(task.id)]
