"""Writes for tasks: bulk creation; cancel, completion and the test-mode simulator come from the
lifecycle (``annotation.lifecycle.complete``) under their service names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation import tasktypes
from annotation.lifecycle.complete import (  # noqa: F401 - the public surface stays here
    billing_work,
)
from annotation.models import Batch, Project, Task
from billing import selectors as billing_selectors
from clients import events, limits, outbound
from clients.errors import Conflict, NotFound, ValidationFailed
from clients.models import Client, Event
from core.transactions import after_commit

# --- tasks -----------------------------------------------------------------------------------------


MAX_CALLBACK_HOSTS_PER_REQUEST = 20


@dataclass(frozen=True)
class BulkItemResult:
    task: Task
    created: bool


def _clean_item(index: int, item: Any, project: Project, host_ok: dict[str, str | None]) -> dict:
    """Validate one task spec; return the model fields. Raises ValidationFailed naming ``tasks[i].field``."""

    def fail(field: str, message: str, code: str = "invalid_task"):
        raise ValidationFailed(
            f"tasks[{index}].{field}: {message}", code=code, details={"index": index, "field": field}
        )

    if not isinstance(item, dict):
        raise ValidationFailed(
            f"tasks[{index}]: must be an object", code="invalid_task", details={"index": index}
        )
    limits.check_task_item(index, item)
    unknown = set(item) - {
        "params",
        "instruction",
        "metadata",
        "unique_id",
        "callback_url",
        "priority",
        "tags",
        "gold_answer",
    }
    if unknown:
        fail(sorted(unknown)[0], "unknown field")
    params = item.get("params") or {}
    if not isinstance(params, dict):
        fail("params", "must be an object")
    try:
        tasktypes.check_params(project.task_type, tasktypes.effective_params(project.params, params))
    except ValidationFailed as exc:
        raise ValidationFailed(
            f"tasks[{index}].{exc.message}", code=exc.code, details={"index": index, **(exc.details or {})}
        ) from exc
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        fail("metadata", "must be an object")
    unique_id = item.get("unique_id")
    if unique_id is not None and (not isinstance(unique_id, str) or not 1 <= len(unique_id) <= 200):
        fail("unique_id", "must be a string of 1 to 200 characters")
    callback_url = item.get("callback_url") or ""
    if callback_url:
        if not isinstance(callback_url, str):
            fail("callback_url", "must be a URL")
        try:
            host = outbound.parse_url(callback_url).host  # syntax: per URL, no I/O
        except ValidationFailed as exc:
            fail("callback_url", exc.message, code="invalid_callback_url")
        if host not in host_ok:  # DNS and the address check: once per distinct host
            if len(host_ok) >= MAX_CALLBACK_HOSTS_PER_REQUEST:
                fail(
                    "callback_url",
                    f"at most {MAX_CALLBACK_HOSTS_PER_REQUEST} distinct callback hosts per request "
                    "(each is resolved and checked)",
                    code="too_many_callback_hosts",
                )
            try:
                outbound.validate_url(callback_url)
                host_ok[host] = None
            except ValidationFailed as exc:
                host_ok[host] = exc.message
        if host_ok[host]:
            fail("callback_url", host_ok[host], code="invalid_callback_url")
    priority = item.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -100 <= priority <= 100:
        fail("priority", "must be an integer between -100 and 100")
    tags = item.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        fail("tags", "must be a list of strings")
    instruction = item.get("instruction") or ""
    if not isinstance(instruction, str):
        fail("instruction", "must be a string")
    # The task keeps its effective params (the project's label schema overlaid with its own), as
    # Scale's task object does: a later change of the project's params cannot break open work.
    effective = tasktypes.effective_params(project.params, params)
    # A gold task: its known answer must be a valid answer. Gold is served at the project's gold
    # ratio, to many annotators, never completes and is never charged.
    gold_answer = item.get("gold_answer")
    if gold_answer is not None:
        try:
            tasktypes.check_answer(project.task_type, effective, gold_answer)
        except ValidationFailed as exc:
            fail("gold_answer", exc.message, code="invalid_gold_answer")
    return {
        "params": effective,
        "metadata": metadata,
        "unique_id": unique_id,
        "callback_url": callback_url,
        "priority": priority,
        "tags": tags,
        "instruction": instruction,
        "is_gold": gold_answer is not None,
        "gold_answer": gold_answer,
    }


def task_bulk_create(
    *,
    client: Client,
    actor: Any,
    project: Project,
    items: Sequence[Any],
    batch: Batch | None = None,
    is_test: bool = False,
) -> list[BulkItemResult]:
    """Create up to 10,000 tasks atomically: all are valid and created, or none is.

    Idempotent on ``unique_id`` per client: an item whose ``unique_id`` already exists is not
    created again; its existing task is returned with ``created=False``. Concurrent identical
    requests are safe: the unique index makes one wait for the other, which then returns the rows
    the first created.
    """
    if project.client_id != client.id:
        raise NotFound("Project not found.")
    if project.status == Project.Status.ARCHIVED:
        raise Conflict("The project is archived.", code="project_archived")
    if batch is not None and (batch.client_id != client.id or batch.project_id != project.id):
        raise NotFound("Batch not found in this project.")
    if batch is not None and batch.status == Batch.Status.COMPLETED:
        raise Conflict("The batch is completed; add tasks to a new batch.", code="batch_completed")
    if not items:
        raise ValidationFailed("tasks: at least one task is required", code="invalid_task")
    if len(items) > settings.QUORUM_BULK_CREATE_MAX:
        raise ValidationFailed(
            f"tasks: at most {settings.QUORUM_BULK_CREATE_MAX} tasks per request (got {len(items)})",
            code="too_many_tasks",
        )
    host_ok: dict[str, str | None] = {}
    cleaned = [_clean_item(i, item, project, host_ok) for i, item in enumerate(items)]
    limits.check_bulk_params(spec["params"] for spec in cleaned)
    seen: dict[str, int] = {}
    for i, spec in enumerate(cleaned):
        uid = spec["unique_id"]
        if uid is not None:
            if uid in seen:
                raise ValidationFailed(
                    f"tasks[{i}].unique_id: {uid!r} repeats tasks[{seen[uid]}] in the same request",
                    code="duplicate_unique_id",
                    details={"index": i, "field": "unique_id"},
                )
            seen[uid] = i
    # Validation (including DNS for callback URLs) is done; the writes get a short transaction.
    return _task_bulk_insert(
        client=client, actor=actor, project=project, batch=batch, cleaned=cleaned, seen=seen, is_test=is_test
    )


def task_bulk_check(
    *, client: Client, project: Project, items: Sequence[Any]
) -> list[tuple[int, ValidationFailed]]:
    """Every problem of a bulk request, item by item, without writing anything: ``[(index, error)]``
    (empty when ``task_bulk_create`` would accept every item). The same checks as ``task_bulk_create``
    item by item, plus a ``unique_id`` already naming a task of another project; whole-request
    problems (archived project, too many items) raise as there. For reports such as a file upload's
    per-row errors, where stopping at the first bad item would hide the others."""
    if project.client_id != client.id:
        raise NotFound("Project not found.")
    if project.status == Project.Status.ARCHIVED:
        raise Conflict("The project is archived.", code="project_archived")
    if not items:
        raise ValidationFailed("tasks: at least one task is required", code="invalid_task")
    if len(items) > settings.QUORUM_BULK_CREATE_MAX:
        raise ValidationFailed(
            f"tasks: at most {settings.QUORUM_BULK_CREATE_MAX} tasks per request (got {len(items)})",
            code="too_many_tasks",
        )
    problems: list[tuple[int, ValidationFailed]] = []
    host_ok: dict[str, str | None] = {}
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        try:
            spec = _clean_item(i, item, project, host_ok)
        except ValidationFailed as exc:
            problems.append((i, exc))
            continue
        uid = spec["unique_id"]
        if uid is None:
            continue
        if uid in seen:
            problems.append(
                (
                    i,
                    ValidationFailed(
                        f"tasks[{i}].unique_id: {uid!r} repeats tasks[{seen[uid]}] in the same request",
                        code="duplicate_unique_id",
                        details={"index": i, "field": "unique_id"},
                    ),
                )
            )
        else:
            seen[uid] = i
    elsewhere = Task.objects.filter(client=client, is_test=False, unique_id__in=list(seen)).exclude(
        project=project
    )
    for uid in elsewhere.values_list("unique_id", flat=True):
        i = seen[uid]
        problems.append(
            (
                i,
                ValidationFailed(
                    f"tasks[{i}].unique_id: {uid!r} already names a task of another project",
                    code="unique_id_conflict",
                    details={"index": i, "field": "unique_id"},
                ),
            )
        )
    return sorted(problems, key=lambda problem: problem[0])


def task_rates(*, client: Client, project: Project, at: datetime) -> tuple[int, int]:
    """(price per task, pay per answer) for tasks created now: the project's override, else the
    rate card in force. The task keeps both, so a later change applies to new work only."""
    if project.price_per_task is not None and project.pay_per_answer is not None:
        return project.price_per_task, project.pay_per_answer
    rate = billing_selectors.rate_for(client=client, task_type=project.task_type, at=at)
    price = project.price_per_task if project.price_per_task is not None else rate.price_per_task
    pay = project.pay_per_answer if project.pay_per_answer is not None else rate.pay_per_answer
    return price, pay


@transaction.atomic
def _task_bulk_insert(
    *,
    client: Client,
    actor: Any,
    project: Project,
    batch: Batch | None,
    cleaned: list[dict],
    seen: dict[str, int],
    is_test: bool,
) -> list[BulkItemResult]:
    if batch is not None:
        batch = Batch.objects.select_for_update().get(
            pk=batch.pk
        )  # a concurrent finalize must not miss these tasks
    released = not is_test and (batch is None or batch.status == Batch.Status.IN_PROGRESS)
    for _attempt in range(3):
        existing = (
            {
                t.unique_id: t
                for t in Task.objects.filter(client=client, is_test=is_test, unique_id__in=list(seen))
            }
            if seen
            else {}
        )
        for uid, task in existing.items():
            if task.project_id != project.id:
                raise Conflict(
                    f"tasks[{seen[uid]}].unique_id: {uid!r} already names a task of another project",
                    code="unique_id_conflict",
                    details={"index": seen[uid], "field": "unique_id", "task_id": str(task.id)},
                )
        now = timezone.now()
        price, pay = task_rates(client=client, project=project, at=now)
        # created_at grows by 1 µs per item so tasks are served in the order they were sent.
        new_tasks = [
            Task(
                client=client,
                project=project,
                batch=batch,
                task_type=project.task_type,
                is_test=is_test,
                released=released,
                created_at=now + timedelta(microseconds=i),
                updated_at=now,
                overlap=settings.QUORUM_GOLD_OVERLAP if spec["is_gold"] else project.overlap,
                price=0 if spec["is_gold"] else price,
                pay=pay,
                **spec,
            )
            for i, spec in enumerate(cleaned)
            if spec["unique_id"] is None or spec["unique_id"] not in existing
        ]
        try:
            with transaction.atomic():
                Task.objects.bulk_create(new_tasks, batch_size=2000)
        except IntegrityError:
            continue  # a concurrent request created some of these unique_ids; look again
        break
    else:
        raise Conflict(
            "Concurrent requests kept creating the same unique_id values; retry.", code="unique_id_race"
        )
    Event.objects.bulk_create(
        [
            events.build(
                actor=actor, entity_type="task", entity_id=t.id, kind="task.created", client_id=client.id
            )
            for t in new_tasks
        ],
        batch_size=2000,
    )
    if is_test and new_tasks:
        from annotation import tasks as celery_tasks

        ids = [str(t.id) for t in new_tasks]
        # after COMMIT: a broker outage must not fail a committed request; the beat relay simulates them.
        after_commit(celery_tasks.simulate_test_tasks.delay, ids)
    created_iter = iter(new_tasks)
    results = []
    for spec in cleaned:
        uid = spec["unique_id"]
        if uid is not None and uid in existing:
            results.append(BulkItemResult(existing[uid], created=False))
        else:
            results.append(BulkItemResult(next(created_iter), created=True))
    return results
