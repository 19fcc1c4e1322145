"""Writes for projects and batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation import tasktypes
from annotation.lifecycle import complete, notify
from annotation.models import Batch, Project, ProjectParamVersion
from annotation.services import workforce
from billing import selectors as billing_selectors
from billing import services as billing
from clients.models import Client
from core import events, limits, outbound
from core.errors import Conflict, NotFound, ValidationFailed
from core.transactions import after_commit

# --- projects --------------------------------------------------------------------------------------

# Quality control settings (issue 3): each with its check. Probabilities and thresholds in [0, 1].
QUALITY_FIELDS = {
    "consensus_method": "one of " + ", ".join(Project.Consensus.values),
    "gold_ratio": "a number between 0 and 1",
    "gold_min_answers": "an integer between 1 and 1000",
    "gold_accuracy_threshold": "a number between 0 and 1 (0: never remove)",
    "confidence_threshold": "a number between 0 and 1 (0: never ask for more answers)",
    "review_enabled": "true or false",
    "review_share": "a number between 0 and 1",
    "min_answer_ms": "an integer between 0 and 3600000 (0: no minimum)",
    "fraud_flag_limit": "an integer between 0 and 1000 (0: never suspend)",
    "serving_order": "one of " + ", ".join(Project.ServingOrder.values),
    "show_hypothesis": "true or false",
}

PROJECT_EDITABLE = {
    "name",
    "instructions",
    "params",
    "overlap",
    "max_overlap",
    "lease_seconds",
    "priority",
    "deadline",
    "price_per_task",
    "pay_per_answer",
    "domain",
    "budget",
    "required_qualifications",
    *QUALITY_FIELDS,
}


def _check_quality(values: dict) -> None:
    def ok(field: str, value: Any) -> bool:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if field == "consensus_method":
            return value in Project.Consensus.values
        if field == "serving_order":
            return value in Project.ServingOrder.values
        if field in ("review_enabled", "show_hypothesis"):
            return isinstance(value, bool)
        if field in ("gold_min_answers",):
            return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1000
        if field == "min_answer_ms":
            return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3_600_000
        if field == "fraud_flag_limit":
            return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000
        return number and 0 <= value <= 1

    for field, value in values.items():
        if field in QUALITY_FIELDS and not ok(field, value):
            raise ValidationFailed(
                f"{field}: must be {QUALITY_FIELDS[field]}",
                code="invalid_quality_setting",
                details={"field": field},
            )


def _check_project_numbers(
    *,
    overlap: int,
    max_overlap: int,
    lease_seconds: int,
    price_per_task: int | None,
    pay_per_answer: int | None = None,
) -> None:
    if not 1 <= overlap <= 50:
        raise ValidationFailed(
            "overlap: must be between 1 and 50", code="invalid_overlap", details={"field": "overlap"}
        )
    if not overlap <= max_overlap <= 50:
        raise ValidationFailed(
            "max_overlap: must be between overlap and 50",
            code="invalid_overlap",
            details={"field": "max_overlap"},
        )
    if not 30 <= lease_seconds <= 86400:
        raise ValidationFailed(
            "lease_seconds: must be between 30 and 86400",
            code="invalid_lease",
            details={"field": "lease_seconds"},
        )
    for field, value in (("price_per_task", price_per_task), ("pay_per_answer", pay_per_answer)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValidationFailed(
                f"{field}: must be a non-negative integer (minor units) or null",
                code="invalid_price",
                details={"field": field},
            )


def _check_deadline(deadline: Any) -> None:
    """A deadline is a timezone-aware moment in the future, or None (no deadline)."""
    if deadline is None:
        return
    if not isinstance(deadline, datetime) or deadline.tzinfo is None:
        raise ValidationFailed(
            "deadline: must be a date and time with a time zone (ISO 8601), or null",
            code="invalid_deadline",
            details={"field": "deadline"},
        )
    if deadline <= timezone.now():
        raise ValidationFailed(
            "deadline: must be in the future", code="invalid_deadline", details={"field": "deadline"}
        )


def project_prices(
    *, client: Client, task_type: str, price_per_task: int | None, pay_per_answer: int | None, answers: int
) -> tuple[billing.Margin, str]:
    """The price per task and pay per answer a project's new tasks would get (its overrides, else
    the rate card in force), and where they come from ("", or " (the rate card's price)" …)."""
    rate = billing_selectors.rate_for(client=client, task_type=task_type, at=timezone.now())
    from_card = [
        name for name, override in (("price", price_per_task), ("pay", pay_per_answer)) if override is None
    ]
    source = f" (the rate card's {' and '.join(from_card)})" if from_card else ""
    margin = billing.Margin(
        price=rate.price_per_task if price_per_task is None else price_per_task,
        pay=rate.pay_per_answer if pay_per_answer is None else pay_per_answer,
        answers=answers,
    )
    return margin, source


def _check_margin(
    *,
    client: Client,
    task_type: str,
    price_per_task: int | None,
    pay_per_answer: int | None,
    max_overlap: int,
) -> None:
    """Refuse a project whose tasks would pay more than they charge, or keep less than the
    platform's minimum margin, at its max overlap (``billing.margin_check``)."""
    margin, source = project_prices(
        client=client,
        task_type=task_type,
        price_per_task=price_per_task,
        pay_per_answer=pay_per_answer,
        answers=max_overlap,
    )
    field = "price_per_task" if price_per_task is not None or pay_per_answer is None else "pay_per_answer"
    billing.margin_check(price=margin.price, pay=margin.pay, answers=max_overlap, field=field, source=source)


