"""Pure tests of the geometry engines: IoU, matching, gold F1 and fusion in 2D, 3D and video."""

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from annotation import quality
from annotation.quality import polygons

coord = st.floats(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False)
size = st.floats(min_value=0.5, max_value=500, allow_nan=False, allow_infinity=False)
angle = st.floats(min_value=-math.pi, max_value=math.pi, allow_nan=False)


@st.composite
def boxes(draw):
    box = {
        "type": "box",
        "label": draw(st.sampled_from(["car", "person"])),
        "left": draw(coord),
        "top": draw(coord),
        "width": draw(size),
        "height": draw(size),
    }
    if draw(st.booleans()):
        box["rotation"] = draw(angle)
    return box


@st.composite
def area_shapes(draw):
    kind = draw(st.sampled_from(["box", "ellipse", "polygon", "cuboid"]))
    if kind == "box":
        return draw(boxes())
    if kind == "ellipse":
        return {
            "type": "ellipse",
            "label": "wheel",
            "x": draw(coord),
            "y": draw(coord),
            "rx": draw(size),
            "ry": draw(size),
            "rotation": draw(angle),
        }
    n = 3 if kind == "polygon" else 8
    pts = draw(st.lists(st.tuples(coord, coord), min_size=n, max_size=n if kind == "cuboid" else 8))
    assume(polygons.area(polygons.convex_hull(pts)) > 1.0)
    vertices = [{"x": x, "y": y} for x, y in (polygons.convex_hull(pts) if kind == "polygon" else pts)]
    return {"type": kind, "label": "thing", "vertices": vertices}


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(area_shapes())
def test_iou_of_a_shape_with_itself_is_1(shape):
    assert quality.similarity(shape, shape) == 1.0


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(area_shapes(), area_shapes())
def test_iou_is_symmetric_and_in_0_1(a, b):
    b = b | {"type": a["type"]} if a["type"] == b["type"] else b
    ab, ba = quality.similarity(a, b), quality.similarity(b, a)
    assert 0.0 <= ab <= 1.0
    assert ab == pytest.approx(ba, abs=1e-9)


