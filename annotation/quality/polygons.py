"""Plane geometry for IoU: areas, exact polygon intersection, and shapes as polygons.

Pure Python, no dependency. The intersection of two simple polygons (convex or not) is exact:
each polygon's indicator function is the signed sum of the indicators of its fan triangles
(winding number), so ``area(P ∩ Q) = Σᵢ Σⱼ sᵢ sⱼ area(Tᵢ ∩ Uⱼ)``, and two triangles intersect in
a convex polygon that Sutherland-Hodgman clipping computes exactly. Cost is O(n·m) triangle
clips, fine for the tens of vertices annotators draw; two convex shapes (boxes, ellipses,
cuboid hulls) take the direct O(n·m) convex clip instead. See ``quality.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]
ELLIPSE_SEGMENTS = 48  # an ellipse is compared as this regular inscribed polygon (area error < 0.3%)


def signed_area(poly: Sequence[Point]) -> float:
    """Shoelace formula: positive when the vertices run counter-clockwise (y up)."""
    n = len(poly)
    return 0.5 * sum(poly[i][0] * poly[(i + 1) % n][1] - poly[(i + 1) % n][0] * poly[i][1] for i in range(n)) if n >= 3 else 0.0


def area(poly: Sequence[Point]) -> float:
    return abs(signed_area(poly))


def ccw(poly: Sequence[Point]) -> list[Point]:
    poly = [(float(x), float(y)) for x, y in poly]
    return poly if signed_area(poly) >= 0 else poly[::-1]


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def is_convex(poly: Sequence[Point]) -> bool:
    n = len(poly)
    signs = {_cross(poly[i], poly[(i + 1) % n], poly[(i + 2) % n]) > 0 for i in range(n)
             if abs(_cross(poly[i], poly[(i + 1) % n], poly[(i + 2) % n])) > 1e-12}
    return len(signs) <= 1


def clip_convex(subject: Sequence[Point], clip: Sequence[Point]) -> list[Point]:
    """Sutherland-Hodgman: ``subject`` clipped by the convex, counter-clockwise ``clip``."""
    output = list(subject)
    n = len(clip)
    for i in range(n):
        if not output:
            break
        a, b = clip[i], clip[(i + 1) % n]
        inputs, output = output, []
        for j, cur in enumerate(inputs):
            prev = inputs[j - 1]
            cur_in, prev_in = _cross(a, b, cur) >= 0, _cross(a, b, prev) >= 0
            if cur_in:
                if not prev_in:
                    output.append(_intersect(prev, cur, a, b))
                output.append(cur)
            elif prev_in:
                output.append(_intersect(prev, cur, a, b))
    return output


def _intersect(p: Point, q: Point, a: Point, b: Point) -> Point:
    """Where segment p→q crosses the line a→b (callers guarantee it does)."""
    dp, dq = _cross(a, b, p), _cross(a, b, q)
    t = dp / (dp - dq) if dp != dq else 0.0
    return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))


def _fan(poly: list[Point]) -> list[tuple[float, list[Point]]]:
    """(sign, counter-clockwise triangle) for each non-degenerate fan triangle from vertex 0."""
    out = []
    o = poly[0]
    for i in range(1, len(poly) - 1):
        tri = [o, poly[i], poly[i + 1]]
        s = signed_area(tri)
        if abs(s) > 1e-12:
            out.append((1.0, tri) if s > 0 else (-1.0, tri[::-1]))
    return out


def intersection_area(p: Sequence[Point], q: Sequence[Point]) -> float:
    if len(p) < 3 or len(q) < 3:
        return 0.0
    p, q = ccw(p), ccw(q)
    if is_convex(p) and is_convex(q):
        return area(clip_convex(p, q))
    total = 0.0
    for s1, t1 in _fan(p):
        for s2, t2 in _fan(q):
            total += s1 * s2 * area(clip_convex(t1, t2))
    return max(0.0, total)


def iou(p: Sequence[Point], q: Sequence[Point]) -> float:
    p, q = ccw(p), ccw(q)
    if p == q:  # exact for identical shapes (clipping would leave rounding error in the last bits)
        return 1.0 if area(p) > 0 else 0.0
    inter = intersection_area(p, q)
    union = area(p) + area(q) - inter
    return 0.0 if union <= 0 else max(0.0, min(1.0, inter / union))


def iou_aabb(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of axis-aligned boxes given as (left, top, width, height)."""
    if a == b:  # exact for identical boxes (left + width − left may round)
        return 1.0 if a[2] * a[3] > 0 else 0.0
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return 0.0 if union <= 0 else inter / union


def rectangle(cx: float, cy: float, w: float, h: float, rotation: float = 0.0) -> list[Point]:
    """Corners of a w×h rectangle centred on (cx, cy), turned by ``rotation`` radians."""
    c, s = math.cos(rotation), math.sin(rotation)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]


def ellipse(cx: float, cy: float, rx: float, ry: float, rotation: float = 0.0, segments: int = ELLIPSE_SEGMENTS) -> list[Point]:
    c, s = math.cos(rotation), math.sin(rotation)
    out = []
    for k in range(segments):
        t = 2 * math.pi * k / segments
        x, y = rx * math.cos(t), ry * math.sin(t)
        out.append((cx + x * c - y * s, cy + x * s + y * c))
    return out


def convex_hull(points: Sequence[Point]) -> list[Point]:
    """Andrew's monotone chain; counter-clockwise, without collinear points."""
    pts = sorted({(float(x), float(y)) for x, y in points})
    if len(pts) <= 2:
        return pts
    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def resample(polyline: Sequence[Point], n: int = 16) -> list[Point]:
    """``n`` points evenly spaced by arc length along an open polyline."""
    pts = [(float(x), float(y)) for x, y in polyline]
    seg = [math.dist(pts[i], pts[i + 1]) for i in range(len(pts) - 1)]
    total = sum(seg)
    if total == 0:
        return [pts[0]] * n
    out, i, walked = [], 0, 0.0
    for k in range(n):
        target = total * k / (n - 1)
        while i < len(seg) - 1 and walked + seg[i] < target:
            walked += seg[i]
            i += 1
        t = 0.0 if seg[i] == 0 else min(1.0, (target - walked) / seg[i])
        out.append((pts[i][0] + t * (pts[i + 1][0] - pts[i][0]), pts[i][1] + t * (pts[i + 1][1] - pts[i][1])))
    return out


def polyline_distance(a: Sequence[Point], b: Sequence[Point], n: int = 16) -> float:
    """Mean distance between two polylines resampled by arc length, in whichever direction of
    ``b`` fits better (a line drawn from either end is the same line)."""
    ra, rb = resample(a, n), resample(b, n)
    forward = sum(math.dist(p, q) for p, q in zip(ra, rb, strict=True)) / n
    backward = sum(math.dist(p, q) for p, q in zip(ra, rb[::-1], strict=True)) / n
    return min(forward, backward)
