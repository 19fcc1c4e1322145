"""Exports: a project's tasks written to a file in constant memory, by a Celery worker.

One module per format (``coco``, ``yolo``, ``jsonl``, ``preference``, ``csvfile``), each with
``EXTENSION``, ``CONTENT_TYPE``, ``SUPPORTED_TYPES`` (None: every task type) and
``write(ctx, tasks, out, workdir) -> task count``, where ``tasks`` is an iterator of task dicts
(``source.TASK_FIELDS``), ``out`` a binary file and ``workdir`` a private temporary directory for
spill files. ``source`` reads the tasks in keyset chunks; ``runner`` builds one job's file and
stores it. The job's lifecycle (queued → running → ready | failed) is in
``annotation.services.exports``.
"""

from annotation.exports import coco, csvfile, jsonl, preference, yolo

FORMATS = {
    "coco": coco,
    "yolo": yolo,
    "jsonl": jsonl,
    "preference_jsonl": preference,
    "csv": csvfile,
}