@transaction.atomic
def project_create(
    *,
    client: Client,
    actor: Any,
    name: str,
    task_type: str,
    domain: str = "other",
    params: dict | None = None,
    instructions: str = "",
    overlap: int = 1,
    max_overlap: int | None = None,
    lease_seconds: int | None = None,
    priority: int = 0,
    deadline: datetime | None = None,
    price_per_task: int | None = None,
    pay_per_answer: int | None = None,
    budget: int | None = None,
    required_qualifications: list | None = None,
    **quality: Any,
) -> Project:
    """Create a project. ``price_per_task`` / ``pay_per_answer`` override the rate card for its
    tasks (None: the card applies); ``budget`` caps its committed spend (None: no budget).
    ``quality`` takes the ``QUALITY_FIELDS`` (gold ratio and rule, dynamic overlap, review,
    anti-fraud, consensus method); ``required_qualifications`` are qualification ids."""
    unknown = set(quality) - set(QUALITY_FIELDS)
    if unknown:
        raise TypeError(f"project_create() got unexpected keyword arguments {sorted(unknown)}")
    _check_quality(quality)
    name = (name or "").strip()
    if not name or "/" in name:
        raise ValidationFailed(
            "name: required, and must not contain '/'", code="invalid_name", details={"field": "name"}
        )
    params = params or {}
    limits.check_project({"params": params, "instructions": instructions})
    tasktypes.check_project_params(task_type, params)
    max_overlap = max_overlap or overlap
    lease_seconds = lease_seconds or settings.QUORUM_DEFAULT_LEASE_SECONDS
    _check_project_numbers(
        overlap=overlap,
        max_overlap=max_overlap,
        lease_seconds=lease_seconds,
        price_per_task=price_per_task,
        pay_per_answer=pay_per_answer,
    )
    _check_deadline(deadline)
    _check_margin(
        client=client,
        task_type=task_type,
        price_per_task=price_per_task,
        pay_per_answer=pay_per_answer,
        max_overlap=max_overlap,
    )
    if Project.objects.filter(client=client, name=name).exists():
        raise Conflict(f"A project named {name!r} already exists.", code="duplicate_project_name")
    try:
        with transaction.atomic():
            project = Project.objects.create(
                client=client,
                name=name,
                task_type=task_type,
                domain=domain,
                params=params,
                instructions=instructions,
                overlap=overlap,
                max_overlap=max_overlap,
                lease_seconds=lease_seconds,
                priority=priority,
                deadline=deadline,
                price_per_task=price_per_task,
                pay_per_answer=pay_per_answer,
                **quality,
            )
    except IntegrityError as exc:
        raise Conflict(f"A project named {name!r} already exists.", code="duplicate_project_name") from exc
    events.record(
        actor=actor, entity=project, kind="project.created", after={"name": name, "task_type": task_type}
    )
    _record_param_version(project)
    if budget is not None:
        billing.project_budget_set(client=client, project_id=project.id, limit=budget, actor=actor)
    if required_qualifications:
        workforce.project_set_qualifications(project=project, qualification_ids=required_qualifications)
    return project


