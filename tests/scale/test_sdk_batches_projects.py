"""The real ``scaleapi`` SDK against ``/v1/``: batches (§5.4) and projects (§5.5)."""

from __future__ import annotations

import pytest
import scaleapi
from scaleapi.batches import BatchStatus
from scaleapi.exceptions import (
    ScaleDuplicateResource,
    ScaleInvalidRequest,
    ScaleNotEnabled,
    ScaleResourceNotFound,
)

from annotation import services as annotation_services
from annotation.models import Batch, Project, ProjectParamVersion, Task
from tests.scale.conftest import CATEGORIES, categorization_project, categorization_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_batch_create_get_finalize_status_and_metadata(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)

    batch = scale.create_batch("Colours", "batch 1", metadata={"week": 48})
    assert (batch.name, batch.project, batch.status, batch.metadata) == (
        "batch 1",
        "Colours",
        "staging",
        {"week": 48},
    )
    first, second = (
        categorization_task(scale, batch="batch 1"),
        categorization_task(scale, batch="batch 1", project=None),
    )
    assert Task.objects.get(pk=first.id).released is False  # staging: not served yet
    scale.cancel_task(second.id)

    fetched = scale.get_batch("batch 1")
    assert (fetched.name, fetched.status, fetched.created_at) == ("batch 1", "staging", batch.created_at)
    assert fetched.finalize().status == "in_progress"
    assert scale.finalize_batch("batch 1").status == "in_progress"  # twice: a no-op, still 200
    assert Task.objects.get(pk=first.id).released is True

    status = fetched.get_status()
    assert status == {"status": "in_progress", "pending": 1, "completed": 0, "canceled": 1, "error": 0}
    assert (fetched.tasks_pending, fetched.tasks_canceled, fetched.tasks_completed) == (1, 1, 0)

    assert scale.set_batch_metadata("batch 1", {"week": 49, "note": "redo"}).metadata == {
        "week": 49,
        "note": "redo",
    }
    assert scale.set_batch_metadata("batch 1", {}).metadata == {}
    assert Batch.objects.get(name="batch 1").metadata == {}


def test_get_batches_pages_to_the_end(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    colours = Project.objects.get(name="Colours")
    for i in range(130):
        annotation_services.batch_create(
            client=tenant_a.client, actor=None, project=colours, name=f"b{i:03d}"
        )
    scale.finalize_batch("b007")

    batches = list(scale.get_batches(project_name="Colours"))
    assert sorted(b.name for b in batches) == [f"b{i:03d}" for i in range(130)]
    first = scale.batches(project="Colours")
    assert (first.total, first.limit, first.offset, first.has_more, len(first.docs)) == (
        130,
        100,
        0,
        True,
        100,
    )
    rest = scale.batches(project="Colours", offset=100, limit=100)
    assert (rest.offset, rest.has_more, len(rest.docs)) == (100, False, 30)
    assert [
        b.name for b in scale.get_batches(project_name="Colours", batch_status=BatchStatus.InProgress)
    ] == ["b007"]
    assert len(list(scale.get_batches(project_name="Colours", exclude_archived=True))) == 130
    assert list(scale.get_batches(project_name="Colours", created_after="2999-01-01")) == []


def test_batch_errors(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    scale.create_batch("Colours", "once")

    with pytest.raises(ScaleDuplicateResource):
        scale.create_batch("Colours", "once")
    with pytest.raises(ScaleInvalidRequest) as slash:
        scale.create_batch("Colours", "a/b")
    assert "/" in slash.value.message
    with pytest.raises(ScaleResourceNotFound):
        scale.create_batch("No such project", "other")
    with pytest.raises(ScaleInvalidRequest):
        scale.create_batch("Colours", "calib", calibration_batch=True)
    with pytest.raises(ScaleResourceNotFound):
        scale.get_batch("missing")
    with pytest.raises(ScaleResourceNotFound):
        scale.finalize_batch("missing")
    with pytest.raises(ScaleResourceNotFound):
        scale.batch_status("missing")
    assert list(Batch.objects.values_list("name", flat=True)) == ["once"]


def test_project_create_get_list_update_and_template(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)

    project = categorization_project(scale)
    assert (project.name, project.type, project.version, project.instruction) == (
        "Colours",
        "categorization",
        0,
        "Pick the colour.",
    )
    assert project.params["categories"] == CATEGORIES
    scale.create_project("Streets", scaleapi.TaskType.ImageAnnotation)  # params=None is sent as null

    assert scale.get_project("Colours").as_dict()["param_history"] == project.as_dict()["param_history"]
    assert [p.name for p in scale.get_projects()] == ["Colours", "Streets"]
    assert [p.name for p in scale.projects()] == ["Colours", "Streets"]

    patched = scale.update_project(
        "Colours", patch=True, instruction="Pick the main colour.", allow_multiple=True
    )
    assert (patched.version, patched.instruction) == (1, "Pick the main colour.")
    assert patched.params["categories"] == CATEGORIES and patched.params["allow_multiple"] is True
    replaced = scale.update_project("Colours", categories=["cyan", "magenta"])
    assert replaced.version == 2
    assert "allow_multiple" not in replaced.params and replaced.params["categories"] == ["cyan", "magenta"]
    assert replaced.instruction == "Pick the main colour."  # instructions unchanged when not sent
    nested = scale.update_project(
        "Colours", params={"categories": ["cyan", "magenta"]}
    )  # a nested params object
    assert nested.version == 3 and "params" not in nested.params
    history = scale.get_project("Colours").as_dict()["param_history"]
    assert [h["version"] for h in history] == [0, 1, 2, 3]
    # new tasks start from the latest params
    assert categorization_task(scale, attachment="sky").params["categories"] == ["cyan", "magenta"]

    template = scale.get_project_template("Colours")
    assert template.version == 3
    assert template.template_variables["categories"] == ["cyan", "magenta"]
    assert project.get_template().id == template.id


def test_project_errors_change_nothing(tenant_a, sdk):
    scale = sdk(tenant_a.live_key)
    categorization_project(scale)
    versions = ProjectParamVersion.objects.count()

    with pytest.raises(ScaleDuplicateResource):
        categorization_project(scale)
    with pytest.raises(ScaleInvalidRequest):
        scale.create_project("a/b", scaleapi.TaskType.Categorization)
    with pytest.raises(ScaleNotEnabled) as not_enabled:
        scale.create_project("Segments", scaleapi.TaskType.SegmentAnnotation)
    assert "categorization" in not_enabled.value.message
    with pytest.raises(ScaleInvalidRequest) as bad_params:
        scale.update_project("Colours", categories="not a list")
    assert "categories" in bad_params.value.message
    with pytest.raises(ScaleResourceNotFound):
        scale.get_project("missing")
    with pytest.raises(ScaleResourceNotFound):
        scale.update_project("missing", patch=True)
    with pytest.raises(ScaleResourceNotFound):
        scale.get_project_template("missing")
    assert list(Project.objects.values_list("name", flat=True)) == ["Colours"]
    assert ProjectParamVersion.objects.count() == versions
    assert Project.objects.get().params == {"categories": CATEGORIES}
