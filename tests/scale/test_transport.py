"""Transport rules of docs/scale-compatibility.md §3–§4 on the wire: auth, status codes, error bodies,
slashes, empty bodies, query encoding, and bad input that changes nothing."""

from __future__ import annotations

import pytest
from scaleapi.exceptions import ScaleInternalError

from annotation import selectors
from annotation.models import Batch, Project, ProjectParamVersion, Task, TaskAudit
from clients import services as client_services
from core.models import Event
from tests.scale.conftest import categorization_project, categorization_task, new_annotator_token

pytestmark = pytest.mark.django_db(transaction=True)


def assert_error(response, status: int, *, contains: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"status_code", "error"}
    assert body["status_code"] == status
    assert isinstance(body["error"], str) and contains in body["error"]


def test_auth_is_basic_with_the_key_as_user_name(tenant_a, sdk, raw):
    categorization_project(sdk(tenant_a.live_key))
    assert raw("GET", "projects", key=tenant_a.live_key).status_code == 200
    assert raw("GET", "projects", headers={"Authorization": f"Bearer {tenant_a.live_key}"}).status_code == 200
    assert_error(raw("GET", "projects"), 401)
    assert raw("GET", "projects").headers["www-authenticate"].startswith("Basic")
    assert_error(raw("GET", "projects", key="qk_live_000000000000.wrong"), 401)
    assert_error(raw("GET", "projects", key="garbage"), 401)
    assert_error(raw("GET", "projects", headers={"Authorization": "Basic !!!not-base64"}), 401)
    assert_error(raw("GET", "projects", headers={"Authorization": "Digest abc"}), 401)
    token = new_annotator_token("annotator@example.test")  # a person's token is not a client key
    assert_error(raw("GET", "projects", key=token), 401, contains="client API key")
    client_services.api_key_revoke(client=tenant_a.client, api_key_id=_key_id(tenant_a.live_key))
    assert_error(raw("GET", "projects", key=tenant_a.live_key), 401)


def _key_id(key: str):
    from clients.models import ApiKey

    return ApiKey.objects.get(prefix=key.split("_")[2].split(".")[0]).id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "nope"),
        ("POST", "nope/deeper"),
        ("GET", "tasks/"),
        ("POST", "projects/"),
        ("GET", "task/x/unknown"),
        ("DELETE", "batches/b/finalize/extra"),
    ],
)
def test_unknown_routes_are_a_json_404_never_a_redirect(tenant_a, raw, method, path):
    assert_error(raw(method, path, key=tenant_a.live_key), 404, contains="No endpoint")
    assert_error(raw(method, path), 404)  # before authentication too


def test_wrong_method_is_a_json_405(tenant_a, raw):
    assert_error(raw("DELETE", "tasks", key=tenant_a.live_key), 405)
    assert_error(raw("PUT", "projects", key=tenant_a.live_key), 405)
    assert_error(raw("GET", "task/x/cancel", key=tenant_a.live_key), 405)


def test_parse_errors_are_a_json_400_and_create_nothing(tenant_a, sdk, raw):
    categorization_project(sdk(tenant_a.live_key))
    for body in (b"{not json", b'{"project": "Colours", "attachment": NaN}', b"\xff\xfe"):
        assert_error(raw("POST", "task/categorization", key=tenant_a.live_key, data=body), 400)
    assert_error(
        raw("POST", "task/categorization", key=tenant_a.live_key, json=["a list"]), 400, contains="object"
    )
    assert Task.objects.count() == 0


def test_success_is_exactly_200_and_empty_json_bodies_are_no_body(tenant_a, raw):
    key = tenant_a.live_key
    created = raw(
        "POST",
        "projects",
        key=key,
        json={
            "type": "categorization",
            "name": "P",
            "params": {"categories": ["a", "b"]},
            "rapid": False,
            "studio": False,
            "datasetId": None,
        },
    )
    assert created.status_code == 200, created.text
    batch = raw(
        "POST",
        "batches",
        key=key,
        json={
            "project": "P",
            "name": "B",
            "callback": "",
            "calibration_batch": False,
            "self_label_batch": False,
            "metadata": {},
        },
    )
    assert batch.status_code == 200, batch.text
    task = raw(
        "POST",
        "task/categorization",
        key=key,
        json={"batch": "B", "attachment": "x", "attachment_type": "text"},
    )
    assert task.status_code == 200, task.text
    task_id = task.json()["task_id"]
    # the SDK sends Content-Type: application/json with no body on finalize and cancel
    assert raw("POST", "batches/B/finalize", key=key).json()["status"] == "in_progress"
    assert raw("POST", f"task/{task_id}/cancel", key=key).json()["status"] == "canceled"
    assert raw("POST", f"task/{task_id}/setMetadata", key=key).json()["metadata"] == {}
    assert raw("DELETE", f"task/{task_id}/tags", key=key, json=[]).status_code == 200


