"""Who may do what: test-mode keys against live data, member roles, and input the database
would refuse. Each refused call also changes nothing."""

import pytest
from django.utils import timezone

from annotation import services
from annotation.models import Task
from clients import services as client_services
from clients.models import ApiKey, Membership
from core.models import Event
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.annotation.test_api import assert_error
from tests.clients.factories import MembershipFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_api(client_a):
    return api_for_key(
        client_services.api_key_create(client=client_a, name="sandbox", mode=ApiKey.Mode.TEST).key
    )


def bulk(api, project, unique_id="u-1"):
    body = {"project": str(project.id), "tasks": [{"params": {"attachment": "x"}, "unique_id": unique_id}]}
    return api.post("/api/v1/tasks/bulk", body, format="json")


# --- test mode and live mode ------------------------------------------------------------------------


def test_the_same_unique_id_in_test_and_live_mode_makes_two_tasks(client_a, api_a, test_api):
    project = ProjectFactory(client=client_a)
    sandbox = bulk(test_api, project)
    live = bulk(api_a, project)
    assert (sandbox.status_code, live.status_code) == (201, 201)
    assert sandbox.json()["tasks"][0]["task_id"] != live.json()["tasks"][0]["task_id"]
    assert sorted(Task.objects.values_list("is_test", flat=True)) == [False, True]
    assert_error(api_a.get(f"/api/v1/tasks/{sandbox.json()['tasks'][0]['task_id']}"), 404, "not_found")


def test_a_unique_id_reused_in_another_project_is_409(client_a, api_a):
    first, second = ProjectFactory(client=client_a), ProjectFactory(client=client_a)
    bulk(api_a, first)
    response = bulk(api_a, second)
    assert_error(response, 409, "unique_id_conflict")
    assert Task.objects.count() == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/api-keys", {"name": "escalate", "mode": "live"}),
        ("get", "/api/v1/api-keys", None),
        ("get", "/api/v1/client", None),
        ("get", "/api/v1/billing/balance", None),
        ("patch", "/api/v1/projects/{project}", {"price_per_task": 1}),
        ("post", "/api/v1/projects/{project}/pause", None),
        ("post", "/api/v1/projects/{project}/archive", None),
        ("post", "/api/v1/batches/{batch}/finalize", None),
    ],
)
def test_test_mode_keys_cannot_touch_live_configuration_keys_or_money(client_a, test_api, method, path, body):
    project = ProjectFactory(client=client_a, price_per_task=25)
    batch = services.batch_create(client=client_a, actor=None, project=project, name="live batch")
    services.task_bulk_create(
        client=client_a, actor=None, project=project, batch=batch, items=[{"params": {"attachment": "x"}}]
    )
    keys_before = ApiKey.objects.count()
    response = getattr(test_api, method)(path.format(project=project.id, batch=batch.id), body, format="json")
    assert_error(response, 403, "live_key_required")
    project.refresh_from_db()
    batch.refresh_from_db()
    assert (project.status, project.price_per_task, ApiKey.objects.count()) == ("active", 25, keys_before)
    assert (batch.status, Task.objects.get().released) == ("staging", False)


def test_test_mode_keys_cannot_cancel_live_tasks(client_a, test_api):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    assert_error(test_api.post(f"/api/v1/tasks/{task.id}/cancel", {}, format="json"), 404, "not_found")
    task.refresh_from_db()
    assert task.status == "pending"


def test_test_mode_keys_can_build_a_sandbox(client_a, test_api):
    created = test_api.post(
        "/api/v1/projects",
        {"name": "Sandbox", "task_type": "categorization", "params": {"categories": ["a", "b"]}},
        format="json",
    )
    assert created.status_code == 201
    assert bulk(test_api, ProjectFactory(client=client_a)).status_code == 201


