"""Writes for projects, batches, tasks and annotator work. Keyword-only, typed, atomic. The task
lifecycle's writes (claim, submit, completion, review, rework, cancel) live in ``annotation.lifecycle``
and are re-exported here under their service names.

Interfaces (API views, commands, Celery tasks) parse input, call one of these, and render.
The package re-exports every public service, so callers write ``services.task_bulk_create``.
"""

from annotation.lifecycle.complete import cancel as task_cancel
from annotation.lifecycle.complete import simulate_complete as task_simulate_complete
from annotation.lifecycle.complete import try_complete as task_try_complete
from annotation.lifecycle.notify import (
    after_sql_completion,
    after_sql_completions,
    batch_try_complete,
    batches_complete_ready,
)
from annotation.lifecycle.notify import relay_events as events_relay
from annotation.services.consensus import project_consensus_recompute
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
    export_heartbeat,
    export_run,
    exports_clean_workdirs,
    exports_relay,
)
from annotation.services.projects import (
    PROJECT_EDITABLE,
    batch_create,
    batch_finalize,
    batch_set_metadata,
    project_create,
    project_prices,
    project_set_params,
    project_set_status,
    project_update,
)
from annotation.services.review import review_answers, review_decide, review_next
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
from annotation.services.task_errors import (
    attachment_check,
    attachment_checks_schedule,
    task_error,
    task_platform_cancel,
)
from annotation.services.tasks import (
    BulkItemResult,
    task_bulk_check,
    task_bulk_create,
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
from annotation.services.workforce import (
    annotator_apply,
    annotator_set_status,
    qualification_attempt_answer,
    qualification_attempt_start,
    qualification_create,
    qualification_grant,
    qualification_revoke,
    worker_remove,
    worker_restore,
)

__all__ = [
    "annotator_apply",
    "annotator_set_status",
    "project_consensus_recompute",
    "qualification_attempt_answer",
    "qualification_attempt_start",
    "qualification_create",
    "qualification_grant",
    "qualification_revoke",
    "review_answers",
    "review_decide",
    "review_next",
    "worker_remove",
    "worker_restore",
    "ExportCreated",
    "StoredAttachment",
    "attachment_upload",
    "check_export_request",
    "export_claim",
    "export_create",
    "export_download_name",
    "export_fail",
    "export_finish",
    "export_heartbeat",
    "export_run",
    "exports_clean_workdirs",
    "exports_relay",
    "events_relay",
    "after_sql_completion",
    "after_sql_completions",
    "batch_try_complete",
    "batches_complete_ready",
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
    "project_prices",
    "project_set_params",
    "project_set_status",
    "project_update",
    "attachment_check",
    "attachment_checks_schedule",
    "task_error",
    "task_platform_cancel",
    "task_add_tags",
    "task_audit",
    "task_bulk_check",
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
