"""Export jobs and uploaded attachments.

An export job is its own outbox row (docs/architecture.md): ``export_create`` writes it ``queued`` with an
event and wakes a worker on commit; ``export_run`` (the Celery task) claims it, builds the file
outside any transaction (``annotation.exports.runner``), and records the outcome, which also
queues the ``export.ready`` (or ``export.failed``) webhook in the same transaction;
``exports_relay`` (beat) re-sends wake-ups that were lost and re-queues attempts whose worker died.

Every step is safe to run twice: a claim only takes a queued job (or a running one whose lease ran
out), and the outcome is written only by the attempt that holds the job (``attempts`` fences it).

The lease is short (``QUORUM_EXPORT_LEASE_SECONDS``, 30 s) and a heartbeat thread renews it every
``QUORUM_EXPORT_HEARTBEAT_SECONDS`` (10 s) while the file is built, however long that takes (up to
the attempt's time limit). A worker killed mid-export stops renewing, so the relay (every
``QUORUM_EXPORT_RELAY_SECONDS``, 15 s) re-queues the job within about 45 s; the killed attempt's
temporary folder is removed by the next attempt on that host (or when a worker starts) and a partial
file it may have stored is deleted when a later attempt finishes.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from annotation import storage
from annotation.exports import FORMATS, runner
from annotation.models import Batch, ExportJob, Project, Task
from clients.models import Client
from core import events, webhooks
from core.errors import NotFound, ValidationFailed
from core.transactions import after_commit

logger = logging.getLogger(__name__)

OPTION_KEYS = {"include_answers", "statuses", "batch", "source", "ranking_pairs"}
DEFAULT_STATUSES = [Task.Status.COMPLETED.value]
REDISPATCH_AFTER = timedelta(seconds=60)


def _bad_options(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(
        f"options.{field}: {message}", code="invalid_options", details={"field": f"options.{field}"}
    )


def check_export_request(*, project: Project, format: str, options: Any) -> dict:
    """Validate a format and its options for ``project``; return the options with defaults.

    Raises ``ValidationFailed`` (400) with code ``invalid_format``, ``format_not_supported`` or
    ``invalid_options`` naming the field."""
    if format not in FORMATS:
        raise ValidationFailed(
            f"format: {format!r} is not one of {', '.join(FORMATS)}",
            code="invalid_format",
            details={"field": "format"},
        )
    supported = FORMATS[format].SUPPORTED_TYPES
    if supported is not None and project.task_type not in supported:
        raise ValidationFailed(
            f"format: {format} exports {', '.join(sorted(supported))} projects; this project is "
            f"{project.task_type}",
            code="format_not_supported",
            details={"field": "format"},
        )
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ValidationFailed(
            "options: must be an object", code="invalid_options", details={"field": "options"}
        )
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise _bad_options(f"unknown option (known: {', '.join(sorted(OPTION_KEYS))})", sorted(unknown)[0])
    include_answers = options.get("include_answers", False)
    if not isinstance(include_answers, bool):
        raise _bad_options("must be true or false", "include_answers")
    clean: dict = {"include_answers": include_answers}
    statuses = options.get("statuses", DEFAULT_STATUSES)
    if (
        not isinstance(statuses, list) or not statuses
        or not all(isinstance(s, str) and s in Task.Status.values for s in statuses)
    ):  # fmt: skip
        raise _bad_options(f"a non-empty list of task statuses ({', '.join(Task.Status.values)})", "statuses")
    clean["statuses"] = sorted(set(statuses))
    if options.get("batch") is not None:
        try:
            batch_id = uuid.UUID(str(options["batch"]))
        except ValueError as exc:
            raise _bad_options("must be a batch id", "batch") from exc
        if not Batch.objects.filter(pk=batch_id, project=project).exists():
            raise _bad_options("no such batch in this project", "batch")
        clean["batch"] = str(batch_id)
    if "source" in options:
        if format not in ("coco", "yolo"):
            raise _bad_options("only for coco and yolo", "source")
        if options["source"] not in ("response", "gold"):
            raise _bad_options("must be response or gold", "source")
    if format in ("coco", "yolo"):
        clean["source"] = options.get("source", "response")
    if "ranking_pairs" in options:
        if format not in ("jsonl", "preference_jsonl"):
            raise _bad_options("only for jsonl and preference_jsonl", "ranking_pairs")
        if options["ranking_pairs"] not in ("adjacent", "all"):
            raise _bad_options("must be adjacent or all", "ranking_pairs")
    if format in ("jsonl", "preference_jsonl"):
        clean["ranking_pairs"] = options.get("ranking_pairs", "adjacent")
    return clean


@dataclass(frozen=True)
class ExportCreated:
    job: ExportJob
    created: bool


@transaction.atomic
def export_create(
    *,
    client: Client,
    actor: Any,
    project: Project,
    format: str,
    options: Any = None,
    is_test: bool = False,
    idempotency_key: str | None = None,
) -> ExportCreated:
    """Queue an export of ``project``'s tasks (the test-mode ones for a test key). Idempotent on
    ``idempotency_key`` per client: a repeat returns the existing job (``created=False``)."""
    if project.client_id != client.id:
        raise NotFound("Project not found.")
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 200:
            raise ValidationFailed("Idempotency-Key: 1 to 200 characters", code="invalid_idempotency_key")
        existing = ExportJob.objects.filter(client=client, idempotency_key=idempotency_key).first()
        if existing is not None:
            return ExportCreated(existing, created=False)
    clean = check_export_request(project=project, format=format, options=options)
    try:
        with transaction.atomic():
            job = ExportJob.objects.create(
                client=client, project=project, is_test=is_test, format=format, options=clean,
                idempotency_key=idempotency_key, anon_salt=secrets.token_hex(32),
                created_by=events.actor_label(actor),
                dispatched_at=timezone.now(),  # the on-commit wake-up below is this row's dispatch
            )  # fmt: skip
    except IntegrityError:  # a concurrent request with the same key won
        return ExportCreated(
            ExportJob.objects.get(client=client, idempotency_key=idempotency_key), created=False
        )
    events.record(actor=actor, entity=job, kind="export.created", after={"format": format, "options": clean})
    # after COMMIT: a broker outage must not fail the request; the beat relay sends the wake-up later.
    after_commit(_wake_worker, job.id)
    return ExportCreated(job, created=True)


def _wake_worker(export_id) -> None:
    """Queued by name: ``annotation.tasks`` imports the services."""
    try:
        current_app.send_task("annotation.tasks.export_run", args=[str(export_id)])
    except Exception:  # the broker is unreachable: the relay's next run sends it (not a minute later)
        ExportJob.objects.filter(id=export_id, status=ExportJob.Status.QUEUED).update(dispatched_at=None)
        raise


def _lease() -> timedelta:
    return timedelta(seconds=settings.QUORUM_EXPORT_LEASE_SECONDS)


def export_heartbeat(*, export_id, attempt: int) -> bool:
    """Renew the lease of the attempt that holds the job. False when it no longer holds it (the
    relay re-queued it, or another attempt took it): its outcome will be discarded."""
    return bool(
        ExportJob.objects.filter(id=export_id, status=ExportJob.Status.RUNNING, attempts=attempt).update(
            lease_until=timezone.now() + _lease()
        )
    )


@contextmanager
def _heartbeat(export_id, attempt: int):
    """Renew the attempt's lease from a thread (its own database connection) while the body runs."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.QUORUM_EXPORT_HEARTBEAT_SECONDS):
                try:
                    if not export_heartbeat(export_id=export_id, attempt=attempt):
                        logger.warning("export %s attempt %s lost its lease", export_id, attempt)
                        return
                except Exception:  # a database blip: try again at the next beat
                    logger.exception("export %s attempt %s: heartbeat failed", export_id, attempt)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=beat, name=f"export-heartbeat-{export_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def exports_clean_workdirs() -> int:
    """Remove this host's temporary export folders whose attempt no longer holds its job (its
    worker was killed). Returns how many were removed."""
    root = runner.tmp_root()
    if not root.is_dir():
        return 0
    folders = {path: runner.parse_workdir(path) for path in root.iterdir() if path.is_dir()}
    ids = {parsed[0] for parsed in folders.values() if parsed}
    live = set(
        ExportJob.objects.filter(
            id__in=ids, status=ExportJob.Status.RUNNING, lease_until__gt=timezone.now()
        ).values_list("id", "attempts")
    )
    removed = 0
    for path, parsed in folders.items():
        if parsed is None or parsed not in live:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


