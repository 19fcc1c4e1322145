"""``lidarannotation``: 3D cuboids on point-cloud frames.

Params: ``frames: [{url, timestamp?, ego_pose?, camera?}]`` (at least one; ``ego_pose``,
``camera`` and any other keys of a frame are passed through untouched, for the labeling tool and
the exports), ``labels: [str]``, optional ``annotation_attributes`` (as for images).

Answer ``{"annotations": [{uuid, label, frame, center: {x, y, z}, size: {x, y, z}, yaw,
attributes?}]}``: ``frame`` indexes ``params.frames``; ``size`` is length (along the heading),
width, height, all > 0; ``yaw`` is the heading in radians about the vertical axis, in the
frame's coordinate system.

Gold: macro F1 over (frame, label) of cuboids matched at 3D IoU ≥ 0.5 (BEV rotated footprint
intersection × vertical overlap, exact for yaw-only boxes). Consensus: the same matching across
annotators and fusion (mean centre and size, circular mean of yaw) of clusters reaching ⌈n/2⌉.
"""

from __future__ import annotations

from typing import Any

from annotation import quality
from annotation.tasktypes._common import (
    ANNOTATION_ATTRIBUTES,
    LABELS,
    NAME,
    NUMBER,
    POSITIVE,
    URL,
    UUID,
    XYZ,
    TaskTypeSpec,
    check_attributes,
    check_label,
    fail_answer,
    validate,
)

PARAMS = {
    "type": "object",
    "required": ["frames", "labels"],
    "properties": {
        "frames": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2000,
            "items": {
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": URL,
                    "timestamp": NUMBER,
                    "ego_pose": {"type": "object"},
                    "camera": {"type": "object"},
                },
            },
        },
        "labels": LABELS,
        "annotation_attributes": ANNOTATION_ATTRIBUTES,
    },
}

_SIZE = {
    "type": "object",
    "required": ["x", "y", "z"],
    "additionalProperties": False,
    "properties": {"x": POSITIVE, "y": POSITIVE, "z": POSITIVE},
}
ANSWER = {
    "type": "object",
    "required": ["annotations"],
    "additionalProperties": False,
    "properties": {
        "annotations": {
            "type": "array",
            "maxItems": 5000,
            "items": {
                "type": "object",
                "required": ["uuid", "label", "frame", "center", "size", "yaw"],
                "additionalProperties": False,
                "properties": {
                    "uuid": UUID,
                    "label": NAME,
                    "frame": {"type": "integer", "minimum": 0},
                    "center": XYZ,
                    "size": _SIZE,
                    "yaw": NUMBER,
                    "attributes": {"type": "object"},
                },
            },
        }
    },
}


def check_answer(params: dict, answer: Any) -> None:
    validate(ANSWER, answer, what="answer", code="invalid_answer")
    labels, n_frames = set(params["labels"]), len(params["frames"])
    attributes = params.get("annotation_attributes") or {}
    seen = set()
    for i, ann in enumerate(answer["annotations"]):
        where = f"annotations[{i}]"
        check_label(f"{where}.label", ann["label"], labels)
        if ann["frame"] >= n_frames:
            fail_answer(
                f"{where}.frame", f"{ann['frame']} is not a frame index (the task has {n_frames} frames)"
            )
        if ann["uuid"] in seen:
            fail_answer(f"{where}.uuid", f"{ann['uuid']!r} is used twice")
        seen.add(ann["uuid"])
        check_attributes(f"{where}.attributes", ann.get("attributes") or {}, attributes, ann["label"])


def aggregate(params: dict, answers: list) -> quality.Aggregate:
    cuboids, confidence = quality.consensus_cuboids([a["annotations"] for a in answers])
    return quality.Aggregate({"annotations": cuboids}, confidence)


def score_gold(params: dict, answer: dict, gold: dict) -> float:
    return quality.score_cuboids(answer["annotations"], gold["annotations"])


def example_answer(params: dict) -> dict:
    return {
        "annotations": [
            {
                "uuid": "simulated-0",
                "label": params["labels"][0],
                "frame": 0,
                "center": {"x": 10.0, "y": 0.0, "z": 0.0},
                "size": {"x": 4.0, "y": 2.0, "z": 1.5},
                "yaw": 0.0,
            }
        ]
    }


SPEC = TaskTypeSpec(
    "lidarannotation",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    consensus="3D IoU matching per frame and label, fusion of clusters reaching ⌈n/2⌉",
)
