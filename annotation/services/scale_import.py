"""Bring a client's Scale task history into Quorum: the JSON lines a ``get_tasks`` loop writes
(``for t in client.get_tasks(...): f.write(json.dumps(t.as_dict()) + "\\n")``), one Scale task
object per line.

- A ``completed`` task becomes a completed Quorum task with its response, in its project (created
  when missing, by the task's ``project`` name or ``--project``) and batch (created as
  ``completed`` when missing). History is never charged, paid or called back: price and pay 0,
  no callback, no answers. Its ``unique_id``, metadata, tags, instruction, params and timestamps
  are kept.
- With ``as_gold`` each completed task becomes a gold task instead (its response the gold answer,
  checked like any answer): the questions of qualification tests and of quality control.
- Tasks in another status are skipped and counted; a line that is not a Scale task object, or
  that Quorum cannot hold, is reported by its line number and the import goes on.

Idempotent on the Scale task id per client (``ScaleImport``): a re-run, or two runs at once, never
creates a task twice. The file is read line by line and written in chunks (one transaction each),
so memory does not grow with the file; a chunk's ``ScaleImport`` rows are inserted first with
``ON CONFLICT DO NOTHING RETURNING`` and only the tasks whose row went in are created (the foreign
key is checked at commit).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation import tasktypes
from annotation.models import Batch, Project, ScaleImport, Task
from annotation.services.projects import project_create
from annotation.services.tasks import task_rates
from clients.models import Client
from core import events
from core.errors import DomainError, ValidationFailed
from core.ids import uuid7

CHUNK = 1000


@dataclass
class ImportSummary:
    lines: int = 0
    created: int = 0
    existing: int = 0  # already imported (the same Scale task id)
    bad: int = 0
    skipped: Counter = field(default_factory=Counter)  # by Scale status
    projects_created: list[str] = field(default_factory=list)
    batches_created: list[str] = field(default_factory=list)
    per_project: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "lines": self.lines,
            "created": self.created,
            "existing": self.existing,
            "bad": self.bad,
            "skipped": dict(self.skipped),
            "projects_created": self.projects_created,
            "batches_created": self.batches_created,
        }


class BadLine(Exception):
    pass


def _string(obj: dict, key: str, *, required: bool = False, limit: int = 2000) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            raise BadLine(f"{key}: required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadLine(f"{key}: must be a string of at most {limit} characters")
    return value


def _moment(obj: dict, key: str) -> datetime | None:
    value = obj.get(key)
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise BadLine(f"{key}: not an ISO 8601 time ({value!r})")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class _Row:
    line: int
    scale_id: str
    project_name: str
    task_type: str
    batch_name: str | None
    fields: dict


def parse_line(line_no: int, text: str, *, project_name: str | None, as_gold: bool) -> _Row | str:
    """A line as a row to import, or the Scale status it was skipped for. Raises ``BadLine``."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise BadLine(f"not JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise BadLine("not a JSON object")
    scale_id = _string(obj, "task_id", required=True, limit=100)
    status = obj.get("status")
    if status != "completed":
        return str(status)
    task_type = _string(obj, "type", required=True, limit=40)
    if task_type not in tasktypes.supported_types():
        raise BadLine(
            f"type: {task_type!r} is not supported; supported types: {', '.join(tasktypes.supported_types())}"
        )
    name = project_name or _string(obj, "project", limit=200)
    if not name:
        raise BadLine("project: required (or give --project)")
    params = obj.get("params") or {}
    response = obj.get("response")
    if not isinstance(params, dict):
        raise BadLine("params: must be an object")
    if not isinstance(response, dict):
        raise BadLine("response: a completed task needs a response object")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadLine("metadata: must be an object")
    tags = obj.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise BadLine("tags: must be a list of strings")
    created_at = _moment(obj, "created_at")
    completed_at = _moment(obj, "completed_at")
    if as_gold:
        try:
            tasktypes.check_params(task_type, params)
            tasktypes.check_answer(task_type, params, response)
        except ValidationFailed as exc:
            raise BadLine(f"as gold: {exc.message}") from exc
    fields = {
        "task_type": task_type,
        "params": params,
        "metadata": metadata,
        "tags": tags,
        "unique_id": _string(obj, "unique_id", limit=200),
        "instruction": _string(obj, "instruction", limit=100_000) or "",
        "callback_url": _string(obj, "callback_url") or "",
        "created_at": created_at,
        "completed_at": completed_at,
        "response": response,
    }
    return _Row(line_no, scale_id, name, task_type, _string(obj, "batch", limit=200), fields)


