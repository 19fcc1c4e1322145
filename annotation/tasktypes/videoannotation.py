"""``videoannotation``: boxes tracked across frames, one track per object.

Params: either ``frames: [url]`` (at least one) or ``attachment`` (a video URL) with
``frame_count``; ``labels: [str]``; optional ``attachment_width`` / ``attachment_height``.

Answer ``{"annotations": [{track_id, label, frames: [{frame, left, top, width, height,
interpolated?}]}]}``: ``track_id`` unique in the answer, ``frame`` an index below the frame count,
each frame at most once per track, boxes with positive size; ``interpolated: true`` marks a box the
tool filled in between two keyframes by linear interpolation (the others are keyframes).

Gold: soft F1 per label over matched tracks (mean per-frame box IoU of a matched pair).
Consensus: tracks matched across annotators (mean per-frame IoU ≥ 0.5), fused frame by frame.
"""

from __future__ import annotations

from typing import Any

from annotation import quality
from annotation.tasktypes._common import (
    COORD,
    LABELS,
    NAME,
    POSITIVE,
    URL,
    TaskTypeSpec,
    check_label,
    fail_answer,
    fail_params,
    validate,
)

PARAMS = {
    "type": "object",
    "required": ["labels"],
    "properties": {
        "frames": {"type": "array", "minItems": 1, "maxItems": 100000, "items": URL},
        "attachment": URL,
        "attachment_type": {"const": "video"},
        "frame_count": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "attachment_width": {"type": "integer", "minimum": 1},
        "attachment_height": {"type": "integer", "minimum": 1},
        "labels": LABELS,
    },
}
ANSWER = {
    "type": "object",
    "required": ["annotations"],
    "additionalProperties": False,
    "properties": {
        "annotations": {
            "type": "array",
            "maxItems": 2000,
            "items": {
                "type": "object",
                "required": ["track_id", "label", "frames"],
                "additionalProperties": False,
                "properties": {
                    "track_id": {"type": "string", "minLength": 1, "maxLength": 64},
                    "label": NAME,
                    "frames": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 100000,
                        "items": {
                            "type": "object",
                            "required": ["frame", "left", "top", "width", "height"],
                            "additionalProperties": False,
                            "properties": {
                                "frame": {"type": "integer", "minimum": 0},
                                "left": COORD,
                                "top": COORD,
                                "width": POSITIVE,
                                "height": POSITIVE,
                                # Filled in between two keyframes by linear interpolation.
                                "interpolated": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        }
    },
}


def frame_count(params: dict) -> int:
    return len(params["frames"]) if params.get("frames") else int(params["frame_count"])


def check_params(params: dict) -> None:
    if (
        params.get("frames")
        and params.get("frame_count") is not None
        and params["frame_count"] != len(params["frames"])
    ):
        fail_params(
            "frame_count", f"{params['frame_count']} does not match the {len(params['frames'])} frames given"
        )


def check_complete_params(params: dict) -> None:
    if not params.get("frames") and not (params.get("attachment") and params.get("frame_count")):
        fail_params("frames", "give the frames as a list of URLs, or an attachment with its frame_count")


def check_answer(params: dict, answer: Any) -> None:
    validate(ANSWER, answer, what="answer", code="invalid_answer")
    labels, count = set(params["labels"]), frame_count(params)
    width, height = params.get("attachment_width"), params.get("attachment_height")
    track_ids = set()
    for i, track in enumerate(answer["annotations"]):
        where = f"annotations[{i}]"
        check_label(f"{where}.label", track["label"], labels)
        if track["track_id"] in track_ids:
            fail_answer(f"{where}.track_id", f"{track['track_id']!r} is used twice")
        track_ids.add(track["track_id"])
        frames = set()
        for j, box in enumerate(track["frames"]):
            at = f"{where}.frames[{j}]"
            if box["frame"] >= count:
                fail_answer(
                    f"{at}.frame", f"{box['frame']} is not a frame index (the video has {count} frames)"
                )
            if box["frame"] in frames:
                fail_answer(f"{at}.frame", f"frame {box['frame']} appears twice in this track")
            frames.add(box["frame"])
            if (width and box["left"] + box["width"] > width) or (
                height and box["top"] + box["height"] > height
            ):
                fail_answer(at, f"the box leaves the {width}x{height} frame")


def aggregate(params: dict, answers: list) -> quality.Aggregate:
    tracks, confidence = quality.consensus_tracks([a["annotations"] for a in answers])
    return quality.Aggregate({"annotations": tracks}, confidence)


def score_gold(params: dict, answer: dict, gold: dict) -> float:
    return quality.score_tracks(answer["annotations"], gold["annotations"])


def example_answer(params: dict) -> dict:
    side = min(10, params.get("attachment_width", 10), params.get("attachment_height", 10))
    frames = [
        {"frame": f, "left": 0, "top": 0, "width": side, "height": side}
        for f in range(min(2, frame_count(params)))
    ]
    return {"annotations": [{"track_id": "track-1", "label": params["labels"][0], "frames": frames}]}


SPEC = TaskTypeSpec(
    "videoannotation",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    check_params=check_params,
    check_complete_params=check_complete_params,
    consensus="tracks matched across annotators by mean per-frame IoU, fused frame by frame (quorum ⌈n/2⌉)",
)