@transaction.atomic
def export_claim(*, export_id) -> tuple[ExportJob, int] | None:
    """Take the job for one attempt: a queued job, or a running one whose lease ran out (its
    worker died). Returns (job, attempt number) or None when there is nothing to do. Skips a job
    another worker has locked."""
    now = timezone.now()
    job = (
        ExportJob.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("project")
        .filter(id=export_id, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING])
        .first()
    )
    if job is None or (job.status == ExportJob.Status.RUNNING and job.lease_until and job.lease_until > now):
        return None
    if job.attempts >= settings.QUORUM_EXPORT_MAX_ATTEMPTS:
        _fail(
            job,
            attempt=job.attempts,
            error="export attempts exhausted (the worker stopped each time)",
            now=now,
        )
        return None
    before = job.status
    job.status, job.attempts, job.lease_until, job.started_at, job.dispatched_at = (
        ExportJob.Status.RUNNING, job.attempts + 1, now + _lease(), now, None,
    )  # fmt: skip
    job.save(update_fields=["status", "attempts", "lease_until", "started_at", "dispatched_at"])
    events.record(
        actor="system:worker", entity=job, kind="export.started", before={"status": before},
        after={"status": job.status, "attempt": job.attempts},
    )  # fmt: skip
    return job, job.attempts


