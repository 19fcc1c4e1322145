"""Services: claim, submit (fenced), skip, release, expiry, completion, bulk create, cancel."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import services
from annotation.models import Assignment, Submission, Task
from billing.models import LedgerEntry, LedgerTransaction
from core.errors import Conflict, NotFound, PermissionDenied, TooManyRequests, ValidationFailed
from core.models import Event, WebhookDelivery
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, ProjectFactory, TaskFactory

pytestmark = pytest.mark.django_db

ANSWER = {"category": "car"}


def claim(annotator, **kw):
    result = services.assignment_claim(annotator=annotator, resume=kw.pop("resume", False), **kw)
    return result.assignment if result else None


def submit(annotator, assignment, answer=ANSWER, **kw):
    return services.assignment_submit(
        annotator=annotator,
        assignment_id=assignment.pk,
        claim_version=assignment.claim_version,
        answer=answer,
        **kw,
    )


def test_claim_takes_a_slot_and_submit_completes_charges_and_queues_the_callback(
    client_a, django_capture_on_commit_callbacks
):
    project = ProjectFactory(client=client_a, overlap=1, price_per_task=25)
    task = TaskFactory(project=project, callback_url="http://127.0.0.1:9/hook")
    annotator = AnnotatorFactory()

    assignment = claim(annotator)
    task.refresh_from_db()
    assert assignment.task_id == task.id
    assert (task.slots_taken, task.claim_seq, assignment.claim_version) == (1, 1, 1)

    with django_capture_on_commit_callbacks() as callbacks:
        submit(annotator, assignment)
    task.refresh_from_db()
    assert task.status == Task.Status.COMPLETED
    assert task.response == {"category": "car"}
    assert task.confidence == 1.0
    assert task.answers_received == 1
    charge = LedgerTransaction.objects.get()
    assert charge.idempotency_key == f"task:{task.id}:charge"
    assert sorted(LedgerEntry.objects.values_list("amount", flat=True)) == [-25, 25]
    delivery = WebhookDelivery.objects.get()
    assert delivery.url == "http://127.0.0.1:9/hook"
    assert delivery.payload["task_id"] == str(task.id)
    assert delivery.payload["status"] == "completed"
    assert delivery.payload["response"] == {"category": "car"}
    # After commit, two wake-ups: a worker's endpoint relay and batch check of a SQL completion,
    # and the delivery's. The request itself runs no statement after its one.
    assert [c.__qualname__ for c in callbacks] == [
        "after_commit(wake_after_sql_completion)",
        "after_commit(wake_delivery)",
    ]
    kinds = list(
        Event.objects.filter(entity_id__in=[task.id, assignment.id])
        .values_list("kind", flat=True)
        .order_by("id")
    )
    assert kinds == ["assignment.claimed", "assignment.submitted", "task.completed"]


def test_overlap_three_completes_with_the_majority_after_the_third_answer(client_a):
    project = ProjectFactory(client=client_a, overlap=3)
    task = TaskFactory(project=project)
    answers = [{"category": "car"}, {"category": "cyclist"}, {"category": "car"}]
    for i, answer in enumerate(answers):
        annotator = AnnotatorFactory()
        submit(annotator, claim(annotator), answer)
        task.refresh_from_db()
        assert task.status == (Task.Status.COMPLETED if i == 2 else Task.Status.PENDING)
    assert task.response == {"category": "car"}
    assert task.confidence == pytest.approx(2 / 3)


def test_test_mode_task_is_never_served_and_never_charged(client_a):
    project = ProjectFactory(client=client_a)
    services.task_bulk_create(
        client=client_a, actor=None, project=project, items=[{"params": {"attachment": "x"}}], is_test=True
    )
    task = Task.objects.get()
    assert (task.is_test, task.released) == (True, False)
    assert claim(AnnotatorFactory()) is None
    services.task_simulate_complete(task_id=task.id)
    task.refresh_from_db()
    assert task.status == Task.Status.COMPLETED
    assert task.response == {"category": "car"}
    assert LedgerTransaction.objects.count() == 0


def test_an_annotator_never_gets_the_same_task_twice(client_a):
    project = ProjectFactory(client=client_a, overlap=2)
    TaskFactory(project=project)
    annotator = AnnotatorFactory()
    first = claim(annotator)
    services.assignment_skip(annotator=annotator, assignment_id=first.pk, claim_version=first.claim_version)
    assert claim(annotator) is None
    assert claim(AnnotatorFactory()) is not None


def test_claim_serves_breadth_first_then_age(client_a):
    project = ProjectFactory(client=client_a, overlap=2, serving_order="breadth_first")
    older, newer = TaskFactory(project=project), TaskFactory(project=project)
    Task.objects.filter(pk=newer.pk).update(created_at=older.created_at + timedelta(seconds=1))
    a1, a2 = AnnotatorFactory(), AnnotatorFactory()
    assert claim(a1).task_id == older.id
    assert claim(a2).task_id == newer.id  # fewest answers first, not the older half-done task


def test_claim_serves_started_tasks_first_by_default(client_a):
    """The default order finishes what was started: a task with an answer or a lease comes before a
    new one (least-answered first among started tasks), then new tasks by priority and age."""
    project = ProjectFactory(client=client_a, overlap=3)
    assert project.serving_order == "started_first"
    older, newer, newest = (TaskFactory(project=project) for _ in range(3))
    for i, task in enumerate((older, newer, newest)):
        Task.objects.filter(pk=task.pk).update(created_at=older.created_at + timedelta(seconds=i))
    a1, a2, a3, a4 = (AnnotatorFactory() for _ in range(4))
    assert claim(a1).task_id == older.id  # nothing started yet: the oldest
    assert claim(a2).task_id == older.id  # the started task again, not the newer fresh one
    submit(a1, Assignment.objects.get(annotator=a1))
    assert claim(a3).task_id == older.id  # still started and open: its last slot
    assert claim(a4).task_id == newer.id  # older is full: the next fresh task, by age
    assert claim(a1).task_id == newer.id  # started (a4 holds it) before the untouched newest


def test_higher_priority_project_is_served_first(client_a):
    low = ProjectFactory(client=client_a, priority=0)
    high = ProjectFactory(client=client_a, priority=5)
    TaskFactory(project=low)
    wanted = TaskFactory(project=high)
    assert claim(AnnotatorFactory()).task_id == wanted.id


@pytest.mark.parametrize("status", ["paused", "archived", "draft"])
def test_inactive_projects_are_not_served(client_a, status):
    TaskFactory(project=ProjectFactory(client=client_a, status=status))
    assert claim(AnnotatorFactory()) is None


def test_staging_batch_is_served_only_after_finalize(client_a):
    project = ProjectFactory(client=client_a)
    batch = services.batch_create(client=client_a, actor=None, project=project, name="b1")
    services.task_bulk_create(
        client=client_a, actor=None, project=project, batch=batch, items=[{"params": {"attachment": "x"}}]
    )
    annotator = AnnotatorFactory()
    assert claim(annotator) is None
    services.batch_finalize(client=client_a, actor=None, batch_id=batch.id)
    assert claim(annotator) is not None


def test_resume_returns_the_live_lease_instead_of_a_new_claim(client_a):
    project = ProjectFactory(client=client_a)
    TaskFactory.create_batch(2, project=project)
    annotator = AnnotatorFactory()
    first = claim(annotator)
    again = services.assignment_claim(annotator=annotator, resume=True)
    assert again.resumed is True
    assert again.assignment.pk == first.pk
    assert Assignment.objects.count() == 1


def test_live_lease_quota(client_a, settings):
    settings.QUORUM_MAX_LIVE_LEASES = 2
    TaskFactory.create_batch(3, project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    claim(annotator)
    claim(annotator)
    with pytest.raises(TooManyRequests) as err:
        claim(annotator)
    assert err.value.code == "lease_quota_exceeded"
    assert Assignment.objects.count() == 2


@pytest.mark.parametrize("status", ["applicant", "suspended", "banned"])
def test_only_active_annotators_claim(client_a, status):
    TaskFactory(project=ProjectFactory(client=client_a))
    with pytest.raises(PermissionDenied):
        claim(AnnotatorFactory(status=status))
    assert Assignment.objects.count() == 0


def _snapshot(task):
    task.refresh_from_db()
    return (
        task.status,
        task.slots_taken,
        task.answers_received,
        task.response,
        Submission.objects.count(),
        LedgerTransaction.objects.count(),
        WebhookDelivery.objects.count(),
        sorted(Assignment.objects.values_list("status", flat=True)),
    )


def test_fencing_a_submit_after_the_lease_expired_and_the_task_moved_on_is_409_and_changes_nothing(client_a):
    project = ProjectFactory(client=client_a, overlap=1, price_per_task=10)
    task = TaskFactory(project=project, callback_url="http://127.0.0.1:9/hook")
    slow, fast = AnnotatorFactory(), AnnotatorFactory()
    stale = claim(slow)
    Assignment.objects.filter(pk=stale.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    assert services.leases_expire() == 1
    fresh = claim(fast)
    assert fresh.task_id == task.id
    assert fresh.claim_version == 2  # the fencing token moved on
    before = _snapshot(task)

    with pytest.raises(Conflict) as err:
        submit(slow, stale)
    assert err.value.status_code == 409
    assert err.value.code == "lease_lost"
    assert _snapshot(task) == before

    submit(fast, fresh)
    task.refresh_from_db()
    assert task.status == Task.Status.COMPLETED
    assert LedgerTransaction.objects.count() == 1


def test_submit_after_the_lease_ran_out_but_before_the_sweep_is_409(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    assignment = claim(annotator)
    before = _snapshot(task)
    with pytest.raises(Conflict) as err:
        submit(annotator, assignment, now=assignment.leased_until + timedelta(milliseconds=1))
    assert err.value.code == "lease_expired"
    assert _snapshot(task) == before


def test_submit_with_a_wrong_claim_version_is_409(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    assignment = claim(annotator)
    before = _snapshot(task)
    with pytest.raises(Conflict) as err:
        services.assignment_submit(
            annotator=annotator, assignment_id=assignment.pk, claim_version=99, answer=ANSWER
        )
    assert err.value.code == "stale_claim"
    assert _snapshot(task) == before


def test_someone_elses_assignment_is_404(client_a):
    TaskFactory(project=ProjectFactory(client=client_a))
    owner, other = AnnotatorFactory(), AnnotatorFactory()
    assignment = claim(owner)
    with pytest.raises(NotFound):
        submit(other, assignment)
    assert Submission.objects.count() == 0


def test_invalid_answer_is_400_and_changes_nothing(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    assignment = claim(annotator)
    before = _snapshot(task)
    with pytest.raises(ValidationFailed) as err:
        submit(annotator, assignment, {"category": "spaceship"})
    assert err.value.code == "invalid_answer"
    assert _snapshot(task) == before


def test_skip_and_release_return_the_slot(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a, overlap=2))
    a1, a2 = AnnotatorFactory(), AnnotatorFactory()
    s1, s2 = claim(a1), claim(a2)
    services.assignment_skip(annotator=a1, assignment_id=s1.pk, claim_version=s1.claim_version)
    services.assignment_release(annotator=a2, assignment_id=s2.pk, claim_version=s2.claim_version)
    task.refresh_from_db()
    assert task.slots_taken == 0
    assert sorted(Assignment.objects.values_list("status", flat=True)) == ["released", "skipped"]
    with pytest.raises(Conflict):  # a second release of the same lease changes nothing
        services.assignment_release(annotator=a2, assignment_id=s2.pk, claim_version=s2.claim_version)
    task.refresh_from_db()
    assert task.slots_taken == 0


def test_heartbeat_extends_a_live_lease(client_a):
    TaskFactory(project=ProjectFactory(client=client_a, lease_seconds=60))
    annotator = AnnotatorFactory()
    assignment = claim(annotator)
    Assignment.objects.filter(pk=assignment.pk).update(leased_until=timezone.now() + timedelta(seconds=5))
    extended = services.assignment_heartbeat(
        annotator=annotator, assignment_id=assignment.pk, claim_version=assignment.claim_version
    )
    assert extended.leased_until > timezone.now() + timedelta(seconds=55)


def test_expiry_sweep_run_twice_expires_once(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a, overlap=2))
    for _ in range(2):
        claim(AnnotatorFactory())
    Assignment.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    assert services.leases_expire() == 2
    assert services.leases_expire() == 0
    task.refresh_from_db()
    assert task.slots_taken == 0
    assert Event.objects.filter(kind="assignment.expired").count() == 2


def test_completion_run_twice_posts_one_ledger_transaction_and_one_callback_row(client_a):
    from annotation import tasks as celery_tasks

    task = TaskFactory(
        project=ProjectFactory(client=client_a, price_per_task=30), callback_url="http://127.0.0.1:9/cb"
    )
    annotator = AnnotatorFactory()
    assignment = claim(annotator)
    submit(annotator, assignment)
    # The Celery relay task for completion, run twice more (as a retried or duplicated message would be).
    celery_tasks.task_try_complete.apply(args=[str(task.id)])
    celery_tasks.task_try_complete.apply(args=[str(task.id)])
    assert LedgerTransaction.objects.count() == 1
    assert LedgerEntry.objects.count() == 2
    assert WebhookDelivery.objects.count() == 1


def test_complete_ready_tasks_relay_completes_a_task_left_with_all_its_answers(client_a):
    from annotation import tasks as celery_tasks

    project = ProjectFactory(client=client_a, overlap=2, price_per_task=5)
    task = TaskFactory(project=project)
    for _ in range(2):
        annotator = AnnotatorFactory()
        assignment = claim(annotator)
        if _ == 0:
            submit(annotator, assignment)
    # Simulate the state a crash would leave: the second answer stored, completion not run.
    second = Assignment.objects.get(status="active")
    Assignment.objects.filter(pk=second.pk).update(status="submitted")
    Submission.objects.create(
        assignment=second, task=task, annotator=second.annotator, answer={"category": "car"}
    )
    Task.objects.filter(pk=task.pk).update(answers_received=2)
    assert celery_tasks.complete_ready_tasks.apply().get() == 1
    assert celery_tasks.complete_ready_tasks.apply().get() == 0
    task.refresh_from_db()
    assert task.status == Task.Status.COMPLETED
    assert LedgerTransaction.objects.count() == 1


# --- bulk create ---------------------------------------------------------------------------------------


def items(n, prefix="u"):
    return [{"params": {"attachment": f"text {i}"}, "unique_id": f"{prefix}-{i}"} for i in range(n)]


def test_bulk_create_is_idempotent_on_unique_id(client_a):
    project = ProjectFactory(client=client_a)
    first = services.task_bulk_create(client=client_a, actor=None, project=project, items=items(5))
    second = services.task_bulk_create(client=client_a, actor=None, project=project, items=items(5))
    assert [r.created for r in first] == [True] * 5
    assert [r.created for r in second] == [False] * 5
    assert [r.task.id for r in first] == [r.task.id for r in second]
    assert Task.objects.count() == 5


def test_bulk_create_mixed_new_and_existing(client_a):
    project = ProjectFactory(client=client_a)
    services.task_bulk_create(client=client_a, actor=None, project=project, items=items(2))
    result = services.task_bulk_create(client=client_a, actor=None, project=project, items=items(4))
    assert [r.created for r in result] == [False, False, True, True]
    assert Task.objects.count() == 4


def test_unique_id_is_scoped_per_client(client_a, client_b):
    services.task_bulk_create(
        client=client_a, actor=None, project=ProjectFactory(client=client_a), items=items(1)
    )
    result = services.task_bulk_create(
        client=client_b, actor=None, project=ProjectFactory(client=client_b), items=items(1)
    )
    assert result[0].created is True
    assert Task.objects.count() == 2


def test_bulk_create_is_atomic_one_bad_item_creates_nothing(client_a):
    project = ProjectFactory(client=client_a)
    bad = items(3)
    bad[2]["params"] = {"attachment": 7}
    with pytest.raises(ValidationFailed) as err:
        services.task_bulk_create(client=client_a, actor=None, project=project, items=bad)
    assert err.value.message.startswith("tasks[2].params.attachment")
    assert Task.objects.count() == 0
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"params": {"attachment": "x"}, "callback_url": "http://10.0.0.1/cb"}, "invalid_callback_url"),
        ({"params": {"attachment": "x"}, "colour": "red"}, "invalid_task"),
        ({"params": {"attachment": "x"}, "priority": 1000}, "invalid_task"),
        ({"params": {"attachment": "x"}, "unique_id": ""}, "invalid_task"),
        ("not an object", "invalid_task"),
    ],
)
def test_bulk_create_refuses_bad_items(client_a, item, code, settings):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    with pytest.raises(ValidationFailed) as err:
        services.task_bulk_create(
            client=client_a, actor=None, project=ProjectFactory(client=client_a), items=[item]
        )
    assert err.value.code == code
    assert Task.objects.count() == 0


def test_bulk_create_limits(client_a, settings):
    project = ProjectFactory(client=client_a)
    settings.QUORUM_BULK_CREATE_MAX = 3
    with pytest.raises(ValidationFailed) as err:
        services.task_bulk_create(client=client_a, actor=None, project=project, items=items(4))
    assert err.value.code == "too_many_tasks"
    with pytest.raises(ValidationFailed) as err:
        services.task_bulk_create(
            client=client_a, actor=None, project=project, items=[items(1)[0], items(1)[0]]
        )
    assert err.value.code == "duplicate_unique_id"
    assert Task.objects.count() == 0


def test_box_tasks_complete_with_the_fused_boxes(client_a):
    project = BoxProjectFactory(client=client_a, overlap=2)
    services.task_bulk_create(
        client=client_a,
        actor=None,
        project=project,
        items=[{"params": {"attachment": "https://img.example.test/1.jpg"}}],
    )
    answers = [
        {"annotations": [{"type": "box", "label": "car", "left": 1, "top": 1, "width": 10, "height": 10}]},
        {
            "annotations": [
                {"type": "box", "label": "car", "left": 3, "top": 1, "width": 10, "height": 10},
                {"type": "box", "label": "pedestrian", "left": 30, "top": 5, "width": 3, "height": 8},
            ]
        },
    ]
    for answer in answers:
        annotator = AnnotatorFactory()
        submit(annotator, claim(annotator), answer)
    task = Task.objects.get()
    assert task.status == Task.Status.COMPLETED
    # the cars match (IoU 80/120) and fuse to their mean; the pedestrian meets the quorum of 1 of 2
    car_iou = 80 / 120
    assert task.response == {
        "annotations": [
            {
                "type": "box",
                "label": "car",
                "left": 2.0,
                "top": 1.0,
                "width": 10.0,
                "height": 10.0,
                "confidence": round(car_iou, 6),
            },
            {
                "type": "box",
                "label": "pedestrian",
                "left": 30.0,
                "top": 5.0,
                "width": 3.0,
                "height": 8.0,
                "confidence": 0.5,
            },
        ]
    }
    assert task.confidence == pytest.approx((car_iou + 0.5) / 2)


# --- cancel and projects ------------------------------------------------------------------------------


def test_cancel_only_pending(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a), unique_id="u-1")
    canceled = services.task_cancel(client=client_a, actor=None, task_id=task.id, clear_unique_id=True)
    assert (canceled.status, canceled.unique_id, canceled.released) == ("canceled", None, False)
    with pytest.raises(Conflict) as err:
        services.task_cancel(client=client_a, actor=None, task_id=task.id)
    assert err.value.code == "task_not_pending"


def test_cancel_of_another_clients_task_is_404(client_a, client_b):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    with pytest.raises(NotFound):
        services.task_cancel(client=client_b, actor=None, task_id=task.id)
    task.refresh_from_db()
    assert task.status == "pending"


def test_cancel_releases_live_leases_and_their_submit_is_409(client_a):
    task = TaskFactory(project=ProjectFactory(client=client_a))
    annotator = AnnotatorFactory()
    assignment = claim(annotator)
    services.task_cancel(client=client_a, actor=None, task_id=task.id)
    assignment.refresh_from_db()
    task.refresh_from_db()
    assert (assignment.status, task.slots_taken) == ("released", 0)
    with pytest.raises(Conflict) as err:
        submit(annotator, assignment)
    assert err.value.code == "lease_lost"
    assert services.assignment_claim(annotator=annotator) is None  # not trapped on the dead lease


def test_project_pause_resume_and_bad_transitions(client_a):
    project = ProjectFactory(client=client_a)
    assert (
        services.project_set_status(
            client=client_a, actor=None, project_id=project.id, status="paused"
        ).status
        == "paused"
    )
    with pytest.raises(Conflict):
        services.project_set_status(client=client_a, actor=None, project_id=project.id, status="paused")
    assert (
        services.project_set_status(
            client=client_a, actor=None, project_id=project.id, status="active"
        ).status
        == "active"
    )
    assert Event.objects.filter(entity_id=project.id).count() == 2


def test_project_names_are_unique_per_client_and_refuse_slashes(client_a, client_b):
    services.project_create(
        client=client_a,
        actor=None,
        name="Lanes",
        task_type="categorization",
        params={"categories": ["a", "b"]},
    )
    with pytest.raises(Conflict):
        services.project_create(client=client_a, actor=None, name="Lanes", task_type="categorization")
    services.project_create(client=client_b, actor=None, name="Lanes", task_type="categorization")
    with pytest.raises(ValidationFailed):
        services.project_create(client=client_a, actor=None, name="a/b", task_type="categorization")


def test_project_update_validates_params(client_a):
    project = ProjectFactory(client=client_a)
    with pytest.raises(ValidationFailed):
        services.project_update(
            client=client_a, actor=None, project_id=project.id, changes={"params": {"categories": "x"}}
        )
    updated = services.project_update(
        client=client_a, actor=None, project_id=project.id, changes={"overlap": 3}
    )
    assert (updated.overlap, updated.max_overlap) == (3, 3)


def test_tasks_of_one_bulk_request_are_served_in_the_order_sent(client_a):
    project = ProjectFactory(client=client_a)
    results = services.task_bulk_create(client=client_a, actor=None, project=project, items=items(4))
    served = [claim(AnnotatorFactory()).task_id for _ in range(4)]
    assert served == [r.task.id for r in results]


def test_test_mode_simulator_run_twice_completes_once_with_one_callback_row(client_a, settings):
    from annotation import tasks as celery_tasks

    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    project = BoxProjectFactory(client=client_a, overlap=2, price_per_task=50)
    results = services.task_bulk_create(
        client=client_a,
        actor=None,
        project=project,
        is_test=True,
        items=[
            {
                "params": {"attachment": "https://img.example.test/a.jpg"},
                "callback_url": "http://127.0.0.1:9/cb",
            }
        ],
    )
    task_id = str(results[0].task.id)
    celery_tasks.simulate_test_tasks.apply(args=[[task_id]])
    celery_tasks.simulate_test_tasks.apply(args=[[task_id]])
    assert celery_tasks.simulate_pending_test_tasks.apply().get() == 0
    task = Task.objects.get(pk=task_id)
    assert task.status == Task.Status.COMPLETED
    # two identical simulated answers fuse to that answer, with full confidence
    assert task.response == {
        "annotations": [
            {"type": "box", "label": "car", "left": 0, "top": 0, "width": 10, "height": 10, "confidence": 1.0}
        ]
    }
    assert task.confidence == 1.0
    assert WebhookDelivery.objects.filter(dedupe_key=f"task:{task_id}:completed:callback").count() == 1
    assert LedgerTransaction.objects.count() == 0


def test_bulk_create_never_resolves_callback_hosts(client_a, settings, monkeypatch):
    """Creation does no DNS (``outbound.check_url``): any number of distinct callback hosts is
    accepted without a lookup; resolution and the address policy happen at send time."""
    import socket

    from core import outbound

    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    lookups = []
    monkeypatch.setattr(outbound, "validate_url", lambda url: lookups.append(url))
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: lookups.append(a))
    project = ProjectFactory(client=client_a)
    hosts = [
        {"params": {"attachment": "x"}, "callback_url": f"http://h{i}.example.test/cb"} for i in range(50)
    ]
    services.task_bulk_create(client=client_a, actor=None, project=project, items=hosts)
    assert lookups == []
    assert Task.objects.count() == 50