class _Context:
    """Projects and batches by name (a handful: memory does not grow with the file)."""

    def __init__(self, client: Client, actor: Any, summary: ImportSummary):
        self.client, self.actor, self.summary = client, actor, summary
        self.projects: dict[str, Project] = {}
        self.batches: dict[str, Batch] = {}

    def project(self, name: str, task_type: str) -> Project:
        project = self.projects.get(name)
        if project is None:
            project = Project.objects.filter(client=self.client, name=name).first()
            if project is None:
                try:
                    project = project_create(
                        client=self.client, actor=self.actor, name=name, task_type=task_type, params={}
                    )
                except DomainError as exc:
                    raise BadLine(f"project: {exc.message}") from exc
                self.summary.projects_created.append(name)
            self.projects[name] = project
        if project.task_type != task_type:
            raise BadLine(f"type: project {name!r} runs {project.task_type} tasks, not {task_type}")
        return project

    def batch(self, name: str | None, project: Project) -> Batch | None:
        if not name:
            return None
        batch = self.batches.get(name)
        if batch is None:
            batch = Batch.objects.filter(client=self.client, name=name).first()
            if batch is None:
                if "/" in name:
                    raise BadLine("batch: names containing '/' are not accepted")
                batch = Batch.objects.create(
                    client=self.client, project=project, name=name, status=Batch.Status.COMPLETED
                )
                events.record(actor=self.actor, entity=batch, kind="batch.imported", after={"name": name})
                self.summary.batches_created.append(name)
            self.batches[name] = batch
        if batch.project_id != project.id:
            raise BadLine(f"batch: {name!r} belongs to another project")
        return batch


INSERT_SQL = """
INSERT INTO annotation_scaleimport (client_id, scale_task_id, task_id, imported_at)
SELECT %s, s.scale_task_id, s.task_id, %s FROM unnest(%s::text[], %s::uuid[]) AS s(scale_task_id, task_id)
ON CONFLICT (client_id, scale_task_id) DO NOTHING
RETURNING scale_task_id
"""


