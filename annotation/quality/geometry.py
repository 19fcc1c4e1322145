"""2D image geometry: similarity of two shapes, gold F1, and consensus by fusion.

Shapes are the annotation objects of an ``imageannotation`` answer (``type`` box, polygon, line,
point, ellipse or cuboid, with ``label`` and the geometry keys). Similarity per type:

- box, polygon, ellipse, cuboid: IoU of their areas (a rotated box as its rectangle, an ellipse
  as an inscribed 48-gon, a 2D-projected cuboid as the convex hull of its 8 vertices);
- point: ``max(0, 1 − d / (2·point_distance))``, so a match (≥ 0.5) means d ≤ point_distance;
- line: the same with the mean distance between the two polylines resampled by arc length.

Fusion of a matched cluster: mean coordinates for box, ellipse, point and cuboid (rotations by
circular mean; cuboid vertices index by index); the medoid for polygon and line, whose vertices
have no correspondence between annotators. Attributes by per-attribute majority.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from annotation.quality import matching, polygons

POINT_DISTANCE = 10.0  # pixels: two points (or lines, on average) this close are the same object
AREA_TYPES = {"box", "polygon", "ellipse", "cuboid"}


def _vertices(shape: dict) -> list[tuple[float, float]]:
    return [(float(v["x"]), float(v["y"])) for v in shape["vertices"]]


def shape_polygon(shape: dict) -> list[tuple[float, float]]:
    kind = shape["type"]
    if kind == "box":
        w, h = float(shape["width"]), float(shape["height"])
        cx, cy = float(shape["left"]) + w / 2, float(shape["top"]) + h / 2
        return polygons.rectangle(cx, cy, w, h, float(shape.get("rotation") or 0.0))
    if kind == "ellipse":
        return polygons.ellipse(
            float(shape["x"]),
            float(shape["y"]),
            float(shape["rx"]),
            float(shape["ry"]),
            float(shape.get("rotation") or 0.0),
        )
    if kind == "cuboid":
        return polygons.convex_hull(_vertices(shape))
    if kind == "polygon":
        return _vertices(shape)
    raise ValueError(f"{kind} has no area")


def similarity(a: dict, b: dict, *, point_distance: float = POINT_DISTANCE) -> float:
    if a["type"] != b["type"]:
        return 0.0
    kind = a["type"]
    if kind == "box" and not a.get("rotation") and not b.get("rotation"):
        return polygons.iou_aabb(
            *(tuple(float(s[k]) for k in ("left", "top", "width", "height")) for s in (a, b))
        )
    if kind in AREA_TYPES:
        return polygons.iou(shape_polygon(a), shape_polygon(b))
    if kind == "point":
        d = math.dist((float(a["x"]), float(a["y"])), (float(b["x"]), float(b["y"])))
    elif kind == "line":
        d = polygons.polyline_distance(_vertices(a), _vertices(b))
    else:
        raise ValueError(f"unknown shape type {kind!r}")
    return max(0.0, 1.0 - d / (2.0 * point_distance))


def extent(shape: dict, *, point_distance: float = POINT_DISTANCE) -> tuple[float, float, float, float]:
    """A box outside which the shape's similarity to any other is 0 (for the matching sweep)."""
    kind = shape["type"]
    if kind == "box":
        w, h = float(shape["width"]), float(shape["height"])
        if shape.get("rotation"):
            r = math.hypot(w, h) / 2
            cx, cy = float(shape["left"]) + w / 2, float(shape["top"]) + h / 2
            return cx - r, cy - r, cx + r, cy + r
        return float(shape["left"]), float(shape["top"]), float(shape["left"]) + w, float(shape["top"]) + h
    if kind in ("ellipse", "point"):
        r = (
            max(float(shape.get("rx", 0)), float(shape.get("ry", 0)))
            if kind == "ellipse"
            else 2 * point_distance
        )
        return float(shape["x"]) - r, float(shape["y"]) - r, float(shape["x"]) + r, float(shape["y"]) + r
    xs, ys = [float(v["x"]) for v in shape["vertices"]], [float(v["y"]) for v in shape["vertices"]]
    pad = 2 * point_distance if kind == "line" else 0.0
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def group(shape: dict) -> tuple[str, str]:
    return shape["type"], shape["label"]


def score_shapes(
    answer: Sequence[dict],
    gold: Sequence[dict],
    *,
    point_distance: float = POINT_DISTANCE,
    threshold: float = matching.MATCH_THRESHOLD,
) -> float:
    """Macro F1 over (type, label) of the shapes matched at similarity ≥ threshold."""
    return matching.matched_f1(
        answer,
        gold,
        group=group,
        threshold=threshold,
        similarity=lambda x, y: similarity(x, y, point_distance=point_distance),
    )


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean that returns the value itself when all are equal (no rounding drift)."""
    values = [float(v) for v in values]
    return values[0] if all(v == values[0] for v in values) else math.fsum(values) / len(values)


def _mean_rotation(members: Sequence[dict]) -> float:
    angles = [float(m.get("rotation") or 0.0) for m in members]
    return angles[0] if all(a == angles[0] for a in angles) else matching.mean_angle(angles)


def fuse(members: Sequence[dict], *, point_distance: float = POINT_DISTANCE) -> dict:
    """One shape from a cluster of matched shapes of one type and label."""
    sim = lambda x, y: similarity(x, y, point_distance=point_distance)  # noqa: E731
    base = members[matching.medoid(members, sim)]
    kind = base["type"]
    out = {k: base[k] for k in ("uuid",) if k in base} | {"type": kind, "label": base["label"]}
    if kind == "box":
        out |= {k: mean([m[k] for m in members]) for k in ("left", "top", "width", "height")}
        if any("rotation" in m for m in members):
            out["rotation"] = _mean_rotation(members)
    elif kind == "ellipse":
        out |= {k: mean([m[k] for m in members]) for k in ("x", "y", "rx", "ry")}
        if any("rotation" in m for m in members):
            out["rotation"] = _mean_rotation(members)
    elif kind == "point":
        out |= {k: mean([m[k] for m in members]) for k in ("x", "y")}
    elif kind == "cuboid":
        vertices = []
        for idx, vertex in enumerate(base["vertices"]):
            fused = dict(vertex)
            fused["x"] = mean([m["vertices"][idx]["x"] for m in members])
            fused["y"] = mean([m["vertices"][idx]["y"] for m in members])
            vertices.append(fused)
        out["vertices"] = vertices
        if "edges" in base:
            out["edges"] = base["edges"]
    else:  # polygon, line: the medoid
        out["vertices"] = [dict(v) for v in base["vertices"]]
    attributes = matching.vote_attributes(members)
    if attributes or any("attributes" in m for m in members):
        out["attributes"] = attributes
    return out


def consensus_shapes(
    per_annotator: Sequence[Sequence[dict]],
    *,
    quorum: int | None = None,
    point_distance: float = POINT_DISTANCE,
    threshold: float = matching.MATCH_THRESHOLD,
) -> tuple[list[dict], float]:
    """Fused shapes (each with its ``confidence``) and the task's confidence; see
    ``matching.consensus_objects``."""
    kept, confidence = matching.consensus_objects(
        per_annotator,
        group=group,
        quorum=quorum,
        threshold=threshold,
        similarity=lambda x, y: similarity(x, y, point_distance=point_distance),
        fuse=lambda ms: fuse(ms, point_distance=point_distance),
        extent=lambda shape: extent(shape, point_distance=point_distance),
    )
    return [shape | {"confidence": round(c, 6)} for shape, c in kept], confidence
