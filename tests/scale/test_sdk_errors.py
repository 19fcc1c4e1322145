"""A task the platform cannot serve is in ``error`` through ``/v1/``, in Scale's shape: the SDK
reads ``status == "error"`` and the error object in ``response``; lists filter on it and batch
status counts it."""

from __future__ import annotations

import pytest
import scaleapi

from annotation import services
from tests.clients.receiver import Receiver, Reply
from tests.scale.conftest import BOX_GEOMETRIES

pytestmark = pytest.mark.django_db(transaction=True)


def test_error_tasks_through_the_sdk(tenant_a, sdk, raw, recorded_wakeups):
    scale = sdk(tenant_a.live_key)
    scale.create_project("Streets", scaleapi.TaskType.ImageAnnotation, params={"geometries": BOX_GEOMETRIES})
    scale.create_batch("Streets", "night")
    with Receiver(default=Reply(status=404)) as source:
        broken = scale.create_task(
            scaleapi.TaskType.ImageAnnotation, batch="night", attachment=source.url + "missing.jpg"
        )
        # Creation queued the attachment check (recorded here); the worker would run this:
        assert ("check", [broken.id]) in recorded_wakeups
        assert services.attachment_check(task_id=broken.id).outcome == "error"
    canceled = scale.create_task(
        scaleapi.TaskType.ImageAnnotation, batch="night", attachment=source.url + "b.jpg"
    )
    services.task_platform_cancel(task_id=canceled.id, actor=None, reason="the source was withdrawn")

    task = scale.get_task(broken.id)
    assert task.status == "error"
    assert task.response == {
        "error": "One or more attachments could not be downloaded.",
        "attachments": [{"url": source.url + "missing.jpg", "statusCode": 404}],
    }
    assert not hasattr(task, "completed_at")
    assert scale.get_task(canceled.id).response == {
        "error": "The task was canceled by the platform: the source was withdrawn"
    }
    listed = raw("GET", "tasks?project=Streets&status=error", key=tenant_a.live_key).json()
    assert sorted(t["task_id"] for t in listed["docs"]) == sorted([broken.id, canceled.id])
    assert scale.batch_status("night")["error"] == 2
