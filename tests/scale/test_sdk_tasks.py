"""The real ``scaleapi`` SDK against ``/v1/``: every task method of docs/scale-compatibility.md §5.1–§5.3."""

from __future__ import annotations

import pytest
import scaleapi
from scaleapi.exceptions import (
    ScaleDuplicateResource,
    ScaleInvalidRequest,
    ScaleNotEnabled,
    ScaleResourceNotFound,
    ScaleUnauthorized,
)

from annotation import services as annotation_services
from annotation.lifecycle import complete as lifecycle_complete
from annotation.models import Project, Task, TaskAudit
from core.models import Event
from tests.scale.conftest import (
    BOX_GEOMETRIES,
    CATEGORIES,
    IMAGE_URL,
    categorization_project,
    categorization_task,
)

pytestmark = pytest.mark.django_db(transaction=True)


def complete(task_id: str, category: str = "red") -> None:
    """Complete a live task as consensus would (the annotator loop itself is in test_sdk_work_loop)."""
    task = Task.objects.get(pk=task_id)
    lifecycle_complete.complete(
        task, response={"category": category}, confidence=1.0, now=task.updated_at, actor=None
    )


def test_create_and_get_tasks_of_each_supported_type(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    scale.create_project("Streets", scaleapi.TaskType.ImageAnnotation, params={"geometries": BOX_GEOMETRIES})

    task = categorization_task(
        scale, metadata={"frame": 7}, unique_id="tomato-1", instruction="Which colour?"
    )
    image = scale.create_task(
        scaleapi.TaskType.ImageAnnotation, project="Streets", attachment=IMAGE_URL, tags=["night"]
    )

    fetched = scale.get_task(task.id)
    assert fetched.id == task.id
    assert fetched.type == "categorization"
    assert fetched.status == "pending"
    assert fetched.project == "Colours"
    assert fetched.instruction == "Which colour?"
    assert fetched.params == {
        "attachment": "A ripe tomato",
        "attachment_type": "text",
        "categories": CATEGORIES,
    }
    assert fetched.metadata == {"frame": 7}
    assert fetched.unique_id == "tomato-1"
    assert fetched.audits == []
    assert not hasattr(fetched, "tags")  # Scale omits empty tags
    assert not hasattr(fetched, "response")  # and the response before completion
    assert fetched.created_at.endswith("Z")
    image_fetched = scale.get_task(image.id)
    assert image_fetched.params == {"attachment": IMAGE_URL, "geometries": BOX_GEOMETRIES}
    assert image_fetched.tags == ["night"]
    assert image_fetched.type == "imageannotation"


def test_cancel_with_and_without_clearing_the_unique_id(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    kept = categorization_task(scale, unique_id="keep-me")
    cleared = categorization_task(scale, unique_id="clear-me")

    assert scale.cancel_task(kept.id).status == "canceled"
    canceled = scale.cancel_task(cleared.id, clear_unique_id=True)
    assert canceled.status == "canceled"
    assert "unique_id" not in canceled.as_dict()
    assert scale.get_task(kept.id).unique_id == "keep-me"
    # the cleared unique_id names a new task; the kept one is still taken
    assert categorization_task(scale, unique_id="clear-me").id != cleared.id
    with pytest.raises(ScaleDuplicateResource):
        categorization_task(scale, unique_id="keep-me")


def test_cancelling_a_task_that_is_not_pending_is_a_400(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    task = categorization_task(scale)
    complete(task.id)
    with pytest.raises(ScaleInvalidRequest) as excinfo:
        scale.cancel_task(task.id)
    assert excinfo.value.code == 400
    assert "pending" in excinfo.value.message
    assert Task.objects.get(pk=task.id).status == "completed"
    scale.cancel_task(categorization_task(scale).id)
    with pytest.raises(ScaleInvalidRequest):
        scale.cancel_task(task.id)  # canceled twice: 400 too


def test_audit_a_completed_task(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    task = categorization_task(scale)
    with pytest.raises(ScaleInvalidRequest):
        scale.audit_task(task.id, True)  # pending: nothing to audit
    assert TaskAudit.objects.count() == 0
    complete(task.id)

    scale.audit_task(task.id, False, "the tomato is red, not blue")
    reworked = Task.objects.get(pk=task.id)
    assert (reworked.status, reworked.rework_round) == ("pending", 1)  # a rejection sends it back for rework
    assert scale.get_task(task.id).status == "pending"
    complete(task.id)  # the rework round delivers
    scale.get_task(task.id).audit(True)

    audits = scale.get_task(task.id).audits
    assert [a["audit_result"] for a in audits] == ["rejected", "accepted"]
    assert audits[0]["comments"] == "the tomato is red, not blue"
    assert audits[1]["comments"] is None
    assert {a["audit_source"] for a in audits} == {"customer"}
    assert audits[0]["audited_by"].startswith("apikey:")
    assert audits[0]["audited_at"].endswith("Z")
    assert Event.objects.filter(entity_id=task.id, kind="task.audited").count() == 2


def test_unique_id_set_and_clear(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    first, second = categorization_task(scale), categorization_task(scale)

    assert scale.update_task_unique_id(first.id, "uid-1").unique_id == "uid-1"
    with pytest.raises(ScaleDuplicateResource):
        scale.update_task_unique_id(second.id, "uid-1")
    assert Task.objects.get(pk=second.id).unique_id is None
    cleared = scale.clear_task_unique_id(first.id)
    assert "unique_id" not in cleared.as_dict()
    assert scale.update_task_unique_id(second.id, "uid-1").unique_id == "uid-1"


def test_metadata_and_tags(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    task = categorization_task(scale, metadata={"old": True})

    assert scale.set_task_metadata(task.id, {"camera": "front", "n": 3}).metadata == {
        "camera": "front",
        "n": 3,
    }
    assert scale.set_task_metadata(task.id, {}).metadata == {}  # the SDK sends no body for {}
    assert scale.set_task_tags(task.id, ["a", "b"]).tags == ["a", "b"]
    assert scale.add_task_tags(task.id, ["b", "c"]).tags == ["a", "b", "c"]
    assert scale.delete_task_tags(task.id, ["a", "zzz"]).tags == ["b", "c"]
    assert not hasattr(scale.set_task_tags(task.id, []), "tags")
    stored = Task.objects.get(pk=task.id)
    assert (stored.metadata, stored.tags) == ({}, [])


def test_get_tasks_lists_250_tasks_to_the_end_and_counts_them(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    scale.create_project("Other", scaleapi.TaskType.Categorization, params={"categories": CATEGORIES})
    colours = Project.objects.get(name="Colours")
    items = [
        {"params": {"attachment": f"item {i}", "attachment_type": "text"}, "unique_id": f"u{i}"}
        for i in range(250)
    ]
    annotation_services.task_bulk_create(client=tenant_a.client, actor=None, project=colours, items=items)
    categorization_task(scale, project="Other")

    listed = list(scale.get_tasks(project_name="Colours", limit=100))
    assert len(listed) == 250
    assert len({t.id for t in listed}) == 250
    assert {t.unique_id for t in listed} == {f"u{i}" for i in range(250)}
    assert scale.get_tasks_count(project_name="Colours") == 250
    assert scale.get_tasks_count(project_name="Other") == 1
    assert len(list(scale.get_tasks(project_name="Colours"))) == 250  # default page size

    page = scale.tasks(project="Colours", limit=100)
    assert (page.total, page.limit, page.offset, page.has_more, len(page.docs)) == (250, 100, 0, True, 100)
    middle = scale.tasks(project="Colours", limit=100, next_token=page.next_token)
    last = scale.tasks(project="Colours", limit=100, next_token=middle.next_token)
    assert (middle.offset, middle.has_more) == (100, True)
    assert (last.offset, last.has_more, last.next_token, len(last.docs)) == (200, False, None, 50)


def test_the_listing_filters(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    scale.create_batch("Colours", "b1")
    in_batch = categorization_task(scale, batch="b1", tags=["t1"], unique_id="a")
    done = categorization_task(scale, tags=["t2"], unique_id="b")
    other = categorization_task(scale, unique_id="c")
    complete(done.id)
    scale.audit_task(done.id, True)

    def ids(**kwargs):
        return {t.id for t in scale.get_tasks(project_name="Colours", **kwargs)}

    assert ids() == {in_batch.id, done.id, other.id}
    assert {t.id for t in scale.get_tasks(batch_name="b1")} == {in_batch.id}
    assert ids(status=scaleapi.TaskStatus.Completed) == {done.id}
    assert ids(task_type=scaleapi.TaskType.Categorization) == {in_batch.id, done.id, other.id}
    assert ids(task_type=scaleapi.TaskType.ImageAnnotation) == set()
    assert ids(unique_id=["a", "c"]) == {in_batch.id, other.id}
    assert ids(tags=["t1", "t2"]) == {in_batch.id, done.id}
    assert ids(tags="t2") == {done.id}
    assert ids(review_status=scaleapi.TaskReviewStatus.Accepted) == {done.id}
    assert ids(review_status=[scaleapi.TaskReviewStatus.Rejected, scaleapi.TaskReviewStatus.Pending]) == {
        in_batch.id,
        other.id,
    }
    created = Task.objects.get(pk=done.id).created_at
    assert ids(created_after=created.isoformat()) >= {done.id}
    assert done.id not in ids(created_before=created.isoformat())
    assert ids(completed_after="2000-01-01") == {done.id}
    assert ids(completed_before="2000-01-01 00:00:00.000000") == set()
    assert ids(updated_after="2000-01-01T00:00:00Z") == {in_batch.id, done.id, other.id}
    assert ids(updated_before="2000-01-01T00:00:00Z") == set()
    limited = scale.tasks(project="Colours", unique_id="b", limited_response=True).docs[0].as_dict()
    assert set(limited) == {"task_id", "status", "metadata", "project"}


def test_error_mappings(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    categorization_task(scale, unique_id="dup")
    before = Task.objects.count()

    with pytest.raises(ScaleUnauthorized):
        sdk("qk_live_000000000000.not-a-real-secret").get_task("anything")
    with pytest.raises(ScaleResourceNotFound):
        scale.get_task("00000000-0000-0000-0000-000000000000")
    with pytest.raises(ScaleResourceNotFound):
        scale.get_task("not-even-a-uuid")
    with pytest.raises(ScaleDuplicateResource) as dup:
        categorization_task(scale, unique_id="dup")
    assert "dup" in dup.value.message
    with pytest.raises(ScaleNotEnabled) as not_enabled:
        scale.create_task(scaleapi.TaskType.SegmentAnnotation, project="Colours", attachment="x")
    assert "categorization" in not_enabled.value.message and "imageannotation" in not_enabled.value.message
    with pytest.raises(ScaleInvalidRequest) as no_project:
        scale.create_task(scaleapi.TaskType.Categorization, attachment="x")
    assert "project" in no_project.value.message
    with pytest.raises(ScaleInvalidRequest) as bad_params:
        categorization_task(scale, attachment_type="hologram")
    assert bad_params.value.message.startswith("params.attachment_type")
    with pytest.raises(ScaleInvalidRequest):
        scale.create_task(
            scaleapi.TaskType.ImageAnnotation, project="Colours", attachment=IMAGE_URL
        )  # wrong project type
    with pytest.raises(ScaleResourceNotFound):
        categorization_task(scale, project="No such project")
    assert Task.objects.count() == before
