"""JSON Lines copies the stored JSON text into its lines (``source.RawJSON``): the lines parse to the
same records as the decoded path, one record per line, whatever the stored JSON holds."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation.exports import jsonl, source
from annotation.models import Submission
from tests.annotation.export_factories import CompletedTaskFactory, submit
from tests.annotation.factories import AnnotatorFactory, ProjectFactory

pytestmark = pytest.mark.django_db

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8
) | st.sampled_from(["\u2028", "\u2029", "\x85", "a\nb", 'q"uote', "back\\slash", "é😀"])
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)


def chunks(project, *, raw: bool) -> list[dict]:
    qs = source.task_queryset(type("Job", (), {"client_id": project.client_id, "project_id": project.id,
                                               "is_test": False, "options": {}})())  # fmt: skip
    rows = list(source.iter_tasks(source.task_chunks(
        queryset=qs, chunk_size=2, include_answers=True, anon_salt="salt", raw_json=raw,
    )))  # fmt: skip
    return rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(TEXT, JSON, max_size=3), metadata=st.dictionaries(TEXT, JSON, max_size=3),
       response=JSON, answer=st.dictionaries(TEXT, JSON, max_size=3),
       gold=st.booleans(), task_type=st.sampled_from(["namedentityrecognition", "comparison"]))  # fmt: skip
def test_raw_lines_parse_to_the_decoded_records(params, metadata, response, answer, gold, task_type):
    with transaction.atomic():
        project = ProjectFactory(task_type=task_type)
        task = CompletedTaskFactory(project=project, params=params, metadata=metadata, response=response,
                                    is_gold=gold, gold_answer=answer if gold else None,
                                    unique_id="u\u2028")  # fmt: skip
        submit(task, AnnotatorFactory(), answer=answer, status=Submission.Status.ACCEPTED)
        raw, decoded = chunks(project, raw=True), chunks(project, raw=False)
        assert isinstance(raw[0]["params"], source.RawJSON)
        for r, d in zip(raw, decoded, strict=True):
            text = jsonl.line(r, include_answers=True)
            assert text.endswith(b"\n") and text.count(b"\n") == 1
            assert "\u2028" not in text.decode() and "\x85" not in text.decode()
            assert json.loads(text) == jsonl.record(d, include_answers=True)
            assert json.loads(jsonl.line(d, include_answers=True)) == jsonl.record(d, include_answers=True)
        transaction.set_rollback(True)
