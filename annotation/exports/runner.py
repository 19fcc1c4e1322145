"""Build one export job's file: read the tasks in chunks, write the format to a temporary file,
store it through the storage API. No transaction is held while this runs (minutes for a large
project); the job's state moves in ``annotation.services.exports`` before and after."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation import storage
from annotation.exports import FORMATS, source
from annotation.models import ExportJob
from core import dbrouter


@dataclass(frozen=True)
class Built:
    file_name: str
    file_size: int
    content_type: str
    task_count: int
    report: dict


def storage_name(job: ExportJob, attempt: int) -> str:
    """Per attempt, so an attempt that overran its lease never overwrites the file of the one
    that replaced it."""
    return f"exports/{job.client_id}/{job.id}/attempt-{attempt}.{FORMATS[job.format].EXTENSION}"


# --- temporary files ---------------------------------------------------------------------------------
# Each attempt writes under <QUORUM_EXPORT_TMP_DIR>/<job id>-attempt-<n>/ and removes it when it ends.
# A worker killed mid-attempt (kill -9, the OOM killer, the hard time limit) cannot clean up, so the
# next attempt on the host, and each worker at start, removes the folders of attempts that no longer
# hold their job (``stale_workdirs``).


def tmp_root() -> Path:
    return Path(settings.QUORUM_EXPORT_TMP_DIR or tempfile.gettempdir()) / "quorum-exports"


def workdir_for(job_id, attempt: int) -> Path:
    return tmp_root() / f"{job_id}-attempt-{attempt}"


def parse_workdir(path: Path) -> tuple[uuid.UUID, int] | None:
    job_id, sep, attempt = path.name.rpartition("-attempt-")
    try:
        return (uuid.UUID(job_id), int(attempt)) if sep else None
    except ValueError:
        return None


def build(job: ExportJob, *, attempt: int, chunk_size: int | None = None) -> Built:
    """With a read replica configured the tasks are read from it once it has replayed everything
    the primary had when this attempt began (else from the primary; core/dbrouter.py), so the
    file holds every task written before the export ran, whichever server it was read from."""
    if not dbrouter.configured():
        return _build(job, attempt=attempt, chunk_size=chunk_size)
    return dbrouter.run_replica_reads(
        lambda: _build(job, attempt=attempt, chunk_size=chunk_size),
        caught_up_to=dbrouter.primary_lsn(),
        wait=settings.QUORUM_REPLICA_CATCH_UP_SECONDS,
    )


def _build(job: ExportJob, *, attempt: int, chunk_size: int | None) -> Built:
    writer = FORMATS[job.format]
    ctx = source.ExportContext(
        project_params=job.project.params or {}, task_type=job.project.task_type, options=job.options or {},
        anon_salt=job.anon_salt,
    )  # fmt: skip
    chunks = source.task_chunks(
        queryset=source.task_queryset(job),
        chunk_size=chunk_size or settings.QUORUM_EXPORT_CHUNK_SIZE,
        include_answers=ctx.include_answers,
        anon_salt=job.anon_salt,
        raw_json=getattr(writer, "RAW_JSON", False),
    )
    workdir = workdir_for(job.id, attempt)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    try:
        path = workdir / f"export.{writer.EXTENSION}"
        with open(path, "wb") as out:
            count = writer.write(ctx, source.iter_tasks(chunks), out, workdir)
        size = path.stat().st_size
        with open(path, "rb") as content:
            name = storage.save(storage_name(job, attempt), content)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Built(
        file_name=name, file_size=size, content_type=writer.CONTENT_TYPE, task_count=count, report=ctx.report
    )
