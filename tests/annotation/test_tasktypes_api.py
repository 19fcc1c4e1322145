"""Every task type through the native API: create the project, bulk-create tasks, annotators claim
and submit with their claim_version, the task completes with the consensus; invalid answers are a
400 naming the field that change nothing; test mode completes every type with the simulator."""

import pytest

from annotation import tasks as celery_tasks
from annotation import tasktypes
from annotation.models import Assignment, Submission, Task
from clients import services as client_services
from clients.models import ApiKey
from tests.annotation.factories import AnnotatorFactory
from tests.annotation.tasktype_cases import CASES, IMAGE
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db

N_TASKS = 2


def annotator_api():
    return api_for_key(client_services.access_token_create(user=AnnotatorFactory().user).key)


def create_project(api, case, **extra):
    body = {
        "name": f"{case.id} project",
        "task_type": case.task_type,
        "params": case.project_params,
        "overlap": len(case.answers),
        "price_per_task": 30,
        "pay_per_answer": 5,  # within the price at every overlap these cases use
        **extra,
    }
    created = api.post("/api/v1/projects", body, format="json")
    assert created.status_code == 201, created.content
    return created.json()["id"]


def bulk_create(api, project_id, case, n=N_TASKS):
    created = api.post(
        "/api/v1/tasks/bulk",
        {
            "project": project_id,
            "tasks": [{"params": case.task_params, "unique_id": f"{case.id}-{k}"} for k in range(n)],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["created"] == n
    return [t["task_id"] for t in created.json()["tasks"]]


def claim(worker):
    nxt = worker.post("/api/v1/work/next", {}, format="json")
    assert nxt.status_code == 200, nxt.content
    return nxt.json()["assignment"]


def submit(worker, assignment, answer):
    return worker.post(
        f"/api/v1/work/assignments/{assignment['id']}/submit",
        {"claim_version": assignment["claim_version"], "answer": answer},
        format="json",
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_round_trip_through_the_api(api_a, case):
    project_id = create_project(api_a, case)
    task_ids = bulk_create(api_a, project_id, case)
    for answer in case.answers:  # each annotator answers every task
        worker = annotator_api()
        for _ in task_ids:
            assignment = claim(worker)
            assert assignment["task"]["params"] == case.params
            done = submit(worker, assignment, answer)
            assert done.status_code == 200, done.content
        assert claim(worker) is None
    for task_id in task_ids:
        task = api_a.get(f"/api/v1/tasks/{task_id}").json()
        assert (task["status"], task["type"], task["answers_received"]) == (
            "completed",
            case.task_type,
            len(case.answers),
        )
        assert task["response"] == case.response
        assert task["confidence"] == pytest.approx(case.confidence)


@pytest.mark.parametrize(
    ("case", "answer", "field"),
    [
        pytest.param(case, answer, field, id=f"{case.id}-{field}-{k}")
        for case in CASES
        for k, (answer, field) in enumerate(case.invalid)
    ],
)
def test_invalid_answer_is_a_400_naming_the_field_and_changes_nothing(api_a, case, answer, field):
    [task_id] = bulk_create(api_a, create_project(api_a, case), case, n=1)
    worker = annotator_api()
    assignment = claim(worker)
    refused = submit(worker, assignment, answer)
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["code"] == "invalid_answer"
    assert refused.json()["error"]["details"] == {"field": field}
    assert refused.json()["error"]["message"].startswith(f"{field}: ")
    # nothing happened: the lease is still live, no submission, no answer counted
    assert Assignment.objects.get(pk=assignment["id"]).status == Assignment.Status.ACTIVE
    assert Submission.objects.count() == 0
    task = Task.objects.get(pk=task_id)
    assert (task.status, task.answers_received, task.response) == (Task.Status.PENDING, 0, None)
    # and the same lease can still submit a valid answer
    assert submit(worker, assignment, case.answers[0]).status_code == 200


@pytest.mark.parametrize(
    ("task_type", "params", "field"),
    [
        (
            "imageannotation",
            {"geometries": {"box": {"objects_to_annotate": ["car"], "min_width": -1}}},
            "params.geometries.box.min_width",
        ),
        ("lidarannotation", {"labels": []}, "params.labels"),
        ("videoannotation", {"labels": ["car"], "frame_count": 0}, "params.frame_count"),
        (
            "comparison",
            {"mode": "pairwise", "responses": [{"id": "a", "text": ""}] * 2},
            "params.responses[1]",
        ),
        (
            "textcollection",
            {"fields": [{"field_id": "x", "type": "category", "title": "X"}]},
            "params.fields[0].choices",
        ),
        ("namedentityrecognition", {"labels": "PERSON"}, "params.labels"),
    ],
)
def test_invalid_project_params_are_a_400_naming_the_field(api_a, task_type, params, field):
    refused = api_a.post(
        "/api/v1/projects", {"name": "p", "task_type": task_type, "params": params}, format="json"
    )
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["code"] == "invalid_params"
    assert refused.json()["error"]["details"] == {"field": field}
    assert api_a.get("/api/v1/projects").json()["results"] == []


def test_invalid_task_params_are_a_400_naming_the_task_and_field(api_a):
    project_id = create_project(api_a, IMAGE)
    refused = api_a.post(
        "/api/v1/tasks/bulk",
        {
            "project": project_id,
            "tasks": [{"params": IMAGE.task_params}, {"params": {"attachment": "ftp://nope"}}],
        },
        format="json",
    )
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["code"] == "invalid_params"
    assert refused.json()["error"]["message"].startswith("tasks[1].params.attachment: ")
    assert Task.objects.count() == 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_test_mode_completes_every_type_with_schema_valid_answers(client_a, case):
    key = client_services.api_key_create(client=client_a, name="sandbox", mode=ApiKey.Mode.TEST).key
    assert key.startswith("qk_test_")
    sandbox = api_for_key(key)
    task_ids = bulk_create(sandbox, create_project(sandbox, case), case)
    assert (
        celery_tasks.simulate_pending_test_tasks.apply().get() == N_TASKS
    )  # the beat relay runs the simulator
    expected = tasktypes.aggregate(
        case.task_type,
        case.params,
        [tasktypes.example_answer(case.task_type, case.params)] * len(case.answers),
    )
    for task_id in task_ids:
        task = sandbox.get(f"/api/v1/tasks/{task_id}").json()
        assert (task["status"], task["is_test"]) == ("completed", True)
        assert task["response"] == expected.response
        assert task["confidence"] == expected.confidence
    # the simulated answer passes the same check as a human's
    tasktypes.check_answer(case.task_type, case.params, tasktypes.example_answer(case.task_type, case.params))
    assert Submission.objects.count() == 0
