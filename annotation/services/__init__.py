"""Writes for projects, batches, tasks and annotator work. Keyword-only, typed, atomic.

Interfaces (API views, commands, Celery tasks) parse input, call one of these, and render.
The package re-exports every public service, so callers write ``services.task_bulk_create``.
"""

from annotation.services.exports import (
    ExportCreated,
    StoredAttachment,
    attachment_upload,
    check_export_request,
    export_claim,
    export_create,
    export_download_name,
    export_fail,
    export_finish,
    export_run,
    exports_relay,
)
from annotation.services.projects import (
    PROJECT_EDITABLE,
    batch_create,
    batch_finalize,
    batch_set_metadata,
    project_create,
    project_set_params,
    project_set_status,
    project_update,
)
from annotation.services.task_edits import (
    task_add_tags,
    task_audit,
    task_callback_body,
    task_clear_unique_id,
    task_remove_tags,
    task_set_metadata,
    task_set_tags,
    task_set_unique_id,
)
from annotation.services.tasks import (
    MAX_CALLBACK_HOSTS_PER_REQUEST,
    BulkItemResult,
    task_bulk_create,
    task_cancel,
    task_simulate_complete,
    task_try_complete,
)
from annotation.services.work import (
    annotator_create,
    assignment_claim,
    assignment_heartbeat,
    assignment_release,
    assignment_skip,
    assignment_submit,
    leases_expire,
)

__all__ = [
    "ExportCreated",
    "StoredAttachment",
    "attachment_upload",
    "check_export_request",
    "export_claim",
    "export_create",
    "export_download_name",
    "export_fail",
    "export_finish",
    "export_run",
    "exports_relay",
    "MAX_CALLBACK_HOSTS_PER_REQUEST",
    "PROJECT_EDITABLE",
    "BulkItemResult",
    "annotator_create",
    "assignment_claim",
    "assignment_heartbeat",
    "assignment_release",
    "assignment_skip",
    "assignment_submit",
    "batch_create",
    "batch_finalize",
    "batch_set_metadata",
    "leases_expire",
    "project_create",
    "project_set_params",
    "project_set_status",
    "project_update",
    "task_add_tags",
    "task_audit",
    "task_bulk_create",
    "task_callback_body",
    "task_cancel",
    "task_clear_unique_id",
    "task_remove_tags",
    "task_set_metadata",
    "task_set_tags",
    "task_set_unique_id",
    "task_simulate_complete",
    "task_try_complete",
]
