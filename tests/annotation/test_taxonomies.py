"""Scale's current categorization (``taxonomies``): params checks, answers, consensus per question
(majority and Dawid-Skene per question, live and batch), gold scoring and confusion counts,
agreement and CSV export. The worked case (``tasktype_cases.TAXONOMIES``) also runs through every
shared task-type test (schemas, API round trip, exports)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from types import SimpleNamespace

import pytest

from annotation import quality_selectors, services, tasktypes
from annotation.exports import csvfile
from annotation.lifecycle import taxonomy as taxonomy_consensus
from annotation.lifecycle.taxonomy import label_for
from annotation.models import ConfusionCount, Task
from annotation.services import workforce
from core.errors import ValidationFailed
from tests.annotation.factories import AnnotatorFactory, ProjectFactory
from tests.annotation.tasktype_cases import TAXONOMIES

TWO_QUESTIONS = {
    "taxonomies": {
        "helpful": {"type": "category", "choices": ["yes", "no"]},
        "harmless": {"type": "category", "choices": ["yes", "no"]},
    }
}


def _params(taxonomies):
    return {"attachment": "a reply", "attachment_type": "text", "taxonomies": taxonomies}


@pytest.mark.parametrize(
    ("taxonomies", "field"),
    [
        (
            {"q": {"type": "category", "choices": ["a", {"choice": "b", "subchoices": ["a"]}]}},
            "taxonomies.q.choices",
        ),
        (
            {"q": {"type": "category", "choices": ["a"], "condition": {"taxonomy": "z", "choices": ["a"]}}},
            "taxonomies.q.condition.taxonomy",
        ),
        (
            {"q": {"type": "category", "choices": ["a"], "condition": {"taxonomy": "q", "choices": ["a"]}}},
            "taxonomies.q.condition.taxonomy",
        ),
        (
            {
                "p": {"type": "category", "choices": ["x"]},
                "q": {"type": "category", "choices": ["a"], "condition": {"taxonomy": "p", "choices": ["y"]}},
            },
            "taxonomies.q.condition.choices[0]",
        ),
        (
            {
                "p": {"type": "category", "choices": ["x"], "condition": {"taxonomy": "q", "choices": ["a"]}},
                "q": {"type": "category", "choices": ["a"], "condition": {"taxonomy": "p", "choices": ["x"]}},
            },
            "taxonomies.condition",
        ),
        ({"q": {"type": "category", "choices": ["a"], "allow_multple": True}}, "taxonomies.q.allow_multple"),
        ({"q": {"type": "text", "choices": ["a"]}}, "taxonomies.q.type"),
        ({"q": {"type": "category", "choices": []}}, "taxonomies.q.choices"),
        ({"q": {"type": "category"}}, "taxonomies.q.choices"),
        ({}, "taxonomies"),
        ({"q\x01": {"type": "category", "choices": ["a"]}}, "taxonomies"),
    ],  # fmt: skip
)
def test_bad_taxonomies_are_refused_naming_the_field(taxonomies, field):
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_params("categorization", _params(taxonomies))
    assert err.value.code == "invalid_params"
    assert err.value.details["field"] == f"params.{field}"


def test_subchoices_nest_at_most_five_levels():
    tree: list = ["leaf"]
    for depth in range(6):
        tree = [{"choice": f"level{depth}", "subchoices": tree}]
    with pytest.raises(ValidationFailed, match="deeper than 5"):
        tasktypes.check_params("categorization", _params({"q": {"type": "category", "choices": tree}}))


def test_one_form_or_the_other_and_the_old_form_keeps_working():
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_params(
            "categorization", {**_params(TWO_QUESTIONS["taxonomies"]), "categories": ["a", "b"]}
        )
    assert err.value.details["field"] == "params.categories"
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_params("categorization", {"attachment": "x"})
    assert err.value.details["field"] == "params.taxonomies"
    legacy = {"attachment": "x", "categories": ["a", "b"], "allow_multiple": True}
    tasktypes.check_params("categorization", legacy)
    tasktypes.check_answer("categorization", legacy, {"category": ["a"]})


def test_gold_score_is_the_mean_per_question_and_a_different_branch_scores_zero():
    params = TAXONOMIES.params
    gold = {"taxonomies": {"helpful": ["wrong"], "harms": ["unsafe advice", "toxic"]}}
    # helpful right (1), harms Jaccard 1/2
    answer = {"taxonomies": {"helpful": ["wrong"], "harms": ["unsafe advice"]}}
    assert tasktypes.score_gold("categorization", params, answer, gold) == pytest.approx(0.75)
    # helpful wrong (0); harms not asked in the answer → 0
    assert tasktypes.score_gold("categorization", params, {"taxonomies": {"helpful": ["yes"]}}, gold) == 0


def test_conditional_question_follows_the_consensus_of_its_parent():
    params = TAXONOMIES.params
    answers = [
        {"taxonomies": {"helpful": ["yes"]}},
        {"taxonomies": {"helpful": ["yes"]}},
        {"taxonomies": {"helpful": ["off-topic"], "harms": ["privacy"]}},
    ]
    result = tasktypes.aggregate("categorization", params, answers)
    assert result.response == {"taxonomies": {"helpful": ["yes"]}}  # harms not asked
    assert result.confidence == pytest.approx(2 / 3)
    tasktypes.check_answer("categorization", params, result.response)  # the response is a valid answer


# --- Dawid-Skene per question ---------------------------------------------------------------------


def _items(n):
    return [{"params": {"attachment": f"reply {i}", "attachment_type": "text"}} for i in range(n)]


def _work(annotator, project, answer):
    claim = services.assignment_claim(annotator=annotator, project_id=project.pk)
    assert claim is not None
    a = claim.assignment
    return services.assignment_submit(
        annotator=annotator,
        assignment_id=a.pk,
        claim_version=a.claim_version,
        answer=answer,
        now=a.claimed_at + timedelta(seconds=5),
    )


@pytest.mark.django_db
def test_dawid_skene_keeps_one_confusion_matrix_per_question():
    """The expert is always right about helpfulness and answers "no" to harmlessness whatever the
    truth; the two novices are the reverse. Per question, Dawid-Skene follows whoever is reliable
    on that question: the expert on one, the novices on the other. One matrix per annotator for
    the whole task could not give both."""
    expert, novice_a, novice_b = AnnotatorFactory(), AnnotatorFactory(), AnnotatorFactory()
    project = ProjectFactory(params=TWO_QUESTIONS, overlap=3, max_overlap=3, consensus_method="dawid_skene")
    pairs = []
    for truth in ("yes", "no"):
        for _ in range(20):
            pairs.append((expert.pk, label_for("helpful", truth), label_for("helpful", truth)))
            pairs.append((expert.pk, label_for("harmless", truth), label_for("harmless", "no")))
            for novice in (novice_a, novice_b):
                pairs.append((novice.pk, label_for("helpful", truth), label_for("helpful", "yes")))
                pairs.append((novice.pk, label_for("harmless", truth), label_for("harmless", truth)))
    workforce.confusion_add(project_id=project.pk, pairs=pairs)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(1))
    _work(novice_a, project, {"taxonomies": {"helpful": ["yes"], "harmless": ["yes"]}})
    _work(novice_b, project, {"taxonomies": {"helpful": ["yes"], "harmless": ["yes"]}})
    _work(expert, project, {"taxonomies": {"helpful": ["no"], "harmless": ["no"]}})
    task = Task.objects.get()
    assert task.status == Task.Status.COMPLETED
    assert task.response == {"taxonomies": {"helpful": ["no"], "harmless": ["yes"]}}  # majority: yes, yes
    assert task.confidence > 0.9

    # The completion added each question's counts under its own labels.
    rows = ConfusionCount.objects.filter(project=project, annotator=expert)
    assert {r.true_label.split("\x1f")[0] for r in rows} == {"helpful", "harmless"}

    summary = services.project_consensus_recompute(project=project, actor=None, method="majority")
    task.refresh_from_db()
    assert summary["changed"] == 1 and task.response == {
        "taxonomies": {"helpful": ["yes"], "harmless": ["yes"]}
    }
    summary = services.project_consensus_recompute(project=project, actor=None, method="dawid_skene")
    task.refresh_from_db()
    assert task.response == {"taxonomies": {"helpful": ["no"], "harmless": ["yes"]}}
    assert summary["iterations"] >= 1


@pytest.mark.django_db
def test_a_gold_answer_counts_toward_the_annotators_per_question_matrix():
    project = ProjectFactory(params=TWO_QUESTIONS, gold_ratio=1.0, consensus_method="dawid_skene")
    gold = {"taxonomies": {"helpful": ["yes"], "harmless": ["no"]}}
    services.task_bulk_create(
        client=project.client, actor=None, project=project, items=[{**_items(1)[0], "gold_answer": gold}]
    )
    annotator = AnnotatorFactory()
    submission = _work(annotator, project, {"taxonomies": {"helpful": ["no"], "harmless": ["no"]}})
    assert submission.gold_score == 0.5
    counts = {
        (r.true_label, r.given): r.count
        for r in ConfusionCount.objects.filter(project=project, annotator=annotator)
    }
    assert counts == {
        (label_for("helpful", "yes"), label_for("helpful", "no")): 1.0,
        (label_for("harmless", "no"), label_for("harmless", "no")): 1.0,
    }


def test_long_labels_stay_within_the_column():
    label = label_for("q" * 64, "x" * 200)
    assert len(label) <= 200 and label != label_for("q" * 64, "x" * 199 + "y")


# --- agreement and exports ------------------------------------------------------------------------


@pytest.mark.django_db
def test_agreement_is_reported_per_single_choice_question():
    project = ProjectFactory(params=TWO_QUESTIONS, overlap=2, max_overlap=2)
    services.task_bulk_create(client=project.client, actor=None, project=project, items=_items(2))
    a, b = AnnotatorFactory(), AnnotatorFactory()
    for _ in range(2):
        _work(a, project, {"taxonomies": {"helpful": ["yes"], "harmless": ["yes"]}})
    _work(b, project, {"taxonomies": {"helpful": ["yes"], "harmless": ["no"]}})
    _work(b, project, {"taxonomies": {"helpful": ["no"], "harmless": ["yes"]}})
    agreement = quality_selectors.project_agreement(project)
    assert set(agreement) == {"tasks", "taxonomies.helpful", "taxonomies.harmless"}
    assert agreement["taxonomies.helpful"]["units"] == 2


def test_csv_has_one_column_per_question():
    ctx = SimpleNamespace(
        task_type="categorization", project_params=TAXONOMIES.project_params, include_answers=False
    )
    tasks = [
        {
            "id": "t1",
            "unique_id": "u1",
            "status": "completed",
            "params": TAXONOMIES.params,
            "response": {"taxonomies": {"helpful": ["wrong"], "harms": ["toxic", "privacy"]}},
            "confidence": 0.5,
        },
        {
            "id": "t2",
            "unique_id": None,
            "status": "completed",
            "params": TAXONOMIES.params,
            "response": {"taxonomies": {"helpful": ["yes"]}},
            "confidence": 1.0,
        },
    ]
    out = io.BytesIO()
    assert csvfile.write(ctx, tasks, out, None) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert list(rows[0]) == [
        "task_id",
        "unique_id",
        "status",
        "attachment",
        "taxonomies.helpful",
        "taxonomies.harms",
        "confidence",
    ]
    assert (rows[0]["taxonomies.helpful"], rows[0]["taxonomies.harms"]) == ("wrong", "toxic|privacy")
    assert (rows[1]["taxonomies.helpful"], rows[1]["taxonomies.harms"]) == ("yes", "")


def test_example_answer_walks_the_conditions():
    assert tasktypes.example_answer("categorization", TAXONOMIES.params) == {
        "taxonomies": {"helpful": ["yes"]}
    }
    assert taxonomy_consensus.is_taxonomy_task("categorization", TAXONOMIES.params)
