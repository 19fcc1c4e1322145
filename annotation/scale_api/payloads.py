"""Scale-shaped objects: task (docs/scale-compatibility.md §6), batch (§5.4) and project (§5.5).

The task object is the native one (``annotation.payloads.task_payload``, already Scale's field
names) with Scale's omissions: no ``tags`` key when there are none, no ``unique_id`` when unset,
no ``response`` / ``completed_at`` before completion; plus ``audits`` and, once a completion
callback was attempted, ``callback_succeeded``.
"""

from __future__ import annotations

from collections.abc import Sequence

from annotation import selectors
from annotation.models import Batch, Project, ProjectParamVersion, Task
from annotation.payloads import audit_payload, iso, task_payload

LIMITED_FIELDS = ("task_id", "status", "metadata", "project")


def task_docs(tasks: Sequence[Task], *, limited: bool = False) -> list[dict]:
    """Task objects for a page of tasks: two queries in all (audits, callback outcomes)."""
    if limited:
        return [{k: v for k, v in task_payload(t).items() if k in LIMITED_FIELDS} for t in tasks]
    ids = [t.id for t in tasks]
    audits = selectors.task_audits_by_task(task_ids=ids) if ids else {}
    outcomes = selectors.task_callback_outcomes(task_ids=ids) if ids else {}
    docs = []
    for task in tasks:
        body = task_payload(task)
        if not body["tags"]:
            del body["tags"]
        for key in ("response", "completed_at", "confidence"):
            if body[key] is None:
                del body[key]
        body["audits"] = [audit_payload(a) for a in audits.get(task.id, [])]
        if task.id in outcomes:
            body["callback_succeeded"] = outcomes[task.id]
        docs.append(body)
    return docs


def task_doc(task: Task) -> dict:
    return task_docs([task])[0]


def batch_doc(batch: Batch) -> dict:
    return {
        "id": str(batch.id),
        "name": batch.name,
        "project": batch.project.name,
        "status": batch.status,
        "callback": batch.callback_url,
        "metadata": batch.metadata,
        "created_at": iso(batch.created_at),
        "finalized_at": iso(batch.finalized_at),
    }


def _param_entry(*, params: dict, instructions: str, version: int, created_at) -> dict:
    return {**params, "instruction": instructions, "version": version, "created_at": iso(created_at)}


def project_doc(project: Project, versions: list[ProjectParamVersion] | None = None) -> dict:
    """``param_history``: one entry per version, oldest first. A project older than version
    tracking shows its current params as version 0."""
    if versions is None:
        versions = selectors.project_param_versions(project=project)
    history = [
        _param_entry(params=v.params, instructions=v.instructions, version=v.version, created_at=v.created_at)
        for v in versions
    ] or [
        _param_entry(
            params=project.params, instructions=project.instructions, version=0, created_at=project.created_at
        )
    ]
    return {
        "id": str(project.id),
        "name": project.name,
        "type": project.task_type,
        "status": project.status,
        "params": project.params,
        "instruction": project.instructions,
        "param_history": history,
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
    }


def template_doc(project: Project) -> dict:
    """A project's task template: its current params version, whose params are the variables
    every task of the project starts from."""
    latest = project_doc(project)["param_history"][-1]
    variables = {k: v for k, v in latest.items() if k not in ("version", "created_at")}
    return {
        "id": f"{project.id}:{latest['version']}",
        "version": latest["version"],
        "created_at": latest["created_at"],
        "updated_at": iso(project.updated_at),
        "template_variables": variables,
        "auto_onboard_enabled": False,
    }
