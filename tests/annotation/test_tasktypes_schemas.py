"""Every task type's params, answers, consensus, gold score and simulated answer (no database)."""

import pytest

from annotation import tasktypes
from core.errors import ValidationFailed
from tests.annotation.tasktype_cases import CASES, IMAGE, LIDAR, NER, PAIRWISE, RANKING, TEXT, VIDEO

INVALID = [
    pytest.param(case, answer, field, id=f"{case.id}-{field}-{k}")
    for case in CASES
    for k, (answer, field) in enumerate(case.invalid)
]


def test_every_type_is_supported():
    assert tasktypes.supported_types() == sorted(
        [
            "categorization",
            "comparison",
            "imageannotation",
            "lidarannotation",
            "namedentityrecognition",
            "textcollection",
            "videoannotation",
        ]
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_worked_case_is_valid_and_gives_its_consensus(case):
    tasktypes.check_project_params(case.task_type, case.project_params)
    tasktypes.check_params(case.task_type, case.params)
    for answer in case.answers:
        tasktypes.check_answer(case.task_type, case.params, answer)
    result = tasktypes.aggregate(case.task_type, case.params, case.answers)
    assert result.response == case.response
    assert result.confidence == pytest.approx(case.confidence)


@pytest.mark.parametrize(("case", "answer", "field"), INVALID)
def test_invalid_answer_is_refused_naming_the_field(case, answer, field):
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_answer(case.task_type, case.params, answer)
    assert err.value.code == "invalid_answer"
    assert err.value.details == {"field": field}
    assert err.value.message.startswith(f"{field}: ")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_an_answer_scores_1_against_itself_as_gold(case):
    for answer in case.answers:
        assert tasktypes.score_gold(case.task_type, case.params, answer, answer) == 1.0


@pytest.mark.parametrize(
    ("case", "answer", "gold", "score"),
    [
        # image: the car box matches (IoU 96/104 ≥ 0.5); of two lanes one is missing → F1 2/3; mean over 2
        # groups
        (IMAGE, IMAGE.answers[2], IMAGE.answers[0], (1 + 1 + 0) / 3),
        (IMAGE, {"annotations": []}, {"annotations": []}, 1.0),
        (LIDAR, LIDAR.answers[1], LIDAR.answers[0], (1.0 + 0.0) / 2),
        (
            VIDEO,
            {
                "annotations": [
                    {
                        "track_id": "x",
                        "label": "car",
                        "frames": VIDEO.answers[0]["annotations"][0]["frames"][:2],
                    }
                ]
            },
            VIDEO.answers[0],
            2 * (2 / 3) / 2,
        ),  # right on 2 of 3 frames: soft F1 = 2·(2/3)/(1+1)
        (
            VIDEO,
            {
                "annotations": [
                    {
                        "track_id": "x",
                        "label": "car",
                        "frames": VIDEO.answers[0]["annotations"][0]["frames"][:1],
                    }
                ]
            },
            VIDEO.answers[0],
            0.0,
        ),  # right on 1 of 3 frames: below the 0.5 match threshold, a miss and an extra
        (PAIRWISE, PAIRWISE.answers[2], PAIRWISE.answers[0], 0.0),
        (RANKING, {"ranking": ["c", "b", "a"]}, {"ranking": ["a", "b", "c"]}, 0.0),
        (RANKING, {"ranking": ["b", "a", "c"]}, {"ranking": ["a", "b", "c"]}, 2 / 3),
        (NER, NER.answers[2], NER.answers[0], 2 * 1 / (2 + 3)),
        # quality |4−5|/4 off, topic wrong, tags Jaccard 0, words right, text not scored
        (TEXT, TEXT.answers[2], TEXT.answers[0], (0.75 + 0 + 0 + 1) / 4),
    ],
)
def test_gold_scores(case, answer, gold, score):
    assert tasktypes.score_gold(case.task_type, case.params, answer, gold) == pytest.approx(score)


def test_free_text_only_forms_are_not_scored():
    params = {"fields": [{"field_id": "rewrite", "type": "text", "title": "Rewrite"}]}
    answer = {"annotations": {"rewrite": "Shorter."}}
    assert tasktypes.score_gold("textcollection", params, answer, answer) is None


def test_free_text_goes_to_review_with_every_answer():
    answers = [
        {"annotations": {"quality": 4, "topic": ["sport"], "rewrite": "A"}},
        {"annotations": {"quality": 4, "topic": ["sport"], "rewrite": "B"}},
    ]
    result = tasktypes.aggregate("textcollection", TEXT.params, answers)
    assert result.confidence is None
    assert result.response == {"annotations": {"quality": 4, "topic": ["sport"]}, "answers": answers}


@pytest.mark.parametrize(
    "params",
    [
        *[case.params for case in CASES],
        {
            **IMAGE.params,
            "attachment_width": 4,
            "attachment_height": 3,
            "geometries": {
                kind: {"objects_to_annotate": ["x"]}
                for kind in ("box", "polygon", "line", "point", "ellipse", "cuboid")
            },
        },
        {
            **IMAGE.params,
            "geometries": {
                "box": {"objects_to_annotate": ["car"], "integer_pixels": True, "min_width": 12.5}
            },
        },
        {
            **IMAGE.params,
            "geometries": {
                "polygon": {"objects_to_annotate": ["lane"], "min_vertices": 7, "min_width": 30},
                "line": {"objects_to_annotate": ["curb"], "min_vertices": 5},
            },
        },
        {"labels": ["car"], "attachment": "https://v.example.test/a.mp4", "frame_count": 1},
        {
            **TEXT.params,
            "fields": [
                {"field_id": "n", "type": "number", "title": "N", "min": 3, "required": True},
                {
                    "field_id": "c",
                    "type": "category",
                    "title": "C",
                    "choices": ["a", "b"],
                    "min_choice": 2,
                    "max_choice": 2,
                    "required": True,
                },
                {"field_id": "t", "type": "text", "title": "T", "max_length": 3, "required": True},
            ],
        },
        {**PAIRWISE.params, "likert_scale": 2, "require_justification": False},
        {"text": "—!", "labels": ["X"]},
    ],
)
def test_the_simulators_answer_is_valid(params):
    task_type = (
        next(
            c.task_type
            for c in CASES
            if set(c.project_params) <= set(params) and set(c.task_params) <= set(params)
        )
        if "frame_count" not in params
        else "videoannotation"
    )
    answer = tasktypes.example_answer(task_type, params)
    tasktypes.check_answer(task_type, params, answer)
    assert tasktypes.score_gold(task_type, params, answer, answer) in (1.0, None)


@pytest.mark.parametrize(
    ("task_type", "params", "field"),
    [
        (
            "imageannotation",
            {**IMAGE.params, "geometries": {"box": {"objects_to_annotate": ["car"], "min_width": -1}}},
            "params.geometries.box.min_width",
        ),
        (
            "imageannotation",
            {**IMAGE.params, "geometries": {"box": {"objects_to_annotate": ["car"], "rotate": True}}},
            "params.geometries.box.rotate",
        ),
        (
            "imageannotation",
            {
                **IMAGE.params,
                "geometries": {
                    "point": {"objects_to_annotate": ["head"], "connections": [{"pair": ["head", "tail"]}]}
                },
            },
            "params.geometries.point.connections[0].pair[1]",
        ),
        (
            "imageannotation",
            {**IMAGE.params, "geometries": {"polygon": {"objects_to_annotate": ["a"], "min_vertices": 2}}},
            "params.geometries.polygon.min_vertices",
        ),
        (
            "imageannotation",
            {
                **IMAGE.params,
                "geometries": {"line": {"objects_to_annotate": ["a"], "min_vertices": 4, "max_vertices": 3}},
            },
            "params.geometries.line.max_vertices",
        ),
        ("imageannotation", {**IMAGE.params, "attachment_width": 0}, "params.attachment_width"),
        ("imageannotation", {**IMAGE.params, "attachment_height": 4}, "params.geometries.box.min_height"),
        (
            "imageannotation",
            {**IMAGE.params, "annotation_attributes": {"occluded": {"type": "category"}}},
            "params.annotation_attributes.occluded.choices",
        ),
        ("lidarannotation", {**LIDAR.params, "frames": []}, "params.frames"),
        ("lidarannotation", {**LIDAR.params, "frames": [{"timestamp": 1}]}, "params.frames[0].url"),
        ("lidarannotation", {"frames": LIDAR.params["frames"]}, "params.labels"),
        ("videoannotation", {"labels": ["car"]}, "params.frames"),
        ("videoannotation", {**VIDEO.params, "frame_count": 9}, "params.frame_count"),
        ("videoannotation", {**VIDEO.params, "labels": []}, "params.labels"),
        (
            "comparison",
            {**PAIRWISE.params, "responses": [*PAIRWISE.params["responses"], {"id": "r3", "text": ""}]},
            "params.responses",
        ),
        (
            "comparison",
            {**RANKING.params, "responses": [{"id": "a", "text": ""}, {"id": "a", "text": ""}]},
            "params.responses[1]",
        ),
        ("comparison", {**RANKING.params, "mode": "best-of"}, "params.mode"),
        ("comparison", {**PAIRWISE.params, "likert_scale": 1}, "params.likert_scale"),
        (
            "comparison",
            {**RANKING.params, "responses": [{"id": "a"}, {"id": "b", "text": ""}]},
            "params.responses[0].text",
        ),
        (
            "textcollection",
            {"fields": [*TEXT.params["fields"], TEXT.params["fields"][0]]},
            "params.fields[5]",
        ),
        (
            "textcollection",
            {"fields": [{"field_id": "c", "type": "category", "title": "C"}]},
            "params.fields[0].choices",
        ),
        (
            "textcollection",
            {
                "fields": [
                    {"field_id": "c", "type": "category", "title": "C", "choices": ["a"], "max_choice": 2}
                ]
            },
            "params.fields[0].max_choice",
        ),
        (
            "textcollection",
            {"fields": [{"field_id": "d", "type": "date", "title": "D"}]},
            "params.fields[0].type",
        ),
        (
            "textcollection",
            {
                "fields": [
                    {
                        "field_id": "r",
                        "type": "rating",
                        "title": "R",
                        "scale": 3,
                        "rubric": [{"score": 4, "description": "x"}],
                    }
                ]
            },
            "params.fields[0].rubric[0].score",
        ),
        ("textcollection", {"fields": []}, "params.fields"),
        ("namedentityrecognition", {**NER.params, "text": ""}, "params.text"),
        ("namedentityrecognition", {**NER.params, "labels": ["A", "A"]}, "params.labels"),
    ],
)
def test_invalid_params_are_refused_naming_the_field(task_type, params, field):
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_params(task_type, params)
    assert err.value.code == "invalid_params"
    assert err.value.details == {"field": field}
    assert err.value.message.startswith(f"{field}: ")


def test_project_params_are_partial_but_what_they_set_is_checked():
    tasktypes.check_project_params("comparison", {"mode": "pairwise"})
    tasktypes.check_project_params("videoannotation", {"labels": ["car"]})
    tasktypes.check_project_params("lidarannotation", {"labels": ["car"]})
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_project_params(
            "comparison", {"mode": "pairwise", "responses": RANKING.params["responses"]}
        )
    assert err.value.details == {"field": "params.responses"}
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_project_params(
            "textcollection", {"fields": [{"field_id": "x", "type": "rating", "title": "X", "scale": 1}]}
        )
    assert err.value.details == {"field": "params.fields[0].scale"}


def test_rotation_only_where_the_box_may_rotate():
    params = {**IMAGE.params, "geometries": {"box": {"objects_to_annotate": ["car"]}}}
    rotated = {
        "type": "box",
        "label": "car",
        "left": 10,
        "top": 10,
        "width": 20,
        "height": 10,
        "rotation": 0.5,
    }
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_answer("imageannotation", params, {"annotations": [rotated]})
    assert err.value.details == {"field": "annotations[0].rotation"}
    tasktypes.check_answer("imageannotation", IMAGE.params, {"annotations": [rotated]})


def test_subchoices_and_conditional_attributes():
    params = {
        **IMAGE.params,
        "annotation_attributes": {
            "pose": {
                "type": "category",
                "choices": ["standing", "sitting"],
                "conditions": {"label_condition": {"label": "person"}},
            }
        },
    }
    box = {"type": "box", "label": "child", "left": 1, "top": 1, "width": 20, "height": 40}
    tasktypes.check_answer("imageannotation", params, {"annotations": [box]})
    tasktypes.check_answer(
        "imageannotation",
        params,
        {"annotations": [box | {"label": "person", "attributes": {"pose": "sitting"}}]},
    )
    with pytest.raises(ValidationFailed) as err:
        tasktypes.check_answer(
            "imageannotation",
            params,
            {"annotations": [box | {"label": "car", "attributes": {"pose": "sitting"}}]},
        )
    assert err.value.details == {"field": "annotations[0].attributes.pose"}


def test_overlapping_spans_pass_when_allowed():
    spans = {
        "annotations": [
            {"start": 0, "end": 12, "label": "PERSON"},
            {"start": 4, "end": 12, "label": "PERSON"},
        ]
    }
    tasktypes.check_answer("namedentityrecognition", {**NER.params, "allow_overlap": True}, spans)