def test_query_booleans_any_case_and_repeated_keys(tenant_a, sdk, raw):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    ids = {uid: categorization_task(scale, unique_id=uid).id for uid in ("a", "b", "c")}
    key = tenant_a.live_key

    page = raw(
        "GET", "tasks?unique_id=a&unique_id=b&include_attachment_url=True&limited_response=TRUE", key=key
    ).json()
    assert {d["task_id"] for d in page["docs"]} == {ids["a"], ids["b"]}
    assert set(page["docs"][0]) == {"task_id", "status", "metadata", "project"}
    assert "audits" in raw("GET", "tasks?limited_response=false", key=key).json()["docs"][0]
    # the SDK's 5xx→409 recovery asks for one unique_id with no project or batch
    alone = raw("GET", "tasks?unique_id=c", key=key).json()
    assert [d["task_id"] for d in alone["docs"]] == [ids["c"]] and alone["total"] == 1
    assert_error(raw("GET", "tasks?limited_response=maybe", key=key), 400, contains="limited_response")
    canceled = raw("POST", f"task/{ids['a']}/cancel?clear_unique_id=True", key=key).json()
    assert canceled["status"] == "canceled" and "unique_id" not in canceled


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("next_token=forged", "next_token"),
        ("status=done", "status"),
        ("start_time=yesterday", "start_time"),
        ("customer_review_status=great", "customer_review_status"),
        ("status=pending&status=completed", "status"),
        ("offset=-1", "offset"),
    ],
)
def test_bad_listing_queries_are_clear_400s(tenant_a, raw, query, field):
    assert_error(raw("GET", f"tasks?{query}", key=tenant_a.live_key), 400, contains=field)


def test_bad_batch_listing_queries_are_clear_400s(tenant_a, raw):
    assert_error(raw("GET", "batches?limit=500", key=tenant_a.live_key), 400, contains="limit")
    assert_error(raw("GET", "batches?status=finished", key=tenant_a.live_key), 400, contains="status")
    assert_error(raw("GET", "batches?project=nope", key=tenant_a.live_key), 404)
    empty = raw("GET", "batches", key=tenant_a.live_key).json()
    assert empty == {"docs": [], "totalDocs": 0, "limit": 100, "offset": 0, "has_more": False}


def test_bad_edits_are_clear_400s_and_change_nothing(tenant_a, sdk, raw):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    scale.create_batch("Colours", "b")
    task = categorization_task(scale, metadata={"keep": 1}, tags=["keep"], unique_id="keep")
    key, path = tenant_a.live_key, f"task/{task.id}"

    def snapshot():
        stored = Task.objects.get(pk=task.id)
        return (
            stored.metadata,
            stored.tags,
            stored.unique_id,
            stored.status,
            Task.objects.count(),
            Event.objects.count(),
            TaskAudit.objects.count(),
            list(Batch.objects.values_list("metadata", flat=True)),
            list(Project.objects.values_list("params", "instructions")),
            ProjectParamVersion.objects.count(),
        )

    before = snapshot()
    refused = [
        ("POST", f"{path}/setMetadata", ["not", "an", "object"], "metadata"),
        ("POST", f"{path}/tags", {"not": "a list"}, "tags"),
        ("PUT", f"{path}/tags", ["ok", 7], "tags"),
        ("DELETE", f"{path}/tags", "keep", "tags"),
        ("POST", f"{path}/tags", ["x" * 201], "tags"),
        ("POST", f"{path}/unique_id", {"unique_id": 5}, "unique_id"),
        ("POST", f"{path}/unique_id", {}, "unique_id"),
        ("POST", f"{path}/audit", {"comments": "no verdict"}, "accepted"),
        ("POST", f"{path}/audit", {"accepted": "yes"}, "accepted"),
        ("POST", "task/categorization", {"project": "Colours", "attachment": "x", "tags": "solo"}, "tags"),
        (
            "POST",
            "task/categorization",
            {"project": "Colours", "attachment": "x", "priority": 1000},
            "priority",
        ),
        (
            "POST",
            "task/categorization",
            {"project": "Colours", "attachment": "x", "metadata": []},
            "metadata",
        ),
        (
            "POST",
            "task/categorization",
            {"project": "Colours", "attachment": "x", "callback_url": "ftp://x"},
            "callback_url",
        ),
        ("POST", "task/categorization", {"project": "Colours", "attachment": "x", "params": 3}, "params"),
        ("POST", "task/categorization", {"project": 12, "attachment": "x"}, "project"),
        ("POST", "batches/b/setMetadata", [1, 2], "metadata"),
        ("POST", "batches", {"project": "Colours", "name": ""}, "name"),
        ("POST", "batches", {"project": "Colours", "name": "m", "metadata": "x"}, "metadata"),
        ("POST", "projects", {"type": "categorization", "name": "Q", "params": "x"}, "params"),
        (
            "POST",
            "projects",
            {"type": "categorization", "name": "Q", "params": {"instruction": 5}},
            "instruction",
        ),
        ("POST", "projects", {"name": "Q"}, "type"),
        ("POST", "projects/Colours/setParams", {"patch": "yes"}, "patch"),
        ("POST", "projects/Colours/setParams", {"instruction": 5}, "instruction"),
    ]
    for method, target, body, field in refused:
        response = raw(method, target, key=key, json=body)
        assert_error(response, 400, contains=field)
    assert_error(raw("POST", f"{path}/audit", key=key, json={"accepted": True}), 400, contains="completed")
    assert snapshot() == before


def test_a_server_error_is_a_json_500(tenant_a, sdk, raw, monkeypatch):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    task = categorization_task(scale)

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "task_get_for_client", broken)
    assert_error(raw("GET", f"task/{task.id}", key=tenant_a.live_key), 500, contains="Internal server error")
    with pytest.raises(ScaleInternalError):
        scale.get_task(task.id)


def test_names_with_spaces_and_symbols_round_trip(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale, name="wc proj #1 ?x=1")
    scale.create_batch("wc proj #1 ?x=1", "batch 100% & more")
    assert scale.get_project("wc proj #1 ?x=1").name == "wc proj #1 ?x=1"
    assert scale.finalize_batch("batch 100% & more").status == "in_progress"
    assert scale.get_batch("batch 100% & more").project == "wc proj #1 ?x=1"