def download_path(job: ExportJob) -> str:
    return reverse("export-download", kwargs={"project_id": str(job.project_id), "export_id": str(job.id)})


def _payload(job: ExportJob) -> dict:
    body = {
        "export_id": str(job.id), "project_id": str(job.project_id), "format": job.format,
        "status": job.status,
        "task_count": job.task_count, "file_size": job.file_size,
    }  # fmt: skip
    if job.status == ExportJob.Status.READY:
        body["download_url"] = settings.QUORUM_PUBLIC_URL + download_path(job)
    else:
        body["error"] = job.error
    return body


@transaction.atomic
def export_finish(*, export_id, attempt: int, built: runner.Built) -> bool:
    """running → ready, by the attempt that holds the job; queues ``export.ready`` to the
    client's endpoints in the same transaction. False (nothing changed) for a stale attempt."""
    now = timezone.now()
    moved = ExportJob.objects.filter(id=export_id, status=ExportJob.Status.RUNNING, attempts=attempt).update(
        status=ExportJob.Status.READY, file_name=built.file_name, file_size=built.file_size,
        content_type=built.content_type, task_count=built.task_count, report=built.report, finished_at=now,
        lease_until=None, error="",
    )  # fmt: skip
    if not moved:
        return False
    job = ExportJob.objects.select_related("client").get(id=export_id)
    events.record(
        actor="system:worker", entity=job, kind="export.ready", before={"status": "running"},
        after={"status": "ready", "task_count": job.task_count, "file_size": job.file_size},
    )  # fmt: skip
    webhooks.endpoint_event_enqueue(
        client=job.client,
        event_type="export.ready",
        payload=_payload(job),
        dedupe_key=f"export:{job.id}:ready",
    )
    return True


def _fail(job: ExportJob, *, attempt: int, error: str, now) -> bool:
    moved = ExportJob.objects.filter(
        id=job.id, status__in=[ExportJob.Status.RUNNING, ExportJob.Status.QUEUED], attempts=attempt
    ).update(status=ExportJob.Status.FAILED, error=error[:1000], finished_at=now, lease_until=None)
    if not moved:
        return False
    job.refresh_from_db()
    events.record(
        actor="system:worker",
        entity=job,
        kind="export.failed",
        after={"status": "failed", "error": job.error},
    )
    webhooks.endpoint_event_enqueue(
        client=job.client,
        event_type="export.failed",
        payload=_payload(job),
        dedupe_key=f"export:{job.id}:failed",
    )
    return True


@transaction.atomic
def export_fail(*, export_id, attempt: int, error: str) -> bool:
    """running → failed, by the attempt that holds the job; queues ``export.failed``."""
    job = ExportJob.objects.select_related("client").filter(id=export_id).first()
    return job is not None and _fail(job, attempt=attempt, error=error, now=timezone.now())


def export_run(*, export_id, chunk_size: int | None = None) -> ExportJob | None:
    """One attempt at a job (the Celery task): claim, build the file with no transaction open,
    record the outcome. Running it again after it succeeded does nothing. Call it outside a
    transaction."""
    claimed = export_claim(export_id=export_id)
    if claimed is None:
        return ExportJob.objects.filter(id=export_id).first()
    job, attempt = claimed
    exports_clean_workdirs()  # folders left by attempts killed on this host
    try:
        with _heartbeat(export_id, attempt):
            built = runner.build(job, attempt=attempt, chunk_size=chunk_size)
    except Exception as exc:  # recorded on the job and sent as export.failed, not swallowed
        logger.exception("export %s attempt %s failed", export_id, attempt)
        export_fail(export_id=export_id, attempt=attempt, error=f"{type(exc).__name__}: {exc}")
        return ExportJob.objects.filter(id=export_id).first()
    if not export_finish(export_id=export_id, attempt=attempt, built=built):
        logger.warning(
            "export %s attempt %s finished after its lease; its file is discarded", export_id, attempt
        )
        storage.delete(built.file_name)
    else:
        for earlier in range(1, attempt):  # a killed attempt may have stored part of its file
            storage.delete(runner.storage_name(job, earlier))
    return ExportJob.objects.filter(id=export_id).first()


