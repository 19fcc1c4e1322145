"""Where every export reads from: one project's tasks in id order, in chunks (keyset pagination),
each chunk with its individual answers when asked, and the anonymous annotator ids.

Memory is bounded by one chunk (``QUORUM_EXPORT_CHUNK_SIZE`` tasks and their answers), whatever
the size of the project: each chunk is one ``… WHERE project = %s AND id > %s ORDER BY id LIMIT n``
on the ``(project, id)`` index, plus one query for the chunk's submissions. No transaction stays
open across chunks (a long read transaction would hold back vacuum on the hot task table), so a
task that changes during an export is exported as it was when its chunk was read.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field

from annotation.models import ExportJob, Submission, Task

TASK_FIELDS = (
    "id", "unique_id", "task_type", "status", "params", "metadata", "response", "confidence", "is_gold", "gold_answer",
)  # fmt: skip


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


def task_chunks(*, queryset, chunk_size: int, include_answers: bool, anon_salt: str) -> Iterator[list[dict]]:
    """Yield lists of at most ``chunk_size`` task dicts (``TASK_FIELDS``), in id order; with
    ``include_answers`` each dict has ``answers``: ``[{"annotator", "answer", "status"}]`` in
    submission order."""
    last_id = None
    while True:
        page = queryset if last_id is None else queryset.filter(id__gt=last_id)
        rows = None  # drop the previous chunk before reading the next: one chunk in memory, not two
        rows = list(page.order_by("id").values(*TASK_FIELDS)[:chunk_size])
        if not rows:
            return
        if include_answers:
            by_task: dict = {row["id"]: [] for row in rows}
            for sub in (
                Submission.objects.filter(task_id__in=list(by_task))
                .order_by("task_id", "created_at", "id")
                .values("task_id", "annotator_id", "answer", "status")
            ):
                by_task[sub["task_id"]].append(
                    {
                        "annotator": anonymous_id(anon_salt, sub["annotator_id"]),
                        "answer": sub["answer"],
                        "status": sub["status"],
                    }
                )
            for row in rows:
                row["answers"] = by_task[row["id"]]
        yield rows
        if len(rows) < chunk_size:
            return
        last_id = rows[-1]["id"]


def iter_tasks(chunks: Iterator[list[dict]]) -> Iterator[dict]:
    """The tasks of ``chunks`` one by one. Each chunk is released before the next is read."""
    for chunk in chunks:
        yield from chunk
        del chunk
