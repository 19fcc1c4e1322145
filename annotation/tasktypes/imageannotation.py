"""``imageannotation``: shapes on one image, in Scale's request and response shapes.

Params: ``attachment`` (URL), optional ``attachment_width`` / ``attachment_height`` (pixels;
when given, shapes must lie inside the image), ``geometries`` with one entry per allowed kind:
``box`` (``can_rotate``, ``integer_pixels``), ``polygon`` and ``line`` (``min_vertices``,
``max_vertices``), ``point`` (``connections: [{pair: [l1, l2]}]`` between keypoint labels),
``ellipse``, ``cuboid``; each with ``objects_to_annotate`` (strings or ``{choice, subchoices,
display}``) and, except point and line, ``min_width`` / ``min_height``. Optional
``annotation_attributes`` ``{name: {type: "category", choices, allow_multiple?, conditions?}}``.

Answer ``{"annotations": [{uuid?, type, label, attributes?, …geometry}]}`` where the geometry is:
box ``left, top, width, height`` (+ ``rotation`` in radians about the centre, only with
``can_rotate``); polygon / line ``vertices: [{x, y}]``; point ``x, y``; ellipse ``x, y`` (centre),
``rx, ry``, ``rotation?``; cuboid (2D projection) ``vertices``: exactly 8 ``{x, y, type?:
"face" | "side", description?}`` — 0–3 the face nearest the camera, 4–7 the far face, corners in
the same order (fusion averages vertex by vertex) — and optional opaque ``edges``.

Gold: macro F1 over (type, label) of shapes matched at IoU ≥ 0.5 (points and lines: within 10 px).
Consensus: shapes matched across annotators, clusters reaching ⌈n/2⌉ fused (``quality.geometry``).
"""

from __future__ import annotations

import math
from typing import Any

from annotation import quality
from annotation.tasktypes._common import (
    ANNOTATION_ATTRIBUTES,
    COORD,
    LABEL_DESCRIPTION,
    NAME,
    NUMBER,
    POSITIVE,
    URL,
    UUID,
    XY,
    TaskTypeSpec,
    check_attributes,
    check_label,
    fail_answer,
    fail_params,
    labels_of,
    validate,
)

KINDS = ("box", "polygon", "line", "point", "ellipse", "cuboid")
_OBJECTS = {"type": "array", "minItems": 1, "maxItems": 500, "items": LABEL_DESCRIPTION}
_MIN_SIZE = {"min_width": {"type": "number", "minimum": 0}, "min_height": {"type": "number", "minimum": 0}}
_VERTEX_LIMITS = {
    "min_vertices": {"type": "integer", "minimum": 2},
    "max_vertices": {"type": "integer", "minimum": 2},
}


def _geometry(extra: dict) -> dict:
    return {
        "type": "object",
        "required": ["objects_to_annotate"],
        "additionalProperties": False,
        "properties": {"objects_to_annotate": _OBJECTS, **extra},
    }


PARAMS = {
    "type": "object",
    "required": ["attachment", "geometries"],
    "properties": {
        "attachment": URL,
        "attachment_type": {"const": "image"},
        "attachment_width": {"type": "integer", "minimum": 1},
        "attachment_height": {"type": "integer", "minimum": 1},
        "geometries": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                "box": _geometry(
                    {**_MIN_SIZE, "can_rotate": {"type": "boolean"}, "integer_pixels": {"type": "boolean"}}
                ),
                "polygon": _geometry({**_MIN_SIZE, **_VERTEX_LIMITS}),
                "line": _geometry(_VERTEX_LIMITS),
                "point": _geometry(
                    {
                        "connections": {
                            "type": "array",
                            "maxItems": 500,
                            "items": {
                                "type": "object",
                                "required": ["pair"],
                                "properties": {
                                    "pair": {"type": "array", "minItems": 2, "maxItems": 2, "items": NAME},
                                    "connection_attribute": {"type": "string"},
                                },
                            },
                        }
                    }
                ),
                "ellipse": _geometry(_MIN_SIZE),
                "cuboid": _geometry(
                    {
                        **_MIN_SIZE,
                        "camera_intrinsics": {"type": "object"},
                        "camera_rotation_quaternion": {"type": "object"},
                        "camera_height": NUMBER,
                    }
                ),
            },
        },
        "annotation_attributes": ANNOTATION_ATTRIBUTES,
    },
}

