"""Batch pause, resume and cancel (Scale v2) through the services: serving, leases, committed
spend, the state machine, and a cancel racing annotators' claims on separate connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from annotation import services
from annotation.models import Assignment, Batch, Task
from annotation.services import batch_control
from billing import services as billing
from billing.models import ClientCredit, ProjectBudget
from core.errors import Conflict, ValidationFailed
from tests.annotation.factories import AnnotatorFactory, ProjectFactory


def _batch(project, n=4, name="b1"):
    batch = services.batch_create(client=project.client, actor=None, project=project, name=name)
    services.task_bulk_create(
        client=project.client,
        actor=None,
        project=project,
        batch=batch,
        items=[{"params": {"attachment": f"t{i}", "attachment_type": "text"}} for i in range(n)],
    )
    return services.batch_finalize(client=project.client, actor=None, batch_id=batch.pk)


@pytest.mark.django_db
def test_pause_stops_serving_resume_serves_again_and_leases_in_hand_survive():
    project = ProjectFactory()
    batch = _batch(project, n=2)
    holder = AnnotatorFactory()
    held = services.assignment_claim(annotator=holder, project_id=project.pk)
    batch_control.batch_pause(client=project.client, actor=None, batch_id=batch.pk)
    assert services.assignment_claim(annotator=AnnotatorFactory(), project_id=project.pk) is None
    assert Assignment.objects.get(pk=held.assignment.pk).status == Assignment.Status.ACTIVE
    done = services.assignment_submit(
        annotator=holder,
        assignment_id=held.assignment.pk,
        claim_version=held.assignment.claim_version,
        answer={"category": "car"},
    )
    assert done.task.status == Task.Status.COMPLETED
    batch_control.batch_resume(client=project.client, actor=None, batch_id=batch.pk)
    assert services.assignment_claim(annotator=AnnotatorFactory(), project_id=project.pk) is not None


@pytest.mark.django_db
def test_cancel_cancels_pending_work_releases_leases_and_gives_the_committed_spend_back():
    project = ProjectFactory(price_per_task=100, pay_per_answer=0)
    billing.project_budget_set(client=project.client, project_id=project.id, limit=10_000)
    batch = _batch(project, n=3)
    a, b = AnnotatorFactory(), AnnotatorFactory()
    first = services.assignment_claim(annotator=a, project_id=project.pk)  # completed below
    services.assignment_submit(
        annotator=a,
        assignment_id=first.assignment.pk,
        claim_version=first.assignment.claim_version,
        answer={"category": "car"},
    )
    live = services.assignment_claim(annotator=b, project_id=project.pk)  # a second task, started
    assert ProjectBudget.objects.get(project_id=project.id).committed == 200
    batch, n = batch_control.batch_cancel(client=project.client, actor=None, batch_id=batch.pk)
    assert (batch.status, n) == (Batch.Status.CANCELLED, 2)
    statuses = sorted(Task.objects.filter(batch=batch).values_list("status", flat=True))
    assert statuses == ["canceled", "canceled", "completed"]
    assert Assignment.objects.get(pk=live.assignment.pk).status == Assignment.Status.RELEASED
    assert ProjectBudget.objects.get(project_id=project.id).committed == 100  # the completed task's charge
    assert ClientCredit.objects.get(client=project.client).committed == 100
    assert (
        batch_control.batch_cancel(client=project.client, actor=None, batch_id=batch.pk)[1] == 0
    )  # again: no-op
    with pytest.raises(Conflict):
        services.task_bulk_create(
            client=project.client,
            actor=None,
            project=project,
            batch=batch,
            items=[{"params": {"attachment": "x"}}],
        )
    with pytest.raises(Conflict):
        batch_control.batch_resume(client=project.client, actor=None, batch_id=batch.pk)


@pytest.mark.django_db
def test_state_machine_and_metadata_merge():
    project = ProjectFactory()
    staging = services.batch_create(
        client=project.client, actor=None, project=project, name="s", metadata={"a": {"x": 1}}
    )
    with pytest.raises(Conflict):
        batch_control.batch_pause(client=project.client, actor=None, batch_id=staging.pk)
    merged = batch_control.batch_merge_metadata(
        client=project.client, actor=None, batch_id=staging.pk, metadata={"a": {"y": 2}, "b": [1]}
    )
    assert merged.metadata == {"a": {"x": 1, "y": 2}, "b": [1]}
    with pytest.raises(ValidationFailed):
        batch_control.batch_merge_metadata(
            client=project.client, actor=None, batch_id=staging.pk, metadata=[1]
        )


@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_claims_leaves_no_live_lease_and_no_pending_task():
    project = ProjectFactory(overlap=3, max_overlap=3, price_per_task=10, pay_per_answer=0)
    billing.project_budget_set(client=project.client, project_id=project.id, limit=100_000)
    batch = _batch(project, n=30)
    annotators = [AnnotatorFactory() for _ in range(6)]
    start = threading.Barrier(len(annotators) + 1, timeout=60)
    errors = []

    def claimer(annotator):
        try:
            start.wait()
            for _ in range(10):
                services.assignment_claim(annotator=annotator, project_id=project.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def canceller():
        try:
            start.wait()
            batch_control.batch_cancel(client=project.client, actor=None, batch_id=batch.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(a,)) for a in annotators] + [
        threading.Thread(target=canceller)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not Task.objects.filter(batch=batch, status=Task.Status.PENDING).exists()
    assert not Assignment.objects.filter(task__batch=batch, status=Assignment.Status.ACTIVE).exists()
    assert set(Task.objects.filter(batch=batch).values_list("slots_taken", flat=True)) == {0}
    assert ProjectBudget.objects.get(project_id=project.id).committed == 0