@transaction.atomic
def _write_chunk(
    ctx: _Context, rows: list[_Row], *, as_gold: bool, on_bad: Callable[[int, str], None]
) -> None:
    summary, client = ctx.summary, ctx.client
    now = timezone.now()
    kept: list[tuple[_Row, Project, Batch | None]] = []
    seen: set[str] = set()
    for row in rows:
        if row.scale_id in seen:  # the same task twice in one chunk: the second is "existing"
            summary.existing += 1
            continue
        seen.add(row.scale_id)
        try:
            project = ctx.project(row.project_name, row.task_type)
            batch = ctx.batch(row.batch_name, project)
        except BadLine as exc:
            summary.bad += 1
            on_bad(row.line, str(exc))
            continue
        kept.append((row, project, batch))
    # Already imported (a re-run): counted, not written. A concurrent run is caught by ON CONFLICT.
    before = set(
        ScaleImport.objects.filter(
            client=client, scale_task_id__in=[r.scale_id for r, _, _ in kept]
        ).values_list("scale_task_id", flat=True)
    )
    summary.existing += sum(1 for r, _, _ in kept if r.scale_id in before)
    kept = [k for k in kept if k[0].scale_id not in before]
    # Claim the Scale ids first: a row a concurrent run holds waits for it and then conflicts, so it
    # is counted as already imported (checking unique_id first would see that run's new task and
    # call the line bad).
    ids = {row.scale_id: uuid7() for row, _, _ in kept}
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, [client.id, now, list(ids), [str(v) for v in ids.values()]])
        inserted = {r[0] for r in cursor.fetchall()}
    summary.existing += sum(1 for r, _, _ in kept if r.scale_id not in inserted)
    kept = [k for k in kept if k[0].scale_id in inserted]
    # unique_id: a live task of the client may already hold it
    wanted = [row.fields["unique_id"] for row, _, _ in kept if row.fields["unique_id"]]
    taken = (
        set(
            Task.objects.filter(client=client, is_test=False, unique_id__in=wanted).values_list(
                "unique_id", flat=True
            )
        )
        if wanted
        else set()
    )
    still, refused = [], []
    for row, project, batch in kept:
        uid = row.fields["unique_id"]
        if uid and uid in taken:
            summary.bad += 1
            on_bad(row.line, f"unique_id: {uid!r} already names another task of this client")
            refused.append(row.scale_id)
            continue
        if uid:
            taken.add(uid)
        still.append((row, project, batch))
    kept = still
    if refused:  # not imported: a later run may try these lines again
        ScaleImport.objects.filter(client=client, scale_task_id__in=refused).delete()
    tasks = []
    for row, project, batch in kept:
        f = row.fields
        created_at = f["created_at"] or now
        common = {
            "id": ids[row.scale_id],
            "client": client,
            "project": project,
            "batch": batch,
            "task_type": f["task_type"],
            "params": f["params"],
            "metadata": f["metadata"],
            "tags": f["tags"],
            "unique_id": f["unique_id"],
            "instruction": f["instruction"],
            "callback_url": f["callback_url"],
            "created_at": created_at,
            "updated_at": now,
        }
        if as_gold:
            _, pay = task_rates(client=client, project=project, at=now)
            tasks.append(
                Task(
                    **common,
                    status=Task.Status.PENDING,
                    is_gold=True,
                    gold_answer=f["response"],
                    released=True,
                    overlap=settings.QUORUM_GOLD_OVERLAP,
                    price=0,
                    pay=pay,
                )
            )
        else:
            tasks.append(
                Task(
                    **common,
                    status=Task.Status.COMPLETED,
                    response=f["response"],
                    completed_at=f["completed_at"] or created_at,
                    released=False,
                    overlap=1,
                    price=0,
                    pay=0,
                )
            )
        summary.per_project[project.name] += 1
    Task.objects.bulk_create(tasks, batch_size=CHUNK)
    summary.created += len(tasks)


def import_scale_tasks(
    *,
    client: Client,
    actor: Any,
    lines: Iterable[str],
    project_name: str | None = None,
    as_gold: bool = False,
    chunk_size: int = CHUNK,
    on_bad: Callable[[int, str], None] = lambda line, message: None,
    on_progress: Callable[[int, str], None] = lambda n, line: None,
) -> ImportSummary:
    """Import the JSON lines of ``lines`` (see the module docstring). ``on_bad(line number,
    message)`` is told about each line that is not imported for a fault of its own;
    ``on_progress(lines read, line)`` after each line. Returns the summary."""
    summary = ImportSummary()
    ctx = _Context(client, actor, summary)
    rows: list[_Row] = []
    for line_no, text in enumerate(lines, start=1):
        summary.lines = line_no
        on_progress(line_no, text)
        if not text.strip():
            continue
        try:
            parsed = parse_line(line_no, text, project_name=project_name, as_gold=as_gold)
        except BadLine as exc:
            summary.bad += 1
            on_bad(line_no, str(exc))
            continue
        if isinstance(parsed, str):
            summary.skipped[parsed] += 1
            continue
        rows.append(parsed)
        if len(rows) >= chunk_size:
            _write_chunk(ctx, rows, as_gold=as_gold, on_bad=on_bad)
            rows = []
    if rows:
        _write_chunk(ctx, rows, as_gold=as_gold, on_bad=on_bad)
    for name, count in summary.per_project.items():
        events.record(
            actor=actor,
            entity=ctx.projects[name],
            kind="project.history_imported",
            after={"tasks": count, "as_gold": as_gold},
        )
    return summary