_COMMON = {"uuid": UUID, "type": {"type": "string"}, "label": NAME, "attributes": {"type": "object"}}
_VERTICES = {"type": "array", "maxItems": 1000, "items": XY}
_CUBOID_VERTEX = {
    "type": "object",
    "required": ["x", "y"],
    "additionalProperties": False,
    "properties": {
        "x": COORD,
        "y": COORD,
        "type": {"enum": ["face", "side"]},
        "description": {"type": "string"},
    },
}


def _item_schema(kind: str, geometry: dict) -> dict:
    props: dict = {
        "box": {
            "left": COORD,
            "top": COORD,
            "width": POSITIVE,
            "height": POSITIVE,
            **({"rotation": NUMBER} if geometry.get("can_rotate") else {}),
        },
        "polygon": {"vertices": {**_VERTICES, "minItems": 3}},
        "line": {"vertices": {**_VERTICES, "minItems": 2}},
        "point": {"x": COORD, "y": COORD},
        "ellipse": {"x": COORD, "y": COORD, "rx": POSITIVE, "ry": POSITIVE, "rotation": NUMBER},
        "cuboid": {
            "vertices": {"type": "array", "minItems": 8, "maxItems": 8, "items": _CUBOID_VERTEX},
            "edges": {"type": "array", "maxItems": 64},
        },
    }[kind]
    required = {
        "box": ["left", "top", "width", "height"],
        "point": ["x", "y"],
        "ellipse": ["x", "y", "rx", "ry"],
    }.get(kind, ["vertices"])
    return {
        "type": "object",
        "required": ["type", "label", *required],
        "properties": {**_COMMON, **props},
        "additionalProperties": False,
    }


def check_params(params: dict) -> None:
    geometries = params.get("geometries") or {}
    for kind, g in geometries.items():
        for key, limit in (
            ("min_width", params.get("attachment_width")),
            ("min_height", params.get("attachment_height")),
        ):
            if limit is not None and g.get(key, 0) > limit:
                fail_params(f"geometries.{kind}.{key}", f"{g[key]} is larger than the image ({limit} px)")
    for kind in ("polygon", "line"):
        g = geometries.get(kind) or {}
        if kind == "polygon" and g.get("min_vertices", 3) < 3:
            fail_params("geometries.polygon.min_vertices", "a polygon has at least 3 vertices")
        if g.get("max_vertices") is not None and g["max_vertices"] < g.get("min_vertices", 0):
            fail_params(f"geometries.{kind}.max_vertices", "must not be less than min_vertices")
    point = geometries.get("point") or {}
    keypoints = set(labels_of(point.get("objects_to_annotate") or []))
    for i, connection in enumerate(point.get("connections") or []):
        for j, label in enumerate(connection["pair"]):
            if label not in keypoints:
                fail_params(f"geometries.point.connections[{i}].pair[{j}]", f"{label!r} is not a point label")