def _record_param_version(project: Project) -> ProjectParamVersion:
    """Append the project's current params and instructions as its next version (0 first).
    Precondition: the project row is locked, or was created, by this transaction."""
    last = (
        ProjectParamVersion.objects.filter(project=project)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    return ProjectParamVersion.objects.create(
        project=project,
        version=0 if last is None else last + 1,
        params=project.params,
        instructions=project.instructions,
    )


@transaction.atomic
def project_update(*, client: Client, actor: Any, project_id, changes: dict) -> Project:
    """Change a project's settings. Overlap and price apply to tasks created afterwards."""
    unknown = set(changes) - PROJECT_EDITABLE
    if unknown:
        raise ValidationFailed(f"{sorted(unknown)[0]}: cannot be changed", code="invalid_field")
    limits.check_project(changes)
    project = _project_for_update(client=client, project_id=project_id)
    changes = dict(changes)
    if "budget" in changes:  # kept by billing, not on the project row
        billing.project_budget_set(
            client=client, project_id=project.id, limit=changes.pop("budget"), actor=actor
        )
    if "required_qualifications" in changes:  # a many-to-many, not a column
        required = workforce.project_set_qualifications(
            project=project, qualification_ids=changes.pop("required_qualifications")
        )
        events.record(
            actor=actor,
            entity=project,
            kind="project.qualifications_set",
            after={"required_qualifications": [str(q.pk) for q in required]},
        )
    _check_quality(changes)
    before = {k: getattr(project, k) for k in changes}
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name or "/" in name:
            raise ValidationFailed(
                "name: required, and must not contain '/'", code="invalid_name", details={"field": "name"}
            )
        if Project.objects.filter(client=client, name=name).exclude(pk=project.pk).exists():
            raise Conflict(f"A project named {name!r} already exists.", code="duplicate_project_name")
        changes["name"] = name
    if "params" in changes:
        tasktypes.check_project_params(project.task_type, changes["params"])
    if "deadline" in changes:
        _check_deadline(changes["deadline"])
    for key, value in changes.items():
        setattr(project, key, value)
    _check_project_numbers(
        overlap=project.overlap,
        max_overlap=max(project.max_overlap, project.overlap),
        lease_seconds=project.lease_seconds,
        price_per_task=project.price_per_task,
        pay_per_answer=project.pay_per_answer,
    )
    project.max_overlap = max(project.max_overlap, project.overlap)
    if changes.keys() & {"price_per_task", "pay_per_answer", "overlap", "max_overlap"}:
        _check_margin(
            client=client,
            task_type=project.task_type,
            price_per_task=project.price_per_task,
            pay_per_answer=project.pay_per_answer,
            max_overlap=project.max_overlap,
        )
    project.save(update_fields=[*changes, "max_overlap", "updated_at"])
    events.record(
        actor=actor,
        entity=project,
        kind="project.updated",
        before=_jsonable(before),
        after=_jsonable(changes),
    )
    if "params" in changes or "instructions" in changes:
        _record_param_version(project)
    return project


@transaction.atomic
def project_set_params(
    *,
    client: Client,
    actor: Any,
    project_id,
    params: dict,
    instructions: str | None = None,
    patch: bool = False,
) -> Project:
    """Set the project's params (the per-task defaults), replacing them, or merging into them when
    ``patch``; and its instructions when given. Records a new param version (Scale's setParams)."""
    if not isinstance(params, dict):
        raise ValidationFailed(
            "params: must be an object", code="invalid_params", details={"field": "params"}
        )
    if instructions is not None and not isinstance(instructions, str):
        raise ValidationFailed(
            "instruction: must be a string", code="invalid_params", details={"field": "instruction"}
        )
    project = _project_for_update(client=client, project_id=project_id)
    changes: dict[str, Any] = {"params": {**project.params, **params} if patch else params}
    if instructions is not None:
        changes["instructions"] = instructions
    return project_update(client=client, actor=actor, project_id=project.pk, changes=changes)


def _jsonable(values: dict) -> dict:
    return {
        k: (v if isinstance(v, (str, int, float, bool, dict, list, type(None))) else str(v))
        for k, v in values.items()
    }


def _project_for_update(*, client: Client, project_id) -> Project:
    try:
        return Project.objects.select_for_update().get(client=client, pk=project_id)
    except (Project.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Project not found.") from exc


@transaction.atomic
def project_set_status(*, client: Client, actor: Any, project_id, status: str) -> Project:
    """pause (active → paused), resume (paused → active), archive (any → archived)."""
    allowed_from = {
        Project.Status.PAUSED: {Project.Status.ACTIVE},
        Project.Status.ACTIVE: {Project.Status.PAUSED, Project.Status.DRAFT},
        Project.Status.ARCHIVED: {Project.Status.ACTIVE, Project.Status.PAUSED, Project.Status.DRAFT},
    }
    project = _project_for_update(client=client, project_id=project_id)
    if status not in allowed_from:
        raise ValidationFailed(f"status: cannot move a project to {status!r}", code="invalid_status")
    if project.status not in allowed_from[status]:
        raise Conflict(f"Project is {project.status}; it cannot become {status}.", code="invalid_transition")
    before = project.status
    project.status = status
    project.save(update_fields=["status", "updated_at"])
    events.record(
        actor=actor,
        entity=project,
        kind=f"project.{status}",
        before={"status": before},
        after={"status": status},
    )
    return project


# --- batches ---------------------------------------------------------------------------------------


def batch_create(
    *,
    client: Client,
    actor: Any,
    project: Project,
    name: str,
    callback_url: str = "",
    metadata: dict | None = None,
) -> Batch:
    name = (name or "").strip()
    if not name or "/" in name:
        raise ValidationFailed(
            "name: required, and must not contain '/'", code="invalid_name", details={"field": "name"}
        )
    if project.client_id != client.id:
        raise NotFound("Project not found.")
    limits.check_metadata(metadata or {})
    if callback_url:
        try:
            outbound.check_url(callback_url)  # no DNS: resolved and checked at send time
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"callback: {exc.message}", code=exc.code, details={"field": "callback"}
            ) from exc
    return _batch_insert(
        client=client, actor=actor, project=project, name=name, callback_url=callback_url, metadata=metadata
    )


@transaction.atomic
def _batch_insert(
    *, client: Client, actor: Any, project: Project, name: str, callback_url: str, metadata: dict | None
) -> Batch:
    if Batch.objects.filter(client=client, name=name).exists():
        raise Conflict(f"A batch named {name!r} already exists.", code="duplicate_batch_name")
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                client=client, project=project, name=name, callback_url=callback_url, metadata=metadata or {}
            )
    except IntegrityError as exc:
        raise Conflict(f"A batch named {name!r} already exists.", code="duplicate_batch_name") from exc
    events.record(actor=actor, entity=batch, kind="batch.created", after={"name": name})
    return batch


