"""Plane geometry for IoU: areas, exact polygon intersection, and shapes as polygons.

Pure Python and numpy. Two convex shapes (boxes, ellipses, cuboid hulls) are intersected by
Sutherland-Hodgman clipping. Any other pair of simple polygons (convex or not) exactly, by strips:
a polygon's indicator is the signed sum of the strips under its edges (+ under the upper
boundary, − under the lower), so ``area(P ∩ Q) = Σₑ Σ_f sₑ s_f ∫ min(hₑ, h_f) dx`` over the
x-range both strips cover, a closed form, computed for all strip pairs at once with numpy. See
``annotation/quality.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]
ELLIPSE_SEGMENTS = 48  # an ellipse is compared as this regular inscribed polygon (area error < 0.3%)


def signed_area(poly: Sequence[Point]) -> float:
    """Shoelace formula: positive when the vertices run counter-clockwise (y up)."""
    n = len(poly)
    return (
        0.5 * sum(poly[i][0] * poly[(i + 1) % n][1] - poly[(i + 1) % n][0] * poly[i][1] for i in range(n))
        if n >= 3
        else 0.0
    )


def area(poly: Sequence[Point]) -> float:
    return abs(signed_area(poly))


def ccw(poly: Sequence[Point]) -> list[Point]:
    poly = [(float(x), float(y)) for x, y in poly]
    return poly if signed_area(poly) >= 0 else poly[::-1]


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def is_convex(poly: Sequence[Point]) -> bool:
    n = len(poly)
    signs = {
        _cross(poly[i], poly[(i + 1) % n], poly[(i + 2) % n]) > 0
        for i in range(n)
        if abs(_cross(poly[i], poly[(i + 1) % n], poly[(i + 2) % n])) > 1e-12
    }
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


def _edge_strips(poly: list[Point], y0: float) -> list[tuple[float, float, float, float, float]]:
    """Each non-vertical edge of a counter-clockwise polygon as (x_lo, x_hi, h_lo, h_hi, sign):
    the strip under it down to the line y = y0 (heights h above it). The polygon's indicator is
    the signed sum of its strips' indicators: + under the upper boundary, − under the lower."""
    out = []
    n = len(poly)
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        if x1 == x2:
            continue
        sign = 1.0 if x2 < x1 else -1.0
        if x1 > x2:
            x1, y1, x2, y2 = x2, y2, x1, y1
        out.append((x1, x2, y1 - y0, y2 - y0, sign))
    out.sort()
    return out


def _strip_intersection_area(p: list[Point], q: list[Point]) -> float:
    """area(P ∩ Q) = Σₑ Σ_f sₑ s_f ∫ min(hₑ, h_f) dx over the x-range both strips cover; the
    integral of the lower of two linear heights is exact (split where they cross). Vectorised
    over all strip pairs with numpy, in chunks so two 1,000-vertex polygons stay small in memory."""
    y0 = min(min(y for _, y in p), min(y for _, y in q))
    ep, eq = np.array(_edge_strips(p, y0)), np.array(_edge_strips(q, y0))
    if not len(ep) or not len(eq):
        return 0.0
    f = eq[None, :, :]
    slope_f = (f[..., 3] - f[..., 2]) / (f[..., 1] - f[..., 0])
    total = 0.0
    for start in range(0, len(ep), max(1, 200_000 // len(eq))):
        e = ep[start : start + max(1, 200_000 // len(eq)), None, :]
        lo, hi = np.maximum(e[..., 0], f[..., 0]), np.minimum(e[..., 1], f[..., 1])
        slope_e = (e[..., 3] - e[..., 2]) / (e[..., 1] - e[..., 0])
        a_lo, a_hi = e[..., 2] + slope_e * (lo - e[..., 0]), e[..., 2] + slope_e * (hi - e[..., 0])
        b_lo, b_hi = f[..., 2] + slope_f * (lo - f[..., 0]), f[..., 2] + slope_f * (hi - f[..., 0])
        d_lo, d_hi = a_lo - b_lo, a_hi - b_hi
        min_lo, min_hi, width = np.minimum(a_lo, b_lo), np.minimum(a_hi, b_hi), hi - lo
        crossing = d_lo * d_hi < 0
        t = np.where(crossing, d_lo / np.where(crossing, d_lo - d_hi, 1.0), 0.0)
        ym = a_lo + (a_hi - a_lo) * t
        area = np.where(
            crossing,
            (min_lo + ym) / 2 * (width * t) + (ym + min_hi) / 2 * (width * (1 - t)),
            (min_lo + min_hi) / 2 * width,
        )
        total += float(np.sum(np.where(width > 0, e[..., 4] * f[..., 4] * area, 0.0)))
    return total


def _extents_overlap(p: Sequence[Point], q: Sequence[Point]) -> bool:
    """Bounding boxes first: O(n + m), and most pairs of shapes in a scene do not touch."""
    return (
        min(x for x, _ in p) < max(x for x, _ in q)
        and min(x for x, _ in q) < max(x for x, _ in p)
        and min(y for _, y in p) < max(y for _, y in q)
        and min(y for _, y in q) < max(y for _, y in p)
    )


def intersection_area(p: Sequence[Point], q: Sequence[Point]) -> float:
    if len(p) < 3 or len(q) < 3 or not _extents_overlap(p, q):
        return 0.0
    p, q = ccw(p), ccw(q)
    if is_convex(p) and is_convex(q):
        return area(clip_convex(p, q))
    return max(0.0, _strip_intersection_area(p, q))


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


def ellipse(
    cx: float, cy: float, rx: float, ry: float, rotation: float = 0.0, segments: int = ELLIPSE_SEGMENTS
) -> list[Point]:
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