def _extent(kind: str, ann: dict) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y) of a shape, ignoring rotation."""
    if kind == "box":
        return ann["left"], ann["top"], ann["left"] + ann["width"], ann["top"] + ann["height"]
    if kind in ("point", "ellipse"):
        rx, ry = ann.get("rx", 0), ann.get("ry", 0)
        return ann["x"] - rx, ann["y"] - ry, ann["x"] + rx, ann["y"] + ry
    xs, ys = [v["x"] for v in ann["vertices"]], [v["y"] for v in ann["vertices"]]
    return min(xs), min(ys), max(xs), max(ys)


def check_answer(params: dict, answer: Any) -> None:
    geometries = params["geometries"]
    declared = [k for k in KINDS if k in geometries]
    envelope = {
        "type": "object",
        "required": ["annotations"],
        "additionalProperties": False,
        "properties": {
            "annotations": {
                "type": "array",
                "maxItems": 2000,
                "items": {"type": "object", "required": ["type"], "properties": {"type": {"enum": declared}}},
            }
        },
    }
    validate(envelope, answer, what="answer", code="invalid_answer")
    attributes = params.get("annotation_attributes") or {}
    width, height = params.get("attachment_width"), params.get("attachment_height")
    uuids = set()
    for i, ann in enumerate(answer["annotations"]):
        kind, geometry, where = ann["type"], geometries[ann["type"]], f"annotations[{i}]"
        validate(_item_schema(kind, geometry), ann, what=where, code="invalid_answer", prefix=where)
        check_label(f"{where}.label", ann["label"], set(labels_of(geometry["objects_to_annotate"])))
        check_attributes(f"{where}.attributes", ann.get("attributes") or {}, attributes, ann["label"])
        if "uuid" in ann:
            if ann["uuid"] in uuids:
                fail_answer(f"{where}.uuid", f"{ann['uuid']!r} is used twice")
            uuids.add(ann["uuid"])
        if kind in ("polygon", "line"):
            n = len(ann["vertices"])
            low, high = geometry.get("min_vertices", 0), geometry.get("max_vertices", math.inf)
            if not low <= n <= high:
                fail_answer(f"{where}.vertices", f"{n} vertices, outside the allowed {low} to {high}")
        x0, y0, x1, y1 = _extent(kind, ann)
        min_w, min_h = geometry.get("min_width", 0), geometry.get("min_height", 0)
        if x1 - x0 < min_w or y1 - y0 < min_h:
            fail_answer(where, f"{kind} {x1 - x0:g}x{y1 - y0:g} is smaller than the minimum {min_w}x{min_h}")
        if (
            kind == "box"
            and geometry.get("integer_pixels")
            and any(float(ann[k]) != int(ann[k]) for k in ("left", "top", "width", "height"))
        ):
            fail_answer(where, "integer_pixels is set, coordinates must be whole numbers")
        if kind != "box" or not ann.get("rotation"):  # a rotated box may overhang the image's edge
            if (width is not None and x1 > width) or (height is not None and y1 > height):
                fail_answer(where, f"{kind} reaches ({x1:g}, {y1:g}), outside the {width}x{height} image")


def aggregate(params: dict, answers: list) -> quality.Aggregate:
    shapes, confidence = quality.consensus_shapes([a["annotations"] for a in answers])
    return quality.Aggregate({"annotations": shapes}, confidence)


def score_gold(params: dict, answer: dict, gold: dict) -> float:
    return quality.score_shapes(answer["annotations"], gold["annotations"])


def example_answer(params: dict) -> dict:
    """One shape of the first label of every declared kind, at the top-left corner, as large as
    the minimums ask (at least 10 px, or the image if smaller)."""
    base = min(10, params.get("attachment_width", 10), params.get("attachment_height", 10))
    out = []
    for kind in KINDS:
        geometry = params["geometries"].get(kind)
        if geometry is None:
            continue
        s = math.ceil(max(base, geometry.get("min_width", 0), geometry.get("min_height", 0)))
        ann: dict = {"type": kind, "label": labels_of(geometry["objects_to_annotate"])[0]}
        if kind == "box":
            ann |= {"left": 0, "top": 0, "width": s, "height": s}
        elif kind in ("polygon", "line"):
            n = max(3 if kind == "polygon" else 2, geometry.get("min_vertices", 0))
            ann["vertices"] = (
                _perimeter(s, n)
                if kind == "polygon"
                else [{"x": s * k / (n - 1), "y": s * k / (n - 1)} for k in range(n)]
            )
        elif kind == "point":
            ann |= {"x": s / 2, "y": s / 2}
        elif kind == "ellipse":
            ann |= {"x": s / 2, "y": s / 2, "rx": s / 2, "ry": s / 2}
        else:
            a, d = 0.75 * s, 0.25 * s
            face = [(0, 0), (a, 0), (a, a), (0, a)]
            ann["vertices"] = [{"x": x, "y": y, "type": "face"} for x, y in face] + [
                {"x": x + d, "y": y + d, "type": "side"} for x, y in face
            ]
        out.append(ann)
    return {"annotations": out}


def _perimeter(s: float, n: int) -> list[dict]:
    """``n`` points evenly spaced around the s×s square's perimeter (their extent is s×s)."""
    out = []
    for k in range(n):
        t = 4 * s * k / n
        side, r = int(t // s), t % s
        x, y = [(r, 0), (s, r), (s - r, s), (0, s - r)][side]
        out.append({"x": x, "y": y})
    return out


SPEC = TaskTypeSpec(
    "imageannotation",
    PARAMS,
    check_answer,
    aggregate,
    example_answer,
    score_gold=score_gold,
    check_params=check_params,
    consensus="IoU matching across annotators, fusion of clusters reaching ⌈n/2⌉ (mean coordinates; "
    "polygon, line: medoid)",
)