@transaction.atomic
def batch_finalize(*, client: Client, actor: Any, batch_id) -> Batch:
    """staging → in_progress: the batch's live tasks become claimable. Finalizing twice is a no-op."""
    try:
        batch = Batch.objects.select_for_update().get(client=client, pk=batch_id)
    except (Batch.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Batch not found.") from exc
    if batch.status != Batch.Status.STAGING:
        return batch
    now = timezone.now()
    batch.status, batch.finalized_at = Batch.Status.IN_PROGRESS, now
    batch.save(update_fields=["status", "finalized_at"])
    complete.release_batch(batch=batch)
    events.record(
        actor=actor,
        entity=batch,
        kind="batch.finalized",
        before={"status": "staging"},
        after={"status": "in_progress"},
    )
    # Every task may have finished already (test mode, cancels): the batch then completes.
    after_commit(notify.batch_try_complete, batch_id=batch.pk)
    return batch


@transaction.atomic
def batch_set_metadata(*, client: Client, actor: Any, batch_id, metadata: Any) -> Batch:
    """Replace the batch's metadata with ``metadata`` (an object)."""
    if not isinstance(metadata, dict):
        raise ValidationFailed(
            "metadata: must be an object", code="invalid_metadata", details={"field": "metadata"}
        )
    try:
        batch = Batch.objects.select_for_update().get(client=client, pk=batch_id)
    except (Batch.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound("Batch not found.") from exc
    limits.check_metadata(metadata)
    before = batch.metadata
    batch.metadata = metadata
    batch.save(update_fields=["metadata"])
    events.record(
        actor=actor,
        entity=batch,
        kind="batch.metadata_set",
        before={"metadata": before},
        after={"metadata": metadata},
    )
    return batch
