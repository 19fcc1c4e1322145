"""2D shapes in Scale's answer shapes, reduced to what COCO and YOLO store.

Shapes (``{"annotations": [...]}``): box ``left, top, width, height`` (+ ``rotation`` in radians
about the box centre), polygon / line ``vertices: [{x, y}]``, point ``x, y``, ellipse ``x, y, rx,
ry`` (+ ``rotation``), cuboid ``vertices`` (8 points). Pure functions, tested without a database.
"""

from __future__ import annotations

import math
from math import isfinite
from typing import Any

from annotation.exports.common import label_names, single_answer

# Geometries whose labels become object categories, in this order (points become keypoints).
OBJECT_GEOMETRIES = ("box", "polygon", "line", "ellipse", "cuboid")
ELLIPSE_SEGMENTS = 32
# (cos, sin) of the ellipse's vertex angles, computed once rather than twice per ellipse vertex.
UNIT_CIRCLE = tuple(
    (math.cos(2 * math.pi * i / ELLIPSE_SEGMENTS), math.sin(2 * math.pi * i / ELLIPSE_SEGMENTS))
    for i in range(ELLIPSE_SEGMENTS)
)


def categories(project_params: dict) -> list[str]:
    """Object category names from the project's ``geometries.*.objects_to_annotate``, without
    repeats, in geometry order (box, polygon, line, ellipse, cuboid, then any other but point)."""
    geometries = (project_params or {}).get("geometries") or {}
    order = [g for g in OBJECT_GEOMETRIES if g in geometries] + sorted(
        g for g in geometries if g not in OBJECT_GEOMETRIES and g != "point"
    )
    names: list[str] = []
    for geometry in order:
        for name in label_names((geometries[geometry] or {}).get("objects_to_annotate")):
            if name not in names:
                names.append(name)
    return names


def keypoint_schema(project_params: dict) -> tuple[list[str], list[list[int]]]:
    """(keypoint names, skeleton as 1-based index pairs) from ``geometries.point``: its labels and
    its ``connections: [{"pair": [label, label]}]``."""
    point = ((project_params or {}).get("geometries") or {}).get("point") or {}
    names = label_names(point.get("objects_to_annotate"))
    index = {name: i + 1 for i, name in enumerate(names)}
    skeleton = []
    for connection in point.get("connections") or []:
        pair = connection.get("pair") if isinstance(connection, dict) else connection
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and pair[0] in index and pair[1] in index:
            skeleton.append([index[pair[0]], index[pair[1]]])
    return names, skeleton


def shapes(task: dict, source: str) -> list[dict] | None:
    """The shapes to export for ``task``: from its aggregated response (``source="response"``)
    or its gold answer (``"gold"``). None when the response holds several unfused answers."""
    return answer_shapes(task.get("gold_answer") if source == "gold" else task.get("response"))


def answer_shapes(value: Any) -> list[dict] | None:
    """The shapes of a response or gold answer (``shapes``)."""
    if value is None:
        return []
    answer = single_answer(value)
    if answer is None:
        return None
    annotations = answer.get("annotations")
    return [a for a in annotations if isinstance(a, dict)] if isinstance(annotations, list) else []


def _num(value: Any) -> float | None:
    """A finite number as a float, else None (bools, strings, NaN, infinities, and integers too
    large for a float: those raised OverflowError here once). Every coordinate of an export goes
    through here, so JSON's own types come first: a float needs only the finiteness check and an
    int only the conversion (a float made from an int is finite, or the int overflows)."""
    kind = type(value)
    if kind is float:
        return value if isfinite(value) else None
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if isfinite(value) else None


def _rotate(
    points: list[tuple[float, float]], cx: float, cy: float, angle: float
) -> list[tuple[float, float]]:
    if not angle:
        return points
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in points]


def box_corners(shape: dict) -> list[tuple[float, float]] | None:
    left, top = _num(shape.get("left")), _num(shape.get("top"))
    width, height = _num(shape.get("width")), _num(shape.get("height"))
    if None in (left, top, width, height) or width <= 0 or height <= 0:
        return None
    corners = [(left, top), (left + width, top), (left + width, top + height), (left, top + height)]
    return _rotate(corners, left + width / 2, top + height / 2, _num(shape.get("rotation")) or 0.0)


def ellipse_polygon(shape: dict) -> list[tuple[float, float]] | None:
    x, y, rx, ry = _num(shape.get("x")), _num(shape.get("y")), _num(shape.get("rx")), _num(shape.get("ry"))
    if None in (x, y, rx, ry) or rx <= 0 or ry <= 0:
        return None
    points = [(x + rx * c, y + ry * s) for c, s in UNIT_CIRCLE]
    return _rotate(points, x, y, _num(shape.get("rotation")) or 0.0)


def envelope(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    """(left, top, width, height) of the axis-aligned box around ``points``."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def image_size(params: dict) -> tuple[int, int] | tuple[None, None]:
    """(width, height) from ``attachment_width`` / ``attachment_height``, or (None, None) when
    either is missing or not a positive number."""
    w, h = _num(params.get("attachment_width")), _num(params.get("attachment_height"))
    if w is None or h is None or w <= 0 or h <= 0:
        return None, None
    return (int(w) if w == int(w) else w), (int(h) if h == int(h) else h)
