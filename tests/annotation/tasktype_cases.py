"""One worked case per task type, shared by the schema tests and the API round trips: a project's
params, a task's own params, three annotators' answers, the consensus they must give, and
invalid answers with the field each error must name."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    task_type: str
    project_params: dict
    task_params: dict
    answers: list  # one per annotator (overlap = len(answers))
    response: dict  # the expected consensus
    confidence: float | None
    invalid: list = field(default_factory=list)  # (answer, field the 400 names)

    @property
    def params(self) -> dict:
        return {**self.project_params, **self.task_params}

    @property
    def id(self) -> str:
        if "taxonomies" in self.project_params:
            return f"{self.task_type}-taxonomies"
        return (
            self.task_type
            if "mode" not in self.project_params
            else f"{self.task_type}-{self.project_params['mode']}"
        )


def _box(left, **extra):
    return {"type": "box", "label": "car", "left": left, "top": 10, "width": 100, "height": 50} | extra


def _iou_shift(d, w=100):  # IoU of two equal axis-aligned boxes shifted by d along x
    return (w - d) / (w + d)


_POLY = {
    "type": "polygon",
    "label": "lane",
    "vertices": [{"x": 0, "y": 100}, {"x": 40, "y": 100}, {"x": 40, "y": 200}],
}
_POINT = {"type": "point", "label": "head", "x": 300, "y": 40}
_BOX_CONF = (2 * _iou_shift(2) + _iou_shift(4)) / 3  # mean pairwise IoU of boxes at left 10, 12, 14

IMAGE = Case(
    "imageannotation",
    project_params={
        "attachment_width": 640,
        "attachment_height": 480,
        "geometries": {
            "box": {
                "objects_to_annotate": ["car", {"choice": "person", "subchoices": ["adult", "child"]}],
                "min_width": 5,
                "min_height": 5,
                "can_rotate": True,
            },
            "polygon": {"objects_to_annotate": ["lane"], "max_vertices": 6},
            "line": {"objects_to_annotate": ["curb"], "min_vertices": 2},
            "point": {"objects_to_annotate": ["head", "foot"], "connections": [{"pair": ["head", "foot"]}]},
            "ellipse": {"objects_to_annotate": ["wheel"]},
            "cuboid": {"objects_to_annotate": ["truck"]},
        },
        "annotation_attributes": {"occluded": {"type": "category", "choices": ["yes", "no"]}},
    },
    task_params={"attachment": "https://img.example.test/street-1.jpg"},
    answers=[
        {"annotations": [_box(10, attributes={"occluded": "no"}, uuid="a1"), _POLY, _POINT]},
        {"annotations": [_box(12, attributes={"occluded": "no"}), _POLY, _POINT]},
        {"annotations": [_box(14, attributes={"occluded": "yes"}), _POINT]},
    ],
    response={
        "annotations": [
            _box(
                12.0,
                top=10.0,
                width=100.0,
                height=50.0,
                attributes={"occluded": "no"},
                confidence=round(_BOX_CONF, 6),
            ),
            _POLY | {"confidence": round(2 / 3, 6)},
            _POINT | {"x": 300.0, "y": 40.0, "confidence": 1.0},
        ]
    },
    confidence=(_BOX_CONF + 2 / 3 + 1.0) / 3,
    invalid=[
        ({"annotations": [_box(10, label="bus")]}, "annotations[0].label"),
        ({"annotations": [_box(10, width=3)]}, "annotations[0]"),
        ({"annotations": [_box(600)]}, "annotations[0]"),
        ({"annotations": [_box(10, attributes={"colour": "red"})]}, "annotations[0].attributes.colour"),
        ({"annotations": [_POLY | {"vertices": _POLY["vertices"][:2]}]}, "annotations[0].vertices"),
        (
            {"annotations": [_POLY | {"vertices": [{"x": k, "y": k} for k in range(7)]}]},
            "annotations[0].vertices",
        ),
        ({"annotations": [{"type": "keypoint", "label": "head", "x": 1, "y": 1}]}, "annotations[0].type"),
        ({"annotations": [_POINT | {"z": 3}]}, "annotations[0].z"),
        (
            {"annotations": [{"type": "cuboid", "label": "truck", "vertices": [{"x": 1, "y": 1}] * 7}]},
            "annotations[0].vertices",
        ),
        (
            {"annotations": [{"type": "ellipse", "label": "wheel", "x": 5, "y": 5, "rx": 0, "ry": 2}]},
            "annotations[0].rx",
        ),
        ({"shapes": []}, "annotations"),
    ],
)


def _cuboid(uuid, label="car", frame=0, **extra):
    return {
        "uuid": uuid,
        "label": label,
        "frame": frame,
        "center": {"x": 10.0, "y": 2.0, "z": 0.5},
        "size": {"x": 4.0, "y": 2.0, "z": 1.5},
        "yaw": 0.25,
    } | extra


LIDAR = Case(
    "lidarannotation",
    project_params={
        "labels": ["car", "pedestrian"],
        "annotation_attributes": {"moving": {"type": "category", "choices": ["yes", "no"]}},
    },
    task_params={
        "frames": [
            {
                "url": "https://lidar.example.test/000.bin",
                "timestamp": 0.0,
                "ego_pose": {"x": 0, "y": 0, "heading": 0.1},
            },
            {
                "url": "https://lidar.example.test/001.bin",
                "timestamp": 0.1,
                "camera": {"fx": 1000, "opaque": [1, 2]},
            },
        ]
    },
    answers=[
        {"annotations": [_cuboid("c1"), _cuboid("p1", label="pedestrian", frame=1)]},
        {"annotations": [_cuboid("c2")]},
        {"annotations": [_cuboid("c3")]},
    ],
    response={"annotations": [_cuboid("c1") | {"confidence": 1.0}]},
    confidence=(1.0 + 2 / 3) / 2,  # the car (all three) and the pedestrian only one annotator saw
    invalid=[
        ({"annotations": [_cuboid("c1", frame=2)]}, "annotations[0].frame"),
        ({"annotations": [_cuboid("c1", size={"x": 4, "y": 2, "z": 0})]}, "annotations[0].size.z"),
        ({"annotations": [_cuboid("c1", label="truck")]}, "annotations[0].label"),
        ({"annotations": [{k: v for k, v in _cuboid("c1").items() if k != "uuid"}]}, "annotations[0].uuid"),
        ({"annotations": [_cuboid("c1"), _cuboid("c1", frame=1)]}, "annotations[1].uuid"),
        ({"annotations": [_cuboid("c1", attributes={"moving": "fast"})]}, "annotations[0].attributes.moving"),
    ],
)


def _track(track_id, frames=(0, 1, 2), label="car", left=10):
    return {
        "track_id": track_id,
        "label": label,
        "frames": [{"frame": f, "left": left + f, "top": 5, "width": 20, "height": 10} for f in frames],
    }


VIDEO = Case(
    "videoannotation",
    project_params={"labels": ["car", "cyclist"]},
    task_params={"frames": [f"https://video.example.test/f{k}.jpg" for k in range(4)]},
    answers=[{"annotations": [_track("a")]}, {"annotations": [_track("b")]}, {"annotations": [_track("7")]}],
    response={
        "annotations": [
            {
                "track_id": "track-1",
                "label": "car",
                "confidence": 1.0,
                "frames": [
                    {"frame": f, "left": 10.0 + f, "top": 5.0, "width": 20.0, "height": 10.0}
                    for f in (0, 1, 2)
                ],
            }
        ]
    },
    confidence=1.0,
    invalid=[
        ({"annotations": [_track("a", frames=(0, 4))]}, "annotations[0].frames[1].frame"),
        ({"annotations": [_track("a"), _track("a", label="cyclist")]}, "annotations[1].track_id"),
        ({"annotations": [_track("a", label="bus")]}, "annotations[0].label"),
        (
            {
                "annotations": [
                    _track("a") | {"frames": [{"frame": 0, "left": 1, "top": 1, "width": 0, "height": 1}]}
                ]
            },
            "annotations[0].frames[0].width",
        ),
        (
            {
                "annotations": [
                    _track("a") | {"frames": [{"frame": 1, "left": 1, "top": 1, "width": 2, "height": 2}] * 2}
                ]
            },
            "annotations[0].frames[1].frame",
        ),
    ],
)

PAIRWISE = Case(
    "comparison",
    project_params={"mode": "pairwise", "likert_scale": 7, "require_justification": True},
    task_params={
        "prompt": "How do I reverse a list in Python?",
        "responses": [
            {"id": "r1", "text": "Use items[::-1] or items.reverse()."},
            {"id": "r2", "text": "Lists cannot be reversed."},
        ],
    },
    answers=[
        {"choice": "r1", "strength": 6, "justification": "r1 is correct."},
        {"choice": "r1", "strength": 5, "justification": "r2 is wrong."},
        {"choice": "r2", "strength": 2, "justification": "Shorter."},
    ],
    response={
        "choice": "r1",
        "strength": 5,
        "justifications": ["r1 is correct.", "r2 is wrong.", "Shorter."],
    },
    confidence=2 / 3,
    invalid=[
        ({"choice": "r3", "strength": 4, "justification": "x"}, "choice"),
        ({"choice": "r1", "strength": 8, "justification": "x"}, "strength"),
        ({"choice": "r1", "strength": 0, "justification": "x"}, "strength"),
        ({"choice": "r1", "strength": 4}, "justification"),
        ({"choice": "r1", "strength": 4, "justification": "   "}, "justification"),
        ({"ranking": ["r1", "r2"], "justification": "x"}, "choice"),
    ],
)

RANKING = Case(
    "comparison",
    project_params={"mode": "ranking"},
    task_params={
        "prompt": "Write a haiku about rain.",
        "responses": [{"id": "a", "text": "…"}, {"id": "b", "text": "…"}, {"id": "c", "text": "…"}],
    },
    answers=[
        {"ranking": ["a", "b", "c"]},
        {"ranking": ["a", "c", "b"]},
        {"ranking": ["b", "a", "c"], "justification": "b flows."},
    ],
    response={"ranking": ["a", "b", "c"], "borda_points": {"a": 5, "b": 3, "c": 1}},
    confidence=(1 + 2 / 3 + 2 / 3) / 3,  # Kendall agreement (tau mapped to [0, 1]) with the result
    invalid=[
        ({"ranking": ["a", "b"]}, "ranking"),
        ({"ranking": ["a", "b", "b"]}, "ranking"),
        ({"ranking": ["a", "b", "z"]}, "ranking[2]"),
        ({"choice": "a", "strength": 3}, "ranking"),
    ],
)

_FIELDS = [
    {
        "field_id": "quality",
        "type": "rating",
        "title": "Quality",
        "required": True,
        "scale": 5,
        "rubric": [{"score": 1, "description": "useless"}, {"score": 5, "description": "perfect"}],
    },
    {
        "field_id": "topic",
        "type": "category",
        "title": "Topic",
        "required": True,
        "choices": ["news", "sport", "tech"],
    },
    {
        "field_id": "tags",
        "type": "category",
        "title": "Tags",
        "choices": ["funny", "long", "rude"],
        "min_choice": 0,
        "max_choice": 3,
    },
    {"field_id": "words", "type": "number", "title": "Word count", "min": 0},
    {"field_id": "rewrite", "type": "text", "title": "Rewrite", "max_length": 50},
]

TEXT = Case(
    "textcollection",
    project_params={"fields": _FIELDS},
    task_params={"attachments": [{"type": "text", "content": "Team wins the cup after a long final."}]},
    answers=[
        {"annotations": {"quality": 4, "topic": ["sport"], "tags": ["long"], "words": 7}},
        {"annotations": {"quality": 4, "topic": ["sport"], "tags": ["long", "funny"], "words": 8}},
        {"annotations": {"quality": 5, "topic": ["news"], "tags": [], "words": 7}},
    ],
    response={"annotations": {"quality": 4, "topic": ["sport"], "tags": ["long"], "words": 7}},
    # quality 2/3, topic 2/3, tags (funny 2/3 agree, long 2/3, rude 3/3), words 2/3 within 5% of 7
    confidence=(2 / 3 + 2 / 3 + (2 / 3 + 2 / 3 + 1) / 3 + 2 / 3) / 4,
    invalid=[
        ({"annotations": {"topic": ["sport"]}}, "annotations.quality"),
        ({"annotations": {"quality": 6, "topic": ["sport"]}}, "annotations.quality"),
        ({"annotations": {"quality": 3, "topic": ["weather"]}}, "annotations.topic[0]"),
        ({"annotations": {"quality": 3, "topic": ["news", "sport"]}}, "annotations.topic"),
        ({"annotations": {"quality": 3, "topic": ["news"], "mood": "x"}}, "annotations.mood"),
        ({"annotations": {"quality": 3, "topic": ["news"], "words": -1}}, "annotations.words"),
        ({"annotations": {"quality": 3, "topic": ["news"], "rewrite": "x" * 51}}, "annotations.rewrite"),
    ],
)

_TEXT = "Ada Lovelace met Charles Babbage in London."
NER = Case(
    "namedentityrecognition",
    project_params={"labels": ["PERSON", "LOC"]},
    task_params={"text": _TEXT},
    answers=[
        {
            "annotations": [
                {"start": 0, "end": 12, "label": "PERSON"},
                {"start": 17, "end": 32, "label": "PERSON"},
                {"start": 36, "end": 42, "label": "LOC"},
            ]
        },
        {
            "annotations": [
                {"start": 36, "end": 42, "label": "LOC"},
                {"start": 0, "end": 12, "label": "PERSON"},
                {"start": 17, "end": 32, "label": "PERSON"},
            ]
        },
        {
            "annotations": [
                {"start": 0, "end": 3, "label": "PERSON"},
                {"start": 36, "end": 42, "label": "LOC"},
            ]
        },
    ],
    response={
        "annotations": [
            {"start": 0, "end": 12, "label": "PERSON"},
            {"start": 17, "end": 32, "label": "PERSON"},
            {"start": 36, "end": 42, "label": "LOC"},
        ]
    },
    confidence=(2 / 3 + 2 / 3 + 1 + 2 / 3) / 4,
    invalid=[
        ({"annotations": [{"start": 36, "end": 50, "label": "LOC"}]}, "annotations[0].end"),
        ({"annotations": [{"start": 5, "end": 5, "label": "LOC"}]}, "annotations[0].end"),
        ({"annotations": [{"start": 0, "end": 3, "label": "ORG"}]}, "annotations[0].label"),
        (
            {
                "annotations": [
                    {"start": 0, "end": 12, "label": "PERSON"},
                    {"start": 4, "end": 12, "label": "PERSON"},
                ]
            },
            "annotations[1]",
        ),
        (
            {
                "annotations": [
                    {"start": 0, "end": 3, "label": "PERSON"},
                    {"start": 0, "end": 3, "label": "PERSON"},
                ]
            },
            "annotations[1]",
        ),
        ({"annotations": [{"start": -1, "end": 3, "label": "PERSON"}]}, "annotations[0].start"),
    ],
)

CATEGORIZATION = Case(
    "categorization",
    project_params={"categories": ["car", "pedestrian", "cyclist"]},
    task_params={"attachment": "What is in the box?", "attachment_type": "text"},
    answers=[{"category": "car"}, {"category": "cyclist"}, {"category": "car"}],
    response={"category": "car"},
    confidence=2 / 3,
    invalid=[({"category": "truck"}, "category"), ({"category": "car", "why": "x"}, "why"), ({}, "category")],
)

# Scale's current categorization: a helpfulness question with nested choices, and a harms question
# (multiple choice) asked only when the reply is not helpful.
TAXONOMIES = Case(
    "categorization",
    project_params={
        "taxonomies": {
            "helpful": {
                "type": "category",
                "description": "Is the reply helpful?",
                "choices": ["yes", {"choice": "no", "subchoices": ["off-topic", "wrong"]}],
            },
            "harms": {
                "type": "category",
                "description": "Which harms does it show?",
                "choices": ["toxic", "unsafe advice", "privacy"],
                "allow_multiple": True,
                "condition": {"taxonomy": "helpful", "choices": ["no"]},
            },
        }
    },
    task_params={
        "attachment": "User: how do I fix a leak? Assistant: use a lighter.",
        "attachment_type": "text",
    },
    answers=[
        {"taxonomies": {"helpful": ["wrong"], "harms": ["unsafe advice"]}},
        {"taxonomies": {"helpful": ["wrong"], "harms": ["unsafe advice", "toxic"]}},
        {"taxonomies": {"helpful": ["yes"]}},
    ],
    response={"taxonomies": {"helpful": ["wrong"], "harms": ["unsafe advice"]}},
    # helpful 2/3; harms over the 2 answers that were asked: (toxic 1/2 + unsafe 1 + privacy 1) / 3
    confidence=2 / 3,
    invalid=[
        ({"taxonomies": {"helpful": ["no"]}}, "taxonomies.helpful[0]"),  # a heading: pick a subchoice
        ({"taxonomies": {"helpful": ["yes"], "harms": ["toxic"]}}, "taxonomies.harms"),  # not asked
        ({"taxonomies": {"helpful": ["wrong"]}}, "taxonomies.harms"),  # asked, so required
        ({"taxonomies": {"helpful": ["yes", "wrong"]}}, "taxonomies.helpful"),
        ({"taxonomies": {"helpful": "yes"}}, "taxonomies.helpful"),
        ({"taxonomies": {"helpful": ["yes"], "mood": ["x"]}}, "taxonomies.mood"),
        ({"taxonomies": {"helpful": ["off-topic"], "harms": ["spam"]}}, "taxonomies.harms[0]"),
        ({"category": "yes"}, "answer"),
    ],
)

CASES = [CATEGORIZATION, TAXONOMIES, IMAGE, LIDAR, VIDEO, PAIRWISE, RANKING, TEXT, NER]
