"""Where every export reads from: one project's tasks in id order, in chunks (keyset pagination),
each chunk with its individual answers when asked, and the anonymous annotator ids.

Memory is bounded by one chunk (``QUORUM_EXPORT_CHUNK_SIZE`` tasks and their answers), whatever
the size of the project: each chunk is one ``… WHERE project = %s AND id > %s ORDER BY id LIMIT n``
on the ``(project, id)`` index, plus one query for the chunk's submissions. No transaction stays
open across chunks (a long read transaction would hold back vacuum on the hot task table), so a
task that changes during an export is exported as it was when its chunk was read.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import TextField
from django.db.models.functions import Cast

from annotation.models import ExportJob, Submission, Task
from core import gcpause

TASK_FIELDS = (
    "id", "unique_id", "task_type", "status", "params", "metadata", "response", "confidence", "is_gold",
    "gold_answer",
)  # fmt: skip
JSON_FIELDS = ("params", "metadata", "response", "gold_answer")


class RawJSON(str):
    """A JSON value as the text PostgreSQL gave (``jsonb::text``), not decoded: for a writer that
    copies it into its output as it is (``RAW_JSON = True``, JSON Lines). Decoding 10,000 tasks'
    params and responses only to encode them again was most of an export's time."""

    __slots__ = ()

    def decoded(self):
        return json.loads(self)


def _raw(value: str | None) -> RawJSON | None:
    return None if value is None else RawJSON(value)


@dataclass
class ExportContext:
    """What a format writer needs to know about the job (plain values: writers are tested
    without a job row)."""

    project_params: dict
    task_type: str
    options: dict
    anon_salt: str
    confidence_default: float = 1.0
    report: dict = field(default_factory=dict)

    @property
    def include_answers(self) -> bool:
        return bool(self.options.get("include_answers"))

    def count(self, key: str, n: int = 1) -> None:
        self.report[key] = self.report.get(key, 0) + n


@functools.lru_cache(maxsize=4096)
def anonymous_id(salt: str, annotator_id) -> str:
    """A stable pseudonym for an annotator within one export: HMAC-SHA256 of the annotator id
    keyed by the export's secret salt. The same annotator gets the same id throughout an export
    (and in a re-run of it), different ids in different exports, and the id cannot be reversed or
    recomputed without the salt, which is never shown."""
    digest = hmac.new(salt.encode(), str(annotator_id).encode(), hashlib.sha256).hexdigest()
    return "anon_" + digest[:20]


def task_queryset(job: ExportJob):
    options = job.options or {}
    qs = Task.objects.filter(client_id=job.client_id, project_id=job.project_id, is_test=job.is_test)
    statuses = options.get("statuses")
    if statuses:
        qs = qs.filter(status__in=statuses)
    if options.get("batch"):
        qs = qs.filter(batch_id=options["batch"])
    return qs


def task_chunks(
    *, queryset, chunk_size: int, include_answers: bool, anon_salt: str, raw_json: bool = False
) -> Iterator[list[dict]]:
    """Yield lists of at most ``chunk_size`` task dicts (``TASK_FIELDS``), in id order; with
    ``include_answers`` each dict has ``answers``: ``[{"annotator", "answer", "status"}]`` in
    submission order. With ``raw_json`` the JSON columns (and each answer) are ``RawJSON`` text."""
    last_id = None
    while True:
        page = queryset if last_id is None else queryset.filter(id__gt=last_id)
        rows = None  # drop the previous chunk before reading the next: one chunk in memory, not two
        with gcpause.paused():  # one chunk's objects, bounded; collected between chunks
            rows = _read_chunk(page, chunk_size, include_answers, anon_salt, raw_json)
        if not rows:
            return
        yield rows
        if len(rows) < chunk_size:
            return
        last_id = rows[-1]["id"]


def _read_chunk(page, chunk_size: int, include_answers: bool, anon_salt: str, raw_json: bool) -> list[dict]:
    page = page.order_by("id")
    if raw_json:  # rows as tuples, each made a dict once (not a dict, then four keys swapped per row)
        texts = {f"{name}__text": Cast(name, TextField()) for name in JSON_FIELDS}
        plain = [name for name in TASK_FIELDS if name not in JSON_FIELDS]
        keys, n = (*plain, *JSON_FIELDS), len(plain)
        rows = [
            dict(zip(keys, (*values[:n], *map(_raw, values[n:])), strict=True))
            for values in page.annotate(**texts).values_list(*plain, *texts)[:chunk_size]
        ]
    else:
        rows = list(page.values(*TASK_FIELDS)[:chunk_size])
    if include_answers and rows:
        by_task: dict = {row["id"]: [] for row in rows}
        answers = Submission.objects.filter(task_id__in=list(by_task)).order_by("task_id", "created_at", "id")
        if raw_json:
            answers = answers.annotate(answer_text=Cast("answer", TextField())).values_list(
                "task_id", "annotator_id", "answer_text", "status"
            )
        else:
            answers = answers.values_list("task_id", "annotator_id", "answer", "status")
        for task_id, annotator_id, answer, status in answers:
            by_task[task_id].append(
                {
                    "annotator": anonymous_id(anon_salt, annotator_id),
                    "answer": _raw(answer) if raw_json else answer,
                    "status": status,
                }
            )
        for row in rows:
            row["answers"] = by_task[row["id"]]
    return rows


def iter_tasks(chunks: Iterator[list[dict]]) -> Iterator[dict]:
    """The tasks of ``chunks`` one by one. Each chunk is released before the next is read."""
    for chunk in chunks:
        with gcpause.paused():  # while the writer goes through one chunk; collected between chunks
            yield from chunk
        del chunk