@transaction.atomic
def exports_relay(*, limit: int = 100) -> list:
    """The outbox relay (beat): ids of jobs to wake a worker for. A queued job whose wake-up went
    out more than a minute ago and was not consumed (lost in the broker) is sent again; a running
    job whose lease ran out (its worker died) goes back to queued, or to failed once its attempts
    are used up."""
    now = timezone.now()
    stale = now - REDISPATCH_AFTER
    due = list(
        ExportJob.objects.select_for_update(skip_locked=True)
        .filter(
            Q(status=ExportJob.Status.QUEUED, dispatched_at__isnull=True)
            | Q(status=ExportJob.Status.QUEUED, dispatched_at__lt=stale)
            | Q(status=ExportJob.Status.RUNNING, lease_until__lt=now)
        )
        .order_by("created_at")[:limit]
    )
    wake = []
    for job in due:
        if job.status == ExportJob.Status.RUNNING:
            if job.attempts >= settings.QUORUM_EXPORT_MAX_ATTEMPTS:
                _fail(
                    job,
                    attempt=job.attempts,
                    error="export attempts exhausted (the worker stopped each time)",
                    now=now,
                )
                continue
            ExportJob.objects.filter(id=job.id).update(
                status=ExportJob.Status.QUEUED, lease_until=None, dispatched_at=now
            )
            events.record(
                actor="system:relay", entity=job, kind="export.requeued", before={"status": "running"},
                after={"status": "queued", "attempts": job.attempts},
            )  # fmt: skip
            wake.append(job.id)
        else:
            ExportJob.objects.filter(id=job.id).update(dispatched_at=now)
            wake.append(job.id)
    return wake


# --- attachments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAttachment:
    id: uuid.UUID
    name: str
    url: str
    size: int
    content_type: str
    width: int | None
    height: int | None


def attachment_upload(
    *, client: Client, actor: Any, project: Project, upload: IO[bytes], size: int
) -> StoredAttachment:
    """Store an uploaded file for use as a task attachment. Refused with 413 ``file_too_large``
    over ``QUORUM_ATTACHMENT_MAX_BYTES`` and 415 ``unsupported_media_type`` unless its bytes are
    one of ``QUORUM_ATTACHMENT_TYPES``; a refusal stores nothing and records nothing."""
    if project.client_id != client.id:
        raise NotFound("Project not found.")
    limit = settings.QUORUM_ATTACHMENT_MAX_BYTES
    if size > limit:
        raise ValidationFailed(
            f"file: {size} bytes is over the {limit}-byte limit", code="file_too_large", status_code=413,
            details={"field": "file", "max_bytes": limit},
        )  # fmt: skip
    if size == 0:
        raise ValidationFailed("file: is empty", code="empty_file", details={"field": "file"})
    sniffed = storage.identify(upload)
    allowed = settings.QUORUM_ATTACHMENT_TYPES
    if sniffed is not None and sniffed.problem and sniffed.content_type in allowed:
        raise ValidationFailed(
            f"file: starts like {sniffed.content_type} but {sniffed.problem}", code="unsupported_media_type",
            status_code=415, details={"field": "file", "accepted": allowed},
        )  # fmt: skip
    if sniffed is None or sniffed.content_type not in allowed:
        found = sniffed.content_type if sniffed else "unrecognised content"
        raise ValidationFailed(
            f"file: {found} is not accepted; accepted types: {', '.join(allowed)}",
            code="unsupported_media_type",
            status_code=415, details={"field": "file", "accepted": allowed},
        )  # fmt: skip
    upload.seek(0)
    name = storage.save(
        storage.attachment_name(
            client_id=client.id, project_id=project.id, content_type=sniffed.content_type
        ),
        upload,
    )
    try:
        attachment_id = _attachment_record(
            client=client, actor=actor, project=project, name=name, size=size, sniffed=sniffed
        )
    except BaseException:
        storage.delete(name)  # no event row, no file
        raise
    return StoredAttachment(
        id=attachment_id, name=name, url=storage.url(name), size=size, content_type=sniffed.content_type,
        width=sniffed.width, height=sniffed.height,
    )  # fmt: skip


@transaction.atomic
def _attachment_record(
    *, client: Client, actor: Any, project: Project, name: str, size: int, sniffed
) -> uuid.UUID:
    attachment_id = uuid.uuid4()
    events.build(
        actor=actor, entity_type="attachment", entity_id=attachment_id, kind="attachment.uploaded",
        client_id=client.id,
        after={
            "project_id": str(project.id), "name": name, "size": size, "content_type": sniffed.content_type,
        },
    ).save()  # fmt: skip
    return attachment_id


def export_download_name(job: ExportJob) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", job.project.name).strip("-")[:60] or "project"
    return f"{slug}-{job.format}-{job.id}.{FORMATS[job.format].EXTENSION}"
