"""Writes for tasks: bulk creation; cancel, completion and the test-mode simulator come from the
lifecycle (``annotation.lifecycle.complete``) under their service names."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from annotation import prelabels, tasktypes
from annotation.lifecycle.complete import (  # noqa: F401 - the public surface stays here
    billing_work,
)
from annotation.models import Batch, Project, Task
from billing import selectors as billing_selectors
from clients.models import Client
from core import events, gcpause, limits, outbound
from core.errors import Conflict, NotFound, ValidationFailed
from core.ids import uuid7_many
from core.jsontext import Encoded
from core.pgcopy import copy_rows
from core.transactions import after_commit

# --- tasks -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _checked_callback_url(url: str, allow_loopback: bool) -> None:
    """Accept a callback URL: syntax, scheme and literal addresses, never resolved here
    (``outbound.check_url``; the address policy applies at every send). Remembered per URL (and the
    loopback setting it was checked under), since a bulk request usually gives every task the same
    URL; an invalid one raises each time."""
    outbound.check_url(url)


class BulkItemResult:
    """One item of a bulk request: its task's id and ``unique_id``, and whether this request created
    it. ``task`` is the Task: for a created one built from the values just written (no query), for
    an existing one read on first access (one query each)."""

    __slots__ = ("_build", "_task", "created", "task_id", "unique_id")

    def __init__(self, task_id, unique_id: str | None, created: bool, build=None):
        self.task_id, self.unique_id, self.created = task_id, unique_id, created
        self._build, self._task = build, None

    # What the attachment check needs (``attachment_checks_schedule``), read from the written row
    # without building a model instance (10,000 of them cost more CPU than the rest of the import).
    @property
    def id(self):
        return self.task_id

    @property
    def task_type(self) -> str:
        return self._build[0].common["task_type"] if self._build is not None else self.task.task_type

    @property
    def params(self) -> dict:
        if self._build is not None:
            builder, row = self._build
            return row[builder.params_at].value  # the Encoded the COPY wrote
        return self.task.params

    @property
    def task(self) -> Task:
        if self._task is None:
            if self._build is not None:
                builder, row = self._build
                self._task = builder(row)
            else:
                self._task = Task.objects.get(pk=self.task_id)
        return self._task

    def __repr__(self) -> str:
        return f"BulkItemResult(task_id={self.task_id}, unique_id={self.unique_id!r}, created={self.created})"


class _TaskBuilder:
    """A saved ``Task`` from a row of ``_task_bulk_insert`` (its columns, then the shared values)."""

    def __init__(self, *, fields: tuple[str, ...], common: dict):
        self.fields, self.common = fields, common
        self.params_at = fields.index("params")

    def __call__(self, row: tuple) -> Task:
        values = {k: v.value if type(v) is Encoded else v for k, v in zip(self.fields, row, strict=True)}
        task = Task(**self.common, **values)
        task._state.adding, task._state.db = False, "default"
        return task


# The keys of a cleaned item (``_clean_item``), in the order the import's COPY writes them.
SPEC_KEYS = (
    "params", "metadata", "unique_id", "callback_url", "priority", "tags", "instruction", "is_gold",
    "gold_answer", "hypothesis",
)  # fmt: skip


def _clean_item(
    index: int, item: Any, project: Project, problems: list | None = None, *, encode: bool = False
) -> dict | None:
    """Validate one task spec; return the model fields (``SPEC_KEYS``). Raises ValidationFailed
    naming ``tasks[i].field``.

    With ``problems`` (a list), every problem of the item is appended there instead of raising at
    the first, and None is returned if there was any (a file upload's report shows them all).
    With ``encode``, ``params``, ``metadata`` and ``gold_answer`` come as ``core.jsontext.Encoded``
    (value, JSON text and size): the texts the size caps measured are the ones the COPY writes."""
    found: list[ValidationFailed] = []

    def fail(field: str, message: str, code: str = "invalid_task"):
        exc = ValidationFailed(
            f"tasks[{index}].{field}: {message}", code=code, details={"index": index, "field": field}
        )
        if problems is None:
            raise exc
        found.append(exc)

    def failed(exc: ValidationFailed) -> None:
        if problems is None:
            raise exc
        found.append(exc)

    if not isinstance(item, dict):
        failed(
            ValidationFailed(
                f"tasks[{index}]: must be an object", code="invalid_task", details={"index": index}
            )
        )
        problems.extend(found)
        return None
    try:
        encoded = limits.check_task_item(index, item)
    except ValidationFailed as exc:
        failed(exc)
        problems.extend(found)  # a too-large item is not read further
        return None
    unknown = set(item) - {
        "params",
        "instruction",
        "metadata",
        "unique_id",
        "callback_url",
        "priority",
        "tags",
        "gold_answer",
        "hypothesis",
    }
    for name in sorted(unknown):
        fail(name, "unknown field")
    params = item.get("params") or {}
    params_ok = isinstance(params, dict)
    if not params_ok:
        fail("params", "must be an object")
        params = {}
    # The task keeps its effective params (the project's label schema overlaid with its own), as
    # Scale's task object does: a later change of the project's params cannot break open work.
    effective = tasktypes.effective_params(project.params, params)
    try:
        tasktypes.check_params(project.task_type, effective)
    except ValidationFailed as exc:
        params_ok = False
        failed(
            ValidationFailed(
                f"tasks[{index}].{exc.message}",
                code=exc.code,
                details={"index": index, **(exc.details or {})},
            )
        )
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
        else:
            try:
                _checked_callback_url(callback_url, settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK)
            except ValidationFailed as exc:
                fail("callback_url", exc.message, code="invalid_callback_url")
    priority = item.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not -100 <= priority <= 100:
        fail("priority", "must be an integer between -100 and 100")
    tags = item.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        fail("tags", "must be a list of strings")
    instruction = item.get("instruction") or ""
    if not isinstance(instruction, str):
        fail("instruction", "must be a string")
    # A gold task: its known answer must be a valid answer. Gold is served at the project's gold
    # ratio, to many annotators, never completes and is never charged.
    gold_answer = item.get("gold_answer")
    if gold_answer is not None and params_ok:
        try:
            tasktypes.check_answer(project.task_type, effective, gold_answer)
        except ValidationFailed as exc:
            fail("gold_answer", exc.message, code="invalid_gold_answer")
    if params_ok:
        try:
            hypothesis = prelabels.clean_item_hypothesis(index, project.task_type, effective, item)
        except ValidationFailed as exc:
            failed(exc)
    if found:
        problems.extend(found)
        return None
    if encode:
        # Without project params the effective params equal the item's own: one encoding serves both.
        own = encoded.get("params")
        effective = own if own is not None and not project.params else Encoded(effective)
        metadata = encoded.get("metadata", metadata)
        gold_answer = encoded.get("gold_answer", gold_answer)
    return {  # SPEC_KEYS
        "params": effective,
        "metadata": metadata,
        "unique_id": unique_id,
        "callback_url": callback_url,
        "priority": priority,
        "tags": tags,
        "instruction": instruction,
        "is_gold": gold_answer is not None,
        "gold_answer": gold_answer,
        "hypothesis": hypothesis,
    }


@gcpause.paused()  # bounded bulk work: see core/gcpause.py
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
    if batch is not None and batch.status in (Batch.Status.COMPLETED, Batch.Status.CANCELLED):
        raise Conflict(f"The batch is {batch.status}; add tasks to a new batch.", code="batch_completed")
    if not items:
        raise ValidationFailed("tasks: at least one task is required", code="invalid_task")
    if len(items) > settings.QUORUM_BULK_CREATE_MAX:
        raise ValidationFailed(
            f"tasks: at most {settings.QUORUM_BULK_CREATE_MAX} tasks per request (got {len(items)})",
            code="too_many_tasks",
        )
    seen, duplicate = _request_unique_ids(items)
    return _task_bulk_insert(
        client=client,
        actor=actor,
        project=project,
        batch=batch,
        items=items,
        seen=seen,
        duplicate=duplicate,
        is_test=is_test,
    )


def _request_unique_ids(items: Sequence[Any]) -> tuple[dict[str, int], ValidationFailed | None]:
    """The request's ``unique_id`` values (``{unique_id: index of its first item}``), read ahead of
    validation because the lookup of the existing ones comes before the first row is written, and
    the error of the first repeated one (raised once every item has been validated). A value that
    is not a valid ``unique_id`` is left to validation, which names it."""
    seen: dict[str, int] = {}
    duplicate = None
    for i, item in enumerate(items):
        uid = item.get("unique_id") if isinstance(item, dict) else None
        if not isinstance(uid, str) or not 1 <= len(uid) <= 200:
            continue
        if uid not in seen:
            seen[uid] = i
        elif duplicate is None:
            duplicate = ValidationFailed(
                f"tasks[{i}].unique_id: {uid!r} repeats tasks[{seen[uid]}] in the same request",
                code="duplicate_unique_id",
                details={"index": i, "field": "unique_id"},
            )
    return seen, duplicate


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
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        found: list[ValidationFailed] = []
        spec = _clean_item(i, item, project, problems=found)
        if spec is None:  # every problem of the item, not only the first
            problems.extend((i, exc) for exc in found)
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
    existing = _existing_tasks(client=client, is_test=False, unique_ids=list(seen))
    for uid in [uid for uid, (_task_id, project_id) in existing.items() if project_id != project.id]:
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


# The columns a bulk import writes per task besides the cleaned item's own (``_clean_item``'s keys).
_PER_TASK = ("id", "created_at", "overlap", "price")
_RETRY_SQLSTATES = {"23505", "40P01"}  # unique_violation (on the unique_id index), deadlock_detected
# Each failed attempt means a concurrent import of some of these unique_ids committed (or won a
# deadlock), so the next lookup finds more of them; a bound in case many keep arriving.
MAX_IMPORT_ATTEMPTS = 8
# One probe of the unique index per id, whatever the planner believes about the table: as
# ``unique_id = ANY(…)`` (or the ORM's ``IN``) the ids became a filter over every task of the client
# once the statistics lagged behind a growing table (5 s at 900,000 tasks instead of 0.1 s). LIMIT
# keeps the subquery from being flattened into a join the planner could again turn into a scan.
EXISTING_SQL = """
SELECT u.uid, t.id, t.project_id
  FROM unnest(%s::text[]) AS u(uid)
 CROSS JOIN LATERAL (SELECT id, project_id FROM annotation_task
                      WHERE client_id = %s AND is_test = %s AND unique_id = u.uid LIMIT 1) AS t
"""


def _existing_tasks(*, client: Client, is_test: bool, unique_ids: list[str]) -> dict[str, tuple]:
    """``{unique_id: (task id, project id)}`` of the client's tasks (in this mode) with these ids: one
    array parameter, one unique-index probe per id."""
    if not unique_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(EXISTING_SQL, [unique_ids, client.id, is_test])
        return {uid: (task_id, project_id) for uid, task_id, project_id in cursor.fetchall()}


def _retriable(exc: Exception) -> bool:
    """A concurrent request created some of these unique_ids first (or the two deadlocked)."""
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None)
    if state == "23505":
        return getattr(getattr(cause, "diag", None), "constraint_name", None) == "task_client_unique_id_uniq"
    return state in _RETRY_SQLSTATES


@transaction.atomic
def _task_bulk_insert(
    *,
    client: Client,
    actor: Any,
    project: Project,
    batch: Batch | None,
    items: Sequence[Any],
    seen: dict[str, int],
    duplicate: ValidationFailed | None,
    is_test: bool,
) -> list[BulkItemResult]:
    """Validate the items and write them, with their ``task.created`` events, with COPY
    (``core.pgcopy``).

    Validation and writing overlap: each item is validated as the COPY asks for its row, so
    PostgreSQL inserts and indexes the rows already sent while Python validates the next ones (on
    two cores, the two no longer add up). An invalid item raises in the middle of the COPY, which
    ends it; the transaction rolls back and nothing is written, as when every item was validated
    first (the rows PostgreSQL had already inserted stay as dead rows until autovacuum, as after
    any rolled-back insert: the price of the overlap, paid only by refused requests). The errors
    keep their order: an item's own problem (the first bad item's), then the request's (the params
    cap, a repeated ``unique_id``, a ``unique_id`` of another project), raised once every item has
    been validated.

    The unique index on (client, mode, unique_id) is the arbiter: a concurrent request that writes
    one of these unique_ids first makes this COPY wait for its commit and then fail with a unique
    violation (or a deadlock, when two imports hold each other's rows); the COPY is rolled back to
    its savepoint and the lookup runs again (now finding those tasks), up to ``MAX_IMPORT_ATTEMPTS``;
    the items validated so far are not validated again."""
    if batch is not None:
        batch = Batch.objects.select_for_update().get(
            pk=batch.pk
        )  # a concurrent finalize must not miss these tasks
    released = not is_test and (batch is None or batch.status == Batch.Status.IN_PROGRESS)
    spec_values = itemgetter(*SPEC_KEYS)
    gold_overlap = settings.QUORUM_GOLD_OVERLAP
    cleaned: list[dict] = []
    bulk_params = limits.BulkParamsTotal()

    def specs():
        """Every item's cleaned spec in order: validated when first asked for, from ``cleaned``
        on a later attempt. Then the request's own refusals, once every item is valid."""
        for i, item in enumerate(items):
            if i == len(cleaned):
                spec = _clean_item(i, item, project, encode=True)
                bulk_params.add(spec["params"].nbytes)
                cleaned.append(spec)
            yield cleaned[i]
        if bulk_params.refusal is not None:
            raise bulk_params.refusal
        if duplicate is not None:
            raise duplicate

    def new_rows(existing: dict, now: datetime, price: int, rows: list[tuple]):
        """The COPY rows of the items that ``existing`` does not name, appended to ``rows`` too.
        Then a ``unique_id`` of another project is refused, once every item is valid."""
        # Every existing unique_id names at least one item: an upper bound on the new ones.
        new_ids = iter(uuid7_many(len(items) - len(existing)))
        for spec in specs():
            uid = spec["unique_id"]
            if uid is not None and uid in existing:
                continue
            # created_at grows by 1 µs per item so tasks are served in the order they were sent.
            row = (
                next(new_ids),
                now + timedelta(microseconds=len(rows)),
                gold_overlap if spec["is_gold"] else project.overlap,
                0 if spec["is_gold"] else price,
                *spec_values(spec),
            )
            rows.append(row)
            yield row
        for uid, (task_id, project_id) in existing.items():
            if project_id != project.id:
                raise Conflict(
                    f"tasks[{seen[uid]}].unique_id: {uid!r} already names a task of another project",
                    code="unique_id_conflict",
                    details={"index": seen[uid], "field": "unique_id", "task_id": str(task_id)},
                )

    for _attempt in range(MAX_IMPORT_ATTEMPTS):
        existing = _existing_tasks(client=client, is_test=is_test, unique_ids=list(seen))
        now = timezone.now()
        price, pay = task_rates(client=client, project=project, at=now)
        rows: list[tuple] = []
        common = {
            "client_id": client.id,
            "project_id": project.id,
            "batch_id": batch.id if batch is not None else None,
            "task_type": project.task_type,
            "is_test": is_test,
            "released": released,
            "updated_at": now,
            "pay": pay,
        }
        try:
            with transaction.atomic():
                copy_rows(
                    Task,
                    varying=(*_PER_TASK, *SPEC_KEYS),
                    rows=new_rows(existing, now, price, rows),
                    common=common,
                )
        except (IntegrityError, OperationalError) as exc:
            if not _retriable(exc):
                raise
            continue  # a concurrent request created some of these unique_ids; look again
        break
    else:
        raise Conflict(
            "Concurrent requests kept creating the same unique_id values; retry.", code="unique_id_race"
        )
    if rows:
        events.record_many(
            actor=actor,
            entity_type="task",
            entity_ids=(row[0] for row in rows),
            kind="task.created",
            client_id=client.id,
            at=now,
        )
    if is_test and rows:
        ids = [str(row[0]) for row in rows]
        # after COMMIT: a broker outage must not fail a committed request; the beat relay simulates them.
        # Queued by name: annotation.tasks imports the services.
        after_commit(current_app.send_task, "annotation.tasks.simulate_test_tasks", args=[ids])
    objects = {"client": client, "project": project, "batch": batch}
    shared = {k: v for k, v in common.items() if k not in ("client_id", "project_id", "batch_id")}
    build = _TaskBuilder(fields=(*_PER_TASK, *SPEC_KEYS), common={**shared, **objects})
    created_iter = iter(rows)
    results = []
    for spec in cleaned:
        uid = spec["unique_id"]
        if uid is not None and uid in existing:
            results.append(BulkItemResult(existing[uid][0], uid, False))
        else:
            row = next(created_iter)
            results.append(BulkItemResult(row[0], uid, True, (build, row)))
    return results