def test_test_mode_keys_see_only_test_deliveries(client_a, api_a, test_api, settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    project = ProjectFactory(client=client_a)
    services.task_bulk_create(
        client=client_a,
        actor=None,
        project=project,
        is_test=True,
        items=[{"params": {"attachment": "x"}, "callback_url": "http://127.0.0.1:9/cb"}],
    )
    services.task_simulate_complete(task_id=Task.objects.get().id)
    assert len(test_api.get("/api/v1/deliveries").json()["results"]) == 1
    assert api_a.get("/api/v1/deliveries").json()["results"] == []


# --- member roles (session sign-in) ---------------------------------------------------------------------


def session_api(client, role):
    from rest_framework.test import APIClient

    membership = MembershipFactory(client=client, role=role)
    api = APIClient()
    api.force_login(membership.user)
    return api


@pytest.mark.parametrize(
    ("role", "write", "admin"),
    [("owner", 201, 200), ("admin", 201, 200), ("member", 201, 403), ("viewer", 403, 403)],
)
def test_member_roles(client_a, role, write, admin):
    api = session_api(client_a, role)
    assert api.get("/api/v1/projects").status_code == 200
    created = api.post(
        "/api/v1/projects", {"name": f"by {role}", "task_type": "categorization"}, format="json"
    )
    assert created.status_code == write
    assert api.get("/api/v1/api-keys").status_code == admin
    key = api.post("/api/v1/api-keys", {"name": "from the portal"}, format="json")
    assert key.status_code == (201 if admin == 200 else 403)
    if write == 403:
        assert created.json()["error"]["code"] == "insufficient_role"


def test_a_non_member_session_gets_403(client_a):
    from rest_framework.test import APIClient

    from tests.clients.factories import UserFactory

    api = APIClient()
    api.force_login(UserFactory())
    assert_error(api.get("/api/v1/projects"), 403, "no_client")


# --- money and configuration fixed at creation ------------------------------------------------------------


def test_a_price_change_applies_to_new_tasks_only(client_a, api_a):
    from billing.models import LedgerEntry

    project = ProjectFactory(client=client_a, price_per_task=25, pay_per_answer=0)  # charges only
    old_task = bulk(api_a, project, "old").json()["tasks"][0]["task_id"]
    assert (
        api_a.patch(f"/api/v1/projects/{project.id}", {"price_per_task": 1000}, format="json").status_code
        == 200
    )
    new_task = bulk(api_a, project, "new").json()["tasks"][0]["task_id"]
    for _ in range(2):
        annotator = AnnotatorFactory()
        a = services.assignment_claim(annotator=annotator).assignment
        services.assignment_submit(
            annotator=annotator, assignment_id=a.pk, claim_version=a.claim_version, answer={"category": "car"}
        )
    charged = dict(
        (entry.transaction.reference, entry.amount)
        for entry in LedgerEntry.objects.select_related("transaction").filter(amount__gt=0)
    )
    assert charged == {f"task:{old_task}": 25, f"task:{new_task}": 1000}
    assert api_a.get("/api/v1/billing/balance").json()["receivable"] == 1025


def test_changing_project_params_does_not_break_open_tasks(client_a, api_a):
    project = ProjectFactory(client=client_a)
    bulk(api_a, project)
    assert api_a.patch(f"/api/v1/projects/{project.id}", {"params": {}}, format="json").status_code == 200
    annotator = AnnotatorFactory()
    a = services.assignment_claim(annotator=annotator).assignment
    services.assignment_submit(
        annotator=annotator, assignment_id=a.pk, claim_version=a.claim_version, answer={"category": "car"}
    )
    assert Task.objects.get().status == "completed"


def test_a_deactivated_clients_work_is_not_served(client_a):
    TaskFactory(project=ProjectFactory(client=client_a))
    client_a.is_active = False
    client_a.save(update_fields=["is_active"])
    assert services.assignment_claim(annotator=AnnotatorFactory()) is None


# --- input the database would refuse -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "x", "task_type": "categorization", "price_per_task": 1e20}',
        '{"name": "x", "task_type": "categorization", "params": {"n": NaN}}',
        '{"name": "x", "task_type": "categorization", "params": {"n": 1e400}}',
        '{"name": "x\\u0000", "task_type": "categorization"}',
        '{"name": "x", "task_type": "categorization", "params": {"categories": ["a\\u0000", "b"]}}',
        '{"name": "x", "task_type": "categorization", "price_per_task": 100000000000000000000000}',
        '{"name": "x", "task_type": "categorization", "params": {"a": "\\ud800"}}',
        '{"name": "x", "task_type": "categorization", "params": {"\\udfff": 1}}',
        '{"name": "x", "task_type": "categorization", "params": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
)
def test_values_postgres_cannot_store_are_a_400(api_a, raw):
    from annotation.models import Project

    response = api_a.post("/api/v1/projects", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"parse_error", "validation_error"}
    assert Project.objects.count() == 0


def test_metadata_with_a_huge_number_is_a_400(client_a, api_a):
    project = ProjectFactory(client=client_a)
    raw = '{"project": "' + str(project.id) + '", "name": "b", "metadata": {"a": 1e400}}'
    assert_error(api_a.post("/api/v1/batches", raw, content_type="application/json"), 400, "parse_error")


# --- audit ------------------------------------------------------------------------------------------------


def test_key_creation_and_revocation_are_audited(client_a, api_a):
    created = api_a.post("/api/v1/api-keys", {"name": "ci"}, format="json").json()
    api_a.post(f"/api/v1/api-keys/{created['id']}/revoke")
    kinds = list(Event.objects.filter(entity_id=created["id"]).order_by("id").values_list("kind", "actor"))
    assert [k for k, _ in kinds] == ["api_key.created", "api_key.revoked"]
    assert all(actor.startswith("apikey:") for _, actor in kinds)
    assert Event.objects.filter(entity_id=created["id"], client_id=client_a.id).count() == 2


def test_revoking_twice_is_409_and_writes_one_event(client_a, api_a):
    key = client_services.api_key_create(client=client_a, name="k").obj
    assert api_a.post(f"/api/v1/api-keys/{key.id}/revoke").status_code == 200
    first = ApiKey.objects.get(pk=key.pk).revoked_at
    assert_error(api_a.post(f"/api/v1/api-keys/{key.id}/revoke"), 409, "already_revoked")
    assert ApiKey.objects.get(pk=key.pk).revoked_at == first
    assert Event.objects.filter(entity_id=key.id, kind="api_key.revoked").count() == 1
    assert first <= timezone.now()
    assert Membership.objects.count() == 0
