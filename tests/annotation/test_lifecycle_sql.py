"""The lifecycle's PL/pgSQL functions agree with the Python they replace on the hot path.

``quorum_submit`` completes single-choice categorization rounds itself (majority vote, charge,
callback row, agreement and confusion counts); every other round goes through the Python
``complete.settle``. These tests hold the two paths to the same results, so neither can drift:
the same answers give the same task, ledger, outbox rows, standings and events either way.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation import quality
from annotation.lifecycle import submit
from annotation.models import ConfusionCount, ProjectWorker, Task
from annotation.payloads import task_payload
from annotation.services import work
from billing.models import LedgerEntry, LedgerTransaction
from core.models import Event, WebhookDelivery
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory

CATEGORIES = ["car", "pedestrian", "cyclist", "truck"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(votes=st.lists(st.sampled_from(CATEGORIES + ["zebra", "Car", "äpfel"]), min_size=1, max_size=12))
def test_sql_majority_is_python_majority(db, votes):
    expected = quality.majority_vote(votes, order=CATEGORIES, key="category")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM quorum_majority_of(%s, %s)", [votes, json.dumps(CATEGORIES)])
        winner, confidence = cursor.fetchone()
    assert ({"category": winner}, confidence) == (expected.response, expected.confidence)


@pytest.mark.django_db
@pytest.mark.parametrize("with_batch", [False, True])
def test_sql_task_payload_is_the_python_payload(client_a, with_batch):
    from annotation.models import Batch

    project = ProjectFactory(client=client_a)
    batch = Batch.objects.create(client=client_a, project=project, name="b1") if with_batch else None
    for task in (
        TaskFactory(project=project, batch=batch),
        TaskFactory(
            project=project,
            batch=batch,
            unique_id="u-1",
            metadata={"k": [1, 2]},
            tags=["x"],
            callback_url="http://127.0.0.1:9/cb",
            response={"category": "car"},
            confidence=2 / 3,
            status="completed",
        ),
    ):
        task = Task.objects.select_related("project", "batch").get(pk=task.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT quorum_task_payload(%s)", [task.pk])
            from_sql = json.loads(cursor.fetchone()[0])
        assert from_sql == json.loads(json.dumps(task_payload(task)))


def _run(project, answers):
    """Three annotators answer one task of ``project`` in order; returns what it left behind."""
    task = TaskFactory(project=project, callback_url="http://127.0.0.1:9/cb")
    annotators = sorted((AnnotatorFactory() for _ in answers), key=lambda a: str(a.pk))
    for annotator, answer in zip(annotators, answers, strict=True):
        claim = work.assignment_claim(annotator=annotator, project_id=project.pk)
        a = claim.assignment
        work.assignment_submit(
            annotator=annotator, assignment_id=a.pk, claim_version=a.claim_version, answer=answer
        )
    task.refresh_from_db()
    rank = {a.pk: i for i, a in enumerate(annotators)}
    standings = sorted(
        (rank[w.annotator_id], w.consensus_answers, w.consensus_score, w.gold_answers, w.flags)
        for w in ProjectWorker.objects.filter(project=project)
    )
    confusion = sorted(
        (rank[c.annotator_id], c.true_label, c.given, c.count)
        for c in ConfusionCount.objects.filter(project=project)
    )
    charge = LedgerTransaction.objects.filter(idempotency_key=f"task:{task.pk}:charge").first()
    charged = (
        sorted(LedgerEntry.objects.filter(transaction=charge).values_list("account__kind", "amount"))
        if charge
        else []
    )
    callback = WebhookDelivery.objects.filter(dedupe_key=f"task:{task.pk}:completed:callback").first()
    body = callback.payload if callback else None
    if body:
        for key in ("task_id", "project", "project_id", "created_at", "updated_at", "completed_at"):
            body["task"].pop(key, None)
        body.pop("task_id")
    kinds = sorted(Event.objects.filter(entity_id=task.pk).values_list("kind", flat=True))
    return {
        "task": (task.status, task.response, task.confidence, task.answers_received, task.overlap),
        "standings": standings,
        "confusion": confusion,
        "charged": charged,
        "callback": body,
        "task_events": kinds,
        "pay": LedgerTransaction.objects.filter(kind="answer_pay", project_id=project.pk).count(),
    }


def _pair(client_a, **settings_):
    """Two projects with the same settings; the second reviews with a share of 0, which sends its
    rounds through the Python ``complete.settle`` and never holds a confident task for review."""
    common = dict(
        client=client_a, price_per_task=40, pay_per_answer=9, params={"categories": CATEGORIES}, **settings_
    )  # fmt: skip
    in_sql = ProjectFactory(name="in SQL", **common)
    in_python = ProjectFactory(name="in Python", review_enabled=True, review_share=0.0, **common)
    assert not submit.python_settles("categorization", in_sql.params, in_sql)
    assert submit.python_settles("categorization", in_python.params, in_python)
    return in_sql, in_python


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answers",
    [["car", "car", "car"], ["car", "truck", "car"], ["truck", "car", "pedestrian"]],
    ids=["unanimous", "majority", "three-way tie"],
)
def test_sql_completion_equals_the_python_settle(client_a, answers):
    in_sql, in_python = _pair(client_a, overlap=3, max_overlap=3)
    answers = [{"category": a} for a in answers]
    assert _run(in_sql, answers) == _run(in_python, answers)


@pytest.mark.django_db
def test_dynamic_overlap_in_sql_equals_the_python_settle(client_a):
    """Below the threshold with room to grow, both ask for one more answer; with it the round is
    confident enough and both complete it."""
    in_sql, in_python = _pair(client_a, overlap=2, max_overlap=3, confidence_threshold=0.6)
    answers = [{"category": "car"}, {"category": "truck"}, {"category": "car"}]
    from_sql = _run(in_sql, answers)
    assert from_sql["task"][0] == "completed" and from_sql["task"][4] == 3  # overlap grew by one
    assert "task.overlap_extended" in from_sql["task_events"]
    assert from_sql == _run(in_python, answers)