def test_iou_known_values():
    square = [(0, 0), (2, 0), (2, 2), (0, 2)]
    assert polygons.iou(square, [(1, 1), (3, 1), (3, 3), (1, 3)]) == pytest.approx(1 / 7)
    # a non-convex L (area 7) against a square overlapping both its arms
    ell = [(0, 0), (4, 0), (4, 1), (1, 1), (1, 4), (0, 4)]
    assert polygons.intersection_area(ell, [(0.5, 0.5), (3, 0.5), (3, 3), (0.5, 3)]) == pytest.approx(2.25)
    assert polygons.iou(ell, ell[::-1]) == 1.0
    # a 2×2 square against itself turned 45°: the overlap is a regular octagon of area 8(√2 − 1)
    octagon = 8 * (math.sqrt(2) - 1)
    assert polygons.iou(
        polygons.rectangle(0, 0, 2, 2), polygons.rectangle(0, 0, 2, 2, math.pi / 4)
    ) == pytest.approx(octagon / (8 - octagon))
    assert quality.iou_aabb((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert polygons.area(polygons.ellipse(0, 0, 3, 3)) == pytest.approx(math.pi * 9, rel=3e-3)


@st.composite
def stars(draw):
    """Simple polygons, convex or not: radii around a centre at increasing angles."""
    k = draw(st.integers(min_value=3, max_value=24))
    cx, cy = draw(st.floats(-50, 50)), draw(st.floats(-50, 50))
    radii = draw(st.lists(st.floats(1, 40), min_size=k, max_size=k))
    return [
        (cx + r * math.cos(2 * math.pi * i / k), cy + r * math.sin(2 * math.pi * i / k))
        for i, r in enumerate(radii)
    ]


@settings(deadline=None)
@given(stars(), stars())
def test_strip_intersection_is_exact(p, q):
    p, q = polygons.ccw(p), polygons.ccw(q)
    assert polygons._strip_intersection_area(p, p) == pytest.approx(polygons.area(p), rel=1e-9, abs=1e-9)
    inter = polygons._strip_intersection_area(p, q)
    assert inter == pytest.approx(polygons._strip_intersection_area(q, p), rel=1e-9, abs=1e-7)
    assert -1e-7 <= inter <= min(polygons.area(p), polygons.area(q)) + 1e-7
    hp, hq = (
        polygons.convex_hull(p),
        polygons.convex_hull(q),
    )  # two independent methods agree on convex shapes
    if len(hp) >= 3 and len(hq) >= 3:
        assert polygons._strip_intersection_area(hp, hq) == pytest.approx(
            polygons.area(polygons.clip_convex(hp, hq)), rel=1e-9, abs=1e-7
        )


def test_points_and_lines_match_by_distance():
    p = {"type": "point", "label": "head", "x": 100, "y": 100}
    assert quality.similarity(p, p | {"x": 106, "y": 108}) == pytest.approx(0.5)  # 10 px away: just a match
    assert quality.similarity(p, p | {"x": 130}) == 0.0
    line = {
        "type": "line",
        "label": "curb",
        "vertices": [{"x": 0, "y": 0}, {"x": 50, "y": 0}, {"x": 100, "y": 0}],
    }
    drawn_backwards = line | {"vertices": [{"x": 100, "y": 0}, {"x": 0, "y": 0}]}
    assert quality.similarity(line, drawn_backwards) == pytest.approx(1.0)
    assert quality.similarity(
        line, line | {"vertices": [{"x": 0, "y": 4}, {"x": 100, "y": 4}]}
    ) == pytest.approx(0.8)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(boxes(), st.integers(min_value=1, max_value=6))
def test_fusion_of_identical_boxes_is_that_box(box, n):
    shapes, confidence = quality.consensus_shapes([[box] for _ in range(n)])
    assert shapes == [box | {"confidence": 1.0}]
    assert confidence == 1.0


def test_fusion_averages_matched_boxes_and_drops_those_below_quorum():
    car = {"type": "box", "label": "car", "left": 0, "top": 0, "width": 10, "height": 10}
    lone = {"type": "box", "label": "car", "left": 500, "top": 500, "width": 10, "height": 10}
    shapes, confidence = quality.consensus_shapes([[car], [car | {"left": 2}, lone], [car | {"left": 4}]])
    ious = [8 / 12, 6 / 14, 8 / 12]
    assert shapes == [
        car | {"left": 2.0, "top": 0.0, "width": 10.0, "height": 10.0, "confidence": round(sum(ious) / 3, 6)}
    ]
    assert confidence == pytest.approx(
        (sum(ious) / 3 + 2 / 3) / 2
    )  # the lone box: 2 of 3 agree it is not there
    # a label disagreement never matches
    assert quality.consensus_shapes([[car], [car | {"label": "bus"}], [car | {"label": "van"}]])[0] == []


def test_quorum_can_be_raised():
    car = {"type": "box", "label": "car", "left": 0, "top": 0, "width": 10, "height": 10}
    assert quality.consensus_shapes([[car], [car], []], quorum=3)[0] == []
    assert len(quality.consensus_shapes([[car], [car], []])[0]) == 1


def test_polygons_fuse_to_their_medoid_and_cuboids_vertex_by_vertex():
    def tri(dx):
        return {
            "type": "polygon",
            "label": "lane",
            "vertices": [
                {"x": 0 + dx, "y": 0},
                {"x": 100 + dx, "y": 0},
                {"x": 0 + dx, "y": 100},
            ],
        }

    shapes, _ = quality.consensus_shapes([[tri(0)], [tri(5)], [tri(10)]])
    assert shapes[0]["vertices"] == tri(5)["vertices"]

    def cube(dx):
        return {
            "type": "cuboid",
            "label": "truck",
            "vertices": [
                {"x": x + dx, "y": y}
                for x, y in [(0, 0), (30, 0), (30, 30), (0, 30), (10, 10), (40, 10), (40, 40), (10, 40)]
            ],
        }

    shapes, _ = quality.consensus_shapes([[cube(0)], [cube(2)]])
    assert [v["x"] for v in shapes[0]["vertices"]] == [1.0, 31.0, 31.0, 1.0, 11.0, 41.0, 41.0, 11.0]


def test_shape_f1_per_label():
    car = {"type": "box", "label": "car", "left": 0, "top": 0, "width": 10, "height": 10}
    far = car | {"left": 100}
    assert quality.score_shapes([car], [car]) == 1.0
    assert quality.score_shapes([car, far], [car]) == pytest.approx(2 / 3)  # one extra box
    assert quality.score_shapes([car | {"label": "bus"}], [car]) == 0.0  # two groups, each with a miss
    assert quality.score_shapes([car | {"left": 6}], [car]) == 0.0  # IoU 40/160 below 0.5
    assert quality.score_shapes([], []) == 1.0


def test_greedy_match_takes_the_best_pair_first():
    sim = lambda a, b: 1 - abs(a - b) / 10  # noqa: E731
    assert quality.greedy_match([0, 4], [4, 1], sim) == [(1, 0, 1.0), (0, 1, 0.9)]


# --- 3D ---------------------------------------------------------------------------------------------


@st.composite
def cuboids(draw):
    return {
        "uuid": "u",
        "label": "car",
        "frame": 0,
        "center": {k: draw(st.floats(-50, 50)) for k in "xyz"},
        "size": {k: draw(st.floats(0.5, 10)) for k in "xyz"},
        "yaw": draw(angle),
    }


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(cuboids(), cuboids())
def test_3d_iou_is_1_with_itself_and_symmetric(a, b):
    assert quality.iou_3d(a, a) == 1.0
    assert quality.iou_3d(a, b) == pytest.approx(quality.iou_3d(b, a), abs=1e-9)
    assert 0.0 <= quality.iou_3d(a, b) <= 1.0


def test_3d_iou_known_values():
    car = {
        "uuid": "u",
        "label": "car",
        "frame": 0,
        "center": {"x": 0, "y": 0, "z": 0},
        "size": {"x": 4, "y": 2, "z": 2},
        "yaw": 0,
    }
    assert quality.iou_3d(car, car | {"center": {"x": 2, "y": 0, "z": 0}}) == pytest.approx(1 / 3)
    assert quality.iou_3d(car, car | {"center": {"x": 0, "y": 0, "z": 1}}) == pytest.approx(1 / 3)
    assert quality.iou_3d(car, car | {"center": {"x": 0, "y": 0, "z": 3}}) == 0.0
    cube = car | {"size": {"x": 2, "y": 2, "z": 2}}
    assert quality.iou_3d(cube, cube | {"yaw": math.pi / 2}) == pytest.approx(1.0)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(cuboids(), st.integers(min_value=1, max_value=5))
def test_fusion_of_identical_cuboids_is_that_cuboid(c, n):
    fused, confidence = quality.consensus_cuboids([[c] for _ in range(n)])
    assert fused == [c | {"confidence": 1.0}]
    assert confidence == 1.0


def test_cuboids_match_only_within_a_frame():
    car = {
        "uuid": "u",
        "label": "car",
        "frame": 0,
        "center": {"x": 0, "y": 0, "z": 0},
        "size": {"x": 4, "y": 2, "z": 2},
        "yaw": 0,
    }
    assert quality.score_cuboids([car], [car | {"frame": 1}]) == 0.0
    fused, _ = quality.consensus_cuboids([[car], [car | {"yaw": 0.2, "center": {"x": 0.2, "y": 0, "z": 0}}]])
    assert fused[0]["yaw"] == pytest.approx(0.1)
    assert fused[0]["center"] == {"x": pytest.approx(0.1), "y": 0.0, "z": 0.0}


# --- video ------------------------------------------------------------------------------------------


def _track(frames, left=0, label="car", track_id="t"):
    return {
        "track_id": track_id,
        "label": label,
        "frames": [{"frame": f, "left": left, "top": 0, "width": 10, "height": 10} for f in frames],
    }


def test_track_similarity_is_mean_per_frame_iou_over_the_union_of_frames():
    assert quality.track_similarity(_track([0, 1, 2]), _track([0, 1, 2])) == 1.0
    assert quality.track_similarity(_track([0, 1, 2]), _track([1, 2, 3])) == pytest.approx(2 / 4)
    assert quality.track_similarity(_track([0, 1]), _track([0, 1], left=5)) == pytest.approx(50 / 150)


def test_tracks_fuse_frame_by_frame_and_are_renumbered():
    answers = [
        [_track([0, 1, 2], track_id="a")],
        [_track([0, 1, 2, 3], left=2, track_id="a")],
        [_track([1, 2], track_id="zz")],
    ]
    tracks, confidence = quality.consensus_tracks(answers)
    assert [t["track_id"] for t in tracks] == ["track-1"]
    # frame 3 is covered by one of three members only: dropped
    assert [(f["frame"], f["left"]) for f in tracks[0]["frames"]] == [
        (0, 1.0),
        (1, pytest.approx(2 / 3)),
        (2, pytest.approx(2 / 3)),
    ]
    assert 0 < confidence < 1


def test_track_f1_counts_a_partly_right_track_by_its_agreement():
    gold = [_track([0, 1, 2, 3])]
    assert quality.score_tracks(gold, gold) == 1.0
    assert quality.score_tracks([_track([0, 1, 2])], gold) == pytest.approx(0.75)
    assert quality.score_tracks([_track([0, 1, 2]), _track([0, 1, 2], left=500)], gold) == pytest.approx(
        2 * 0.75 / 3
    )


def test_the_quality_engine_is_pure():
    import ast
    from pathlib import Path

    package = Path(quality.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                assert not name.startswith(
                    ("django", "annotation.models", "annotation.services", "billing", "clients")
                ), (path, name)
