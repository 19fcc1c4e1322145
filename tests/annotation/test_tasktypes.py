"""Schemas of params and answers per task type (no database)."""

import pytest

from annotation import tasktypes
from core.errors import ValidationFailed

CAT = {"attachment": "Is the light red?", "attachment_type": "text", "categories": ["red", "green"]}
BOX = {
    "attachment": "https://images.example.test/frame-001.jpg",
    "geometries": {
        "box": {"objects_to_annotate": ["car", {"choice": "pedestrian"}], "min_width": 5, "min_height": 5}
    },
}


def box(**overrides):
    return {"type": "box", "label": "car", "left": 1, "top": 2, "width": 10, "height": 20} | overrides


def test_valid_params_pass():
    tasktypes.check_params("categorization", CAT)
    tasktypes.check_params("imageannotation", BOX)


@pytest.mark.parametrize(
    ("task_type", "params", "field"),
    [
        ("categorization", {**CAT, "categories": ["only-one"]}, "params.categories"),
        ("categorization", {k: v for k, v in CAT.items() if k != "attachment"}, "params.attachment"),
        ("categorization", {**CAT, "allow_multiple": "yes"}, "params.allow_multiple"),
        ("imageannotation", {**BOX, "attachment": "ftp://x"}, "params.attachment"),
        (
            "imageannotation",
            {**BOX, "geometries": {"hexagon": {"objects_to_annotate": ["car"]}}},
            "params.geometries.hexagon",
        ),
        (
            "imageannotation",
            {**BOX, "geometries": {"box": {"objects_to_annotate": []}}},
            "params.geometries.box.objects_to_annotate",
        ),
    ],
)
def test_invalid_params_name_the_field(task_type, params, field):
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_params(task_type, params)
    assert err.value.code == "invalid_params"
    assert err.value.details["field"] == field
    assert err.value.message.startswith(field)


def test_unsupported_type_lists_the_supported_ones():
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_params("pointcloudsegmentation", {})
    assert err.value.code == "unsupported_task_type"
    assert ", ".join(tasktypes.supported_types()) in err.value.message


@pytest.mark.parametrize(
    ("params", "answer", "field"),
    [
        (CAT, {"category": "blue"}, "category"),
        (CAT, {"category": ["red"]}, "category"),
        (CAT, {}, "category"),
        (CAT, {"category": "red", "extra": 1}, "extra"),
        ({**CAT, "allow_multiple": True}, {"category": []}, "category"),
        ({**CAT, "allow_multiple": True}, {"category": ["red", "red"]}, "category"),
        (BOX, {"annotations": [box(label="truck")]}, "annotations[0].label"),
        (BOX, {"annotations": [box(width=-1)]}, "annotations[0].width"),
        (BOX, {"annotations": [box(), box(width=3)]}, "annotations[1]"),
        (BOX, {"annotations": [box(type="polygon")]}, "annotations[0].type"),
        (BOX, {"boxes": []}, "annotations"),
    ],
)
def test_invalid_answers_are_refused_with_the_field(params, answer, field):
    task_type = "imageannotation" if "geometries" in params else "categorization"
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_answer(task_type, params, answer)
    assert err.value.code == "invalid_answer"
    assert err.value.details["field"] == field


def test_valid_answers_pass():
    tasktypes.check_answer("categorization", CAT, {"category": "green"})
    tasktypes.check_answer("categorization", {**CAT, "allow_multiple": True}, {"category": ["green", "red"]})
    tasktypes.check_answer("imageannotation", BOX, {"annotations": [box(), box(label="pedestrian")]})
    tasktypes.check_answer("imageannotation", BOX, {"annotations": []})


@pytest.mark.parametrize("params", [CAT, {**CAT, "allow_multiple": True}, BOX])
def test_example_answer_is_schema_valid(params):
    task_type = "imageannotation" if "geometries" in params else "categorization"
    tasktypes.check_answer(task_type, params, tasktypes.example_answer(task_type, params))


def test_project_params_are_a_partial_schema_but_still_checked():
    tasktypes.check_project_params("imageannotation", {"geometries": BOX["geometries"]})
    with pytest.raises(ValidationFailed):
        tasktypes.check_project_params("categorization", {"categories": "car"})
