"""JSON Lines, preference JSON Lines and CSV exports: what was stored comes back, answers carry
anonymous annotator ids that are stable within an export and differ between exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.exports import jsonl, preference
from annotation.exports.source import ExportContext, anonymous_id
from annotation.models import Submission, Task
from tests.annotation.export_factories import (  # noqa: F401 - media_root is a fixture
    CompletedTaskFactory,
    media_root,
    run_export,
    submit,
)
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


def expected_record(task: Task) -> dict:
    """The JSONL record of a task, built from its row as the database holds it now."""
    task.refresh_from_db()
    record = {"task_id": str(task.id)}
    if task.unique_id is not None:
        record["unique_id"] = task.unique_id
    record |= {
        "type": task.task_type,
        "status": task.status,
        "params": task.params,
        "metadata": task.metadata,
        "response": task.response,
        "confidence": task.confidence,
    }
    if task.is_gold:
        record["gold_answer"] = task.gold_answer
    return record


def test_jsonl_parses_back_to_the_stored_rows_with_anonymous_answers():
    # given: a project of a type this branch does not validate (set directly on the rows), tasks
    # of every status, and answers by two annotators, one of them on two tasks
    project = ProjectFactory(task_type="namedentityrecognition", params={"labels": ["PER", "ORG"]})
    alice, bob = AnnotatorFactory(), AnnotatorFactory()
    ner = {"annotations": [{"start": 0, "end": 5, "label": "PER"}]}
    t1 = CompletedTaskFactory(
        project=project,
        params={"text": "Alice works at Acme", "labels": ["PER", "ORG"]},
        metadata={"doc": 1, "nested": {"ü": [1, 2.5, None]}},
        unique_id="doc-1",
        response=ner,
        confidence=0.75,
    )
    t2 = CompletedTaskFactory(
        project=project,
        params={"text": "Bob", "labels": ["PER"]},
        response={"annotations": []},
        is_gold=True,
        gold_answer={"annotations": []},
    )
    t3 = TaskFactory(project=project, params={"text": "pending"})  # pending: excluded by the default statuses
    submit(t1, alice, answer=ner)
    submit(t1, bob, answer={"annotations": []}, status=Submission.Status.REJECTED)
    submit(t2, alice, answer={"annotations": []})

    # when: exported with every answer, one task per chunk
    job, data = run_export(project, "jsonl", {"include_answers": True}, chunk_size=1)
    records = lines(data)

    # then: one record per completed task, in id order, equal to the rows
    assert [r["task_id"] for r in records] == [str(t1.id), str(t2.id)]
    for record, task in zip(records, [t1, t2], strict=True):
        answers = record["answers"]
        assert {k: v for k, v in record.items() if k != "answers"} == expected_record(task)
        stored = list(Submission.objects.filter(task=task).order_by("created_at", "id"))
        assert [(a["answer"], a["status"]) for a in answers] == [(s.answer, s.status) for s in stored]
    # and: the annotator ids are pseudonyms, consistent within the export
    a1, b1 = (a["annotator"] for a in records[0]["answers"])
    (a2,) = (a["annotator"] for a in records[1]["answers"])
    assert a1 == a2 != b1
    for pseudonym, person in ((a1, alice), (b1, bob)):
        assert pseudonym.startswith("anon_")
        assert str(person.id) not in data.decode() and person.user.email not in data.decode()
        assert str(person.id).replace("-", "")[:8] not in pseudonym
    assert job.anon_salt not in data.decode()
    # and: another export of the same project gives other pseudonyms
    _, again = run_export(project, "jsonl", {"include_answers": True})
    assert {a["annotator"] for r in lines(again) for a in r["answers"]}.isdisjoint({a1, b1})
    # and: the statuses option brings in the pending task; no answers without include_answers
    _, everything = run_export(project, "jsonl", {"statuses": ["pending", "completed"]})
    assert [r["task_id"] for r in lines(everything)] == [str(t1.id), str(t2.id), str(t3.id)]
    assert all("answers" not in r for r in lines(everything))


def test_rerunning_a_job_gives_the_same_pseudonyms():
    """The salt belongs to the job: a re-run (a retried attempt) writes the same ids."""
    salt = "s" * 64
    assert anonymous_id(salt, "a-1") == anonymous_id(salt, "a-1") != anonymous_id(salt, "a-2")
    assert anonymous_id(salt, "a-1") != anonymous_id("t" * 64, "a-1")


COMPARISON = {
    "prompt": "Write a haiku about rain.",
    "responses": [
        {"id": "r1", "text": "Rain taps the window"},
        {"id": "r2", "text": "It is raining."},
        {"id": "r3", "text": "Clouds weep softly"},
    ],
}


@pytest.mark.parametrize(
    ("ranking_pairs", "expected"),
    [
        ("adjacent", [("r3", "r1"), ("r1", "r2")]),
        ("all", [("r3", "r1"), ("r3", "r2"), ("r1", "r2")]),
    ],
)
def test_preference_jsonl_from_a_ranking(ranking_pairs, expected):
    project = ProjectFactory(task_type="comparison", params={"mode": "ranking"})
    CompletedTaskFactory(
        project=project, params={**COMPARISON, "mode": "ranking"}, response={"ranking": ["r3", "r1", "r2"]}
    )
    job, data = run_export(project, "preference_jsonl", {"ranking_pairs": ranking_pairs})
    texts = {r["id"]: r["text"] for r in COMPARISON["responses"]}
    assert lines(data) == [
        {"prompt": COMPARISON["prompt"], "chosen": texts[a], "rejected": texts[b]} for a, b in expected
    ]
    assert job.report == {"records": len(expected)}


def test_preference_jsonl_from_pairwise_choices_and_in_plain_jsonl():
    project = ProjectFactory(task_type="comparison", params={"mode": "pairwise"})
    pair = {
        "prompt": "2+2?",
        "responses": [{"id": "a", "text": "4"}, {"id": "b", "text": "5"}],
        "mode": "pairwise",
    }
    chosen_b = CompletedTaskFactory(
        project=project, params=pair, response={"choice": "b", "strength": 2, "justification": "x"}
    )
    CompletedTaskFactory(project=project, params=pair, response={"choice": "a", "strength": 3})
    CompletedTaskFactory(project=project, params=pair, response=None)  # no consensus: no record

    job, data = run_export(project, "preference_jsonl")
    assert lines(data) == [
        {"prompt": "2+2?", "chosen": "5", "rejected": "4"},
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
    ]
    assert job.report == {"records": 2, "tasks_without_preference": 1}
    # and: plain JSON Lines carries the same pairs beside the full record
    _, data = run_export(project, "jsonl")
    first = lines(data)[0]
    assert first["preference"] == [{"prompt": "2+2?", "chosen": "5", "rejected": "4"}]
    assert {k: v for k, v in first.items() if k != "preference"} == expected_record(chosen_b)


def test_csv_for_categorization_single_and_multiple():
    project = ProjectFactory()
    one = CompletedTaskFactory(
        project=project, unique_id="u1", response={"category": "car"}, confidence=2 / 3
    )
    many = CompletedTaskFactory(
        project=project,
        params={**project.params, "attachment": 'a, "quoted"\nline'},
        response={"category": ["car", "cyclist"]},
        confidence=1.0,
    )
    submit(one, answer={"category": "car"})

    _, data = run_export(project, "csv", {"include_answers": True})
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows == [
        {
            "task_id": str(one.id),
            "unique_id": "u1",
            "status": "completed",
            "attachment": "Is this a car?",
            "category": "car",
            "confidence": repr(2 / 3),
            "answers": rows[0]["answers"],
        },
        {
            "task_id": str(many.id),
            "unique_id": "",
            "status": "completed",
            "attachment": 'a, "quoted"\nline',
            "category": "car|cyclist",
            "confidence": "1.0",
            "answers": "[]",
        },
    ]
    (answer,) = json.loads(rows[0]["answers"])
    assert answer["answer"] == {"category": "car"} and answer["annotator"].startswith("anon_")


def test_csv_for_textcollection_category_fields():
    fields = [
        {"field_id": "tone", "type": "category", "choices": ["formal", "casual"]},
        {"field_id": "summary", "type": "text"},
        {"field_id": "topics", "type": "category"},
    ]
    project = ProjectFactory(task_type="textcollection", params={"fields": fields})
    task = CompletedTaskFactory(
        project=project,
        params={"fields": fields},
        response={"annotations": {"tone": ["formal"], "summary": "s", "topics": ["a", "b"]}},
    )
    _, data = run_export(project, "csv")
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["task_id", "unique_id", "status", "tone", "topics", "confidence"],
        [str(task.id), "", "completed", "formal", "a|b", ""],
    ]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(
    params=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    metadata=json_values,
    response=json_values,
    confidence=st.none() | st.floats(0, 1),
    unique_id=st.none() | st.text(max_size=20),
)
def test_jsonl_writer_round_trips_any_json(params, metadata, response, confidence, unique_id):
    """Pure writer, no database: whatever JSON a task holds is read back equal."""
    task = {
        "id": "0190a0a0-0000-7000-8000-000000000001",
        "unique_id": unique_id,
        "task_type": "videoannotation",
        "status": "completed",
        "params": params,
        "metadata": metadata,
        "response": response,
        "confidence": confidence,
        "is_gold": False,
        "gold_answer": None,
        "answers": [{"annotator": "anon_x", "answer": response, "status": "accepted"}],
    }
    out = io.BytesIO()
    ctx = ExportContext(
        project_params={}, task_type="videoannotation", options={"include_answers": True}, anon_salt="s"
    )
    assert jsonl.write(ctx, iter([task]), out, None) == 1
    (record,) = lines(out.getvalue())
    expected = {
        "task_id": task["id"],
        **({"unique_id": unique_id} if unique_id is not None else {}),
        "type": "videoannotation",
        "status": "completed",
        "params": params,
        "metadata": metadata,
        "response": response,
        "confidence": confidence,
        "answers": task["answers"],
    }
    assert record == expected


def test_preference_pairs_ignore_unknown_ids_and_ties():
    assert preference.pairs(COMPARISON, {"ranking": ["r2", "zz", "r1"]}) == [
        {"prompt": COMPARISON["prompt"], "chosen": "It is raining.", "rejected": "Rain taps the window"}
    ]
    assert preference.pairs(COMPARISON, {"choice": "r1"}) == []  # a choice needs exactly two responses
    assert preference.pairs({**COMPARISON, "responses": COMPARISON["responses"][:2]}, {"choice": None}) == []
    assert (
        preference.pairs(COMPARISON, {"answers": [{"ranking": ["r1", "r2"]}, {"ranking": ["r2", "r1"]}]})
        == []
    )
