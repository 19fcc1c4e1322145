"""3D cuboids (``lidarannotation``): IoU in 3D, gold F1 and fusion.

A cuboid is ``center {x,y,z}``, ``size {x,y,z}`` (length along its heading, width, height) and
``yaw`` (radians about the vertical z axis). The 3D IoU is exact for yaw-only rotation: the
intersection volume is the bird's-eye-view (BEV) intersection area of the two rotated footprints
(exact polygon clipping) times the overlap of their vertical extents. Cuboids match only within
one frame and one label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from annotation.quality import matching, polygons
from annotation.quality.geometry import mean


def _footprint(c: dict) -> list[tuple[float, float]]:
    return polygons.rectangle(
        float(c["center"]["x"]),
        float(c["center"]["y"]),
        float(c["size"]["x"]),
        float(c["size"]["y"]),
        float(c.get("yaw") or 0.0),
    )


def iou_3d(a: dict, b: dict) -> float:
    za = (
        float(a["center"]["z"]) - float(a["size"]["z"]) / 2,
        float(a["center"]["z"]) + float(a["size"]["z"]) / 2,
    )
    zb = (
        float(b["center"]["z"]) - float(b["size"]["z"]) / 2,
        float(b["center"]["z"]) + float(b["size"]["z"]) / 2,
    )
    dz = min(za[1], zb[1]) - max(za[0], zb[0])
    if dz <= 0:
        return 0.0
    fa, fb = _footprint(a), _footprint(b)
    if fa == fb and za == zb:  # identical cuboids: exactly 1, not 1 minus rounding error
        return 1.0
    inter = polygons.intersection_area(fa, fb) * dz
    volume = lambda c: float(c["size"]["x"]) * float(c["size"]["y"]) * float(c["size"]["z"])  # noqa: E731
    union = volume(a) + volume(b) - inter
    return 0.0 if union <= 0 else max(0.0, min(1.0, inter / union))


def extent(c: dict) -> tuple[float, float, float, float]:
    """Bird's-eye-view box around the cuboid at any yaw (for the matching sweep)."""
    r = math.hypot(float(c["size"]["x"]), float(c["size"]["y"])) / 2
    x, y = float(c["center"]["x"]), float(c["center"]["y"])
    return x - r, y - r, x + r, y + r


def group(c: dict) -> tuple[int, str]:
    return int(c["frame"]), c["label"]


def score_cuboids(
    answer: Sequence[dict], gold: Sequence[dict], *, threshold: float = matching.MATCH_THRESHOLD
) -> float:
    """Macro F1 over (frame, label) of cuboids matched at 3D IoU ≥ threshold."""
    return matching.matched_f1(answer, gold, group=group, similarity=iou_3d, threshold=threshold)


def fuse(members: Sequence[dict]) -> dict:
    base = members[matching.medoid(members, iou_3d)]
    yaws = [float(m.get("yaw") or 0.0) for m in members]
    out = {
        "uuid": base["uuid"],
        "label": base["label"],
        "frame": int(base["frame"]),
        "center": {k: mean([m["center"][k] for m in members]) for k in ("x", "y", "z")},
        "size": {k: mean([m["size"][k] for m in members]) for k in ("x", "y", "z")},
        "yaw": yaws[0] if all(y == yaws[0] for y in yaws) else matching.mean_angle(yaws),
    }
    attributes = matching.vote_attributes(members)
    if attributes or any("attributes" in m for m in members):
        out["attributes"] = attributes
    return out


def consensus_cuboids(
    per_annotator: Sequence[Sequence[dict]],
    *,
    quorum: int | None = None,
    threshold: float = matching.MATCH_THRESHOLD,
) -> tuple[list[dict], float]:
    kept, confidence = matching.consensus_objects(
        per_annotator,
        group=group,
        similarity=iou_3d,
        fuse=fuse,
        quorum=quorum,
        threshold=threshold,
        extent=extent,
    )
    return [c | {"confidence": round(conf, 6)} for c, conf in kept], confidence
