"""The COCO writer gives, byte for byte, the file its straightforward version gave (kept below as
the reference: ``annotation/exports/coco.py`` and ``geometry.py`` as of commit f14096d), for
shapes and tasks chosen to be awkward: numbers of every JSON kind (huge integers, NaN, infinities,
-0.0, floats that orjson and json spell differently), rotations that are no number, vertices that
are no points, unknown labels and types, unfused responses, images without a size (their ``null``
sends them through json), attributes orjson refuses, and batch boundaries anywhere."""

from __future__ import annotations

import io
import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation.exports import coco, source
from annotation.exports.common import single_answer
from core.jsontext import compact_bytes
from tests.annotation.export_factories import (  # noqa: F401 - media_root is a fixture
    ImageProjectFactory,
    image_task,
    media_root,
    run_export,
    submit,
)
from tests.annotation.factories import AnnotatorFactory

PROJECT_PARAMS = {
    "geometries": {
        "box": {"objects_to_annotate": ["car", {"choice": "pedestrian"}]},
        "polygon": {"objects_to_annotate": ["road", "car"]},
        "ellipse": {"objects_to_annotate": ["sign"]},
        "line": {"objects_to_annotate": ["lane"]},
        "point": {
            "objects_to_annotate": ["head", "left_hand", "right_hand"],
            "connections": [{"pair": ["head", "left_hand"]}, {"pair": ["head", "right_hand"]}],
        },
    }
}


# --- the reference: the writer before it was tuned (f14096d), unchanged but for names ------------


def ref_num(value):
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is not int and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def ref_rotate(points, cx, cy, angle):
    if not angle:
        return points
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in points]


def ref_box_corners(shape):
    left, top, width, height = (ref_num(shape.get(k)) for k in ("left", "top", "width", "height"))
    if None in (left, top, width, height) or width <= 0 or height <= 0:
        return None
    corners = [(left, top), (left + width, top), (left + width, top + height), (left, top + height)]
    return ref_rotate(corners, left + width / 2, top + height / 2, ref_num(shape.get("rotation")) or 0.0)


def ref_vertices(shape):
    out = []
    for vertex in shape.get("vertices") or []:
        x, y = (
            (ref_num(vertex.get("x")), ref_num(vertex.get("y"))) if isinstance(vertex, dict) else (None, None)
        )
        if x is None or y is None:
            return None
        out.append((x, y))
    return out


def ref_ellipse_polygon(shape):
    x, y, rx, ry = (ref_num(shape.get(k)) for k in ("x", "y", "rx", "ry"))
    if None in (x, y, rx, ry) or rx <= 0 or ry <= 0:
        return None
    points = [
        (x + rx * math.cos(2 * math.pi * i / 32), y + ry * math.sin(2 * math.pi * i / 32)) for i in range(32)
    ]
    return ref_rotate(points, x, y, ref_num(shape.get("rotation")) or 0.0)


def ref_envelope(points):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def ref_polygon_area(points):
    n = len(points)
    return (
        abs(
            sum(
                points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
                for i in range(n)
            )
        )
        / 2
    )


def ref_image_size(params):
    w, h = ref_num(params.get("attachment_width")), ref_num(params.get("attachment_height"))
    if w is None or h is None or w <= 0 or h <= 0:
        return None, None
    return (int(w) if w == int(w) else w), (int(h) if h == int(h) else h)


def ref_shapes(task, source_name):
    value = task.get("gold_answer") if source_name == "gold" else task.get("response")
    if value is None:
        return []
    answer = single_answer(value)
    if answer is None:
        return None
    annotations = answer.get("annotations")
    return [a for a in annotations if isinstance(a, dict)] if isinstance(annotations, list) else []


def ref_image_annotations(shapes, *, ids, keypoint, score, ctx):
    out = []
    instances = []
    for shape in shapes:
        kind, label = shape.get("type"), shape.get("label")
        if kind == "point":
            if keypoint is None or label not in keypoint["keypoints"]:
                ctx.count("unknown_labels")
                continue
            x, y = ref_num(shape.get("x")), ref_num(shape.get("y"))
            if x is None or y is None:
                ctx.count("invalid_shapes")
                continue
            target = next((inst for inst in instances if label not in inst), None)
            if target is None:
                target = {}
                instances.append(target)
            target[label] = (x, y)
            continue
        if kind in ("line", "cuboid"):
            ctx.count("shapes_not_in_coco")
            continue
        if label not in ids:
            ctx.count("unknown_labels")
            continue
        if kind == "box":
            corners = ref_box_corners(shape)
            if corners is None:
                ctx.count("invalid_shapes")
                continue
            area = float(shape["width"]) * float(shape["height"])
            polygon = corners
        elif kind == "polygon":
            polygon = ref_vertices(shape)
            if not polygon or len(polygon) < 3:
                ctx.count("invalid_shapes")
                continue
            area = ref_polygon_area(polygon)
        elif kind == "ellipse":
            polygon = ref_ellipse_polygon(shape)
            if polygon is None:
                ctx.count("invalid_shapes")
                continue
            area = math.pi * float(shape["rx"]) * float(shape["ry"])
        else:
            ctx.count("shapes_not_in_coco")
            continue
        upright_box = kind == "box" and not shape.get("rotation")
        own = ref_num(shape.get("score"))
        ann = {
            "category_id": ids[label], "bbox": None if upright_box else list(ref_envelope(polygon)),
            "area": area, "segmentation": [[c for point in polygon for c in point]], "iscrowd": 0,
            "score": own if own is not None else score,
        }  # fmt: skip
        if upright_box:
            ann["bbox"] = [
                float(shape["left"]),
                float(shape["top"]),
                float(shape["width"]),
                float(shape["height"]),
            ]
        if "uuid" in shape:
            ann["quorum_uuid"] = shape["uuid"]
        if shape.get("attributes"):
            ann["attributes"] = shape["attributes"]
        out.append(ann)
    for instance in instances:
        keypoints = []
        for name in keypoint["keypoints"]:
            x, y = instance.get(name, (0.0, 0.0))
            keypoints += [x, y, 2 if name in instance else 0]
        left, top, width, height = ref_envelope(list(instance.values()))
        out.append({
            "category_id": keypoint["id"], "keypoints": keypoints, "num_keypoints": len(instance),
            "bbox": [left, top, width, height], "area": width * height, "iscrowd": 0, "score": score,
        })  # fmt: skip
    return out


def ref_write(ctx, tasks, out, workdir) -> int:
    def dump(value):
        return compact_bytes(value, str)

    cats, ids, keypoint = coco.category_table(ctx.project_params)  # unchanged
    source_name = ctx.options.get("source", "response")
    info = {"description": "Quorum export", "version": "1.0", "quorum_source": source_name}
    out.write(b'{"info":' + dump(info) + b',"licenses":[],"categories":' + dump(cats) + b',"images":[')
    n = ann_id = 0
    with open(workdir / "coco-annotations.part", "w+b") as spill:
        for task in tasks:
            n += 1
            params = task["params"] or {}
            width, height = ref_image_size(params)
            if width is None:
                ctx.count("images_without_size")
            image = {"id": n, "file_name": params.get("attachment", ""), "width": width, "height": height,
                     "quorum_task_id": str(task["id"])}  # fmt: skip
            if task["unique_id"] is not None:
                image["quorum_unique_id"] = task["unique_id"]
            if ctx.include_answers:
                image["quorum_answers"] = task["answers"]
            out.write((b"," if n > 1 else b"") + dump(image))
            shapes = ref_shapes(task, source_name)
            if shapes is None:
                ctx.count("unfused_tasks")
                continue
            confidence = task["confidence"] if task["confidence"] is not None else ctx.confidence_default
            anns = ref_image_annotations(shapes, ids=ids, keypoint=keypoint, score=float(confidence), ctx=ctx)
            if anns:
                numbered = [{"id": ann_id + i, "image_id": n, **ann} for i, ann in enumerate(anns, 1)]
                spill.write((b"," if ann_id else b"") + dump(numbered)[1:-1])
                ann_id += len(anns)
        out.write(b'],"annotations":[')
        spill.seek(0)
        shutil.copyfileobj(spill, out)
    out.write(b"]}\n")
    ctx.count("annotations", ann_id)
    return n


# --- awkward inputs ------------------------------------------------------------------------------

# Mostly well-formed shapes with plain numbers (random floats: left + width - left is often not
# width), one value in ten awkward: a string, a bool, NaN, an infinity, an int too large for a float,
# or a float orjson and json spell differently (1e16: "1e16" and "1e+16").
PLAIN = st.one_of(
    st.integers(-100, 4000), st.floats(-1e4, 1e4, allow_nan=False), st.sampled_from([1e16, 1.5e-7])
)
AWKWARD = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.sampled_from([0, -0.0, 1e22, 5e-324, 1.5e300, 2**64, 10**400, True, False, None, "3", [1], {"x": 1}]),
)
NUMBER = st.integers(0, 9).flatmap(lambda i: AWKWARD if i == 0 else PLAIN)
EXTRA = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=3),
    st.sampled_from([1e16, 1e-7, {}, [], {"occluded": True}, [None], 2**65, {"n": 1e16}, {"z": None}]),
)  # fmt: skip
LABELS = {
    "box": ["car", "pedestrian"], "polygon": ["road", "car"], "ellipse": ["sign"], "line": ["lane"],
    "point": ["head", "left_hand", "right_hand"],
}  # fmt: skip
ANY_LABEL = st.sampled_from(["car", "road", "sign", "head", "bus", "", None, 3])
KEYS = {"box": ("left", "top", "width", "height"), "ellipse": ("x", "y", "rx", "ry"), "point": ("x", "y")}


@st.composite
def shapes(draw):
    kind = draw(st.sampled_from(["box", "box", "polygon", "polygon", "ellipse", "point", "point", "line",
                                 "cuboid", "circle", None, 7]))  # fmt: skip
    valid = draw(st.integers(0, 9)) > 0
    label = draw(st.sampled_from(LABELS[kind]) if valid and kind in LABELS else ANY_LABEL)
    shape = {"type": kind, "label": label}
    for key in KEYS.get(kind, ("left", "top", "width", "height", "x", "y")):
        if valid or draw(st.booleans()):
            shape[key] = draw(NUMBER)
    if kind in ("polygon", "line", "cuboid") or not valid:
        good = st.fixed_dictionaries({"x": NUMBER, "y": NUMBER})
        bad = st.one_of(st.fixed_dictionaries({"x": NUMBER}), st.sampled_from([None, "p", [1, 2], {}]))
        vertex = st.integers(0, 19).flatmap(lambda i: bad if i == 0 else good)
        shape["vertices"] = draw(
            st.lists(vertex, min_size=3, max_size=7)
            if valid
            else st.sampled_from([None, "", "ab", {}, [], [{}]])
        )
    for key, value in (
        ("rotation", st.one_of(NUMBER, st.sampled_from([0, 0.0, -0.0, "x", [], math.nan, math.inf]))),
        ("score", NUMBER),
        ("uuid", EXTRA),
        ("attributes", EXTRA | st.dictionaries(st.text(max_size=2), EXTRA, max_size=2)),
    ):
        if draw(st.booleans()):
            shape[key] = draw(value)
    return shape


RESPONSE = st.one_of(
    st.builds(lambda s: {"annotations": s}, st.lists(shapes() | st.sampled_from([None, 1, "x"]), max_size=6)),
    st.builds(lambda s: {"answers": [{"annotations": s}]}, st.lists(shapes(), max_size=3)),
    st.builds(
        lambda a, b: {"answers": [{"annotations": a}, {"annotations": b}]},
        st.lists(shapes(), max_size=2),
        st.lists(shapes(), max_size=2),
    ),  # fmt: skip
    st.sampled_from([None, {}, {"annotations": None}, {"annotations": "x"}, [], "text", {"answers": []}]),
)


@st.composite
def tasks(draw):
    params = {"attachment": draw(st.sampled_from(["a.jpg", "", "é😀\u2028"]))}
    for key in ("attachment_width", "attachment_height"):
        if draw(st.integers(0, 4)):
            params[key] = draw(NUMBER)
    if draw(st.integers(0, 8)) == 0:
        params = draw(st.sampled_from([None, {}]))
    answer = st.dictionaries(st.text(max_size=2), EXTRA, max_size=2)
    answers = [
        {"annotator": "anon_1", "answer": draw(answer), "status": "accepted"}
        for _ in range(draw(st.integers(0, 2)))
    ]
    return {
        "id": f"00000000-0000-0000-0000-{draw(st.integers(0, 10**6)):012d}",
        "unique_id": draw(st.one_of(st.none(), st.text(max_size=3))),
        "task_type": "imageannotation", "status": "completed", "params": params, "metadata": {"m": 1},
        "response": draw(RESPONSE), "confidence": draw(st.one_of(st.none(), st.floats(0, 1), st.just(1))),
        "is_gold": True, "gold_answer": draw(RESPONSE), "answers": answers,
    }  # fmt: skip


def context(options: dict) -> source.ExportContext:
    return source.ExportContext(project_params=PROJECT_PARAMS, task_type="imageannotation", options=options,
                                anon_salt="salt")  # fmt: skip


def outcome(write, options: dict, task_list: list[dict]):
    """(file bytes, report) of one writer, or the exception it raised (type and text)."""
    ctx = context(options)
    workdir = Path(tempfile.mkdtemp(prefix="coco-ref-"))
    out = io.BytesIO()
    try:
        count = write(ctx, iter(task_list), out, workdir)
    except (TypeError, ValueError) as exc:  # a shape the format cannot hold fails the export: in both
        return type(exc).__name__, str(exc)
    finally:
        shutil.rmtree(workdir)
    return out.getvalue(), ctx.report, count


def as_text(task: dict) -> dict:
    """The task as the export reads it for ``coco.RAW_JSON``: each JSON column (and answer) as text."""
    raw = {k: (None if task[k] is None else source.RawJSON(json.dumps(task[k]))) for k in source.JSON_FIELDS}
    answers = [{**a, "answer": source.RawJSON(json.dumps(a["answer"]))} for a in task["answers"]]
    return {**task, **raw, "answers": answers}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    task_list=st.lists(tasks(), max_size=7),
    options=st.sampled_from([{}, {"include_answers": True}, {"source": "gold"}]),
    batch=st.integers(1, 4),
)
def test_the_same_bytes_and_report_as_the_reference(task_list, options, batch):
    expected = outcome(ref_write, options, task_list)
    before, coco.BATCH = coco.BATCH, batch  # small, so that the examples cross its boundaries
    try:
        assert outcome(coco.write, options, task_list) == expected  # values as Django decodes them
        assert outcome(coco.write, options, [as_text(t) for t in task_list]) == expected  # as text
    finally:
        coco.BATCH = before


@pytest.mark.django_db
@pytest.mark.usefixtures("media_root")
@pytest.mark.parametrize("options", [{}, {"include_answers": True}, {"source": "gold"}])
def test_a_real_export_is_the_reference_file_of_the_decoded_rows(options):
    """Through the database: the job reads the JSON columns as text; the reference writer gets
    the rows as Django decodes them, over several chunks."""
    project = ImageProjectFactory(params=PROJECT_PARAMS)
    shape_sets = [
        [{"type": "box", "label": "car", "left": 12.5, "top": 40, "width": 220, "height": 96, "uuid": "b1",
          "attributes": {"big": 2**70, "f": 1e16}},
         {"type": "box", "label": "pedestrian", "left": 1, "top": 2, "width": 3, "height": 4, "rotation": 0.3,
          "score": 0.25},
         {"type": "polygon", "label": "road", "vertices": [{"x": 0, "y": 600}, {"x": 1280.5, "y": 600},
                                                           {"x": 1280, "y": 1e-7}]},
         {"type": "ellipse", "label": "sign", "x": 5, "y": 6, "rx": 2, "ry": 1, "rotation": 1}],
        [{"type": "point", "label": "head", "x": 1, "y": 2},
         {"type": "point", "label": "head", "x": 3, "y": 4},
         {"type": "point", "label": "left_hand", "x": 5.5, "y": 6}, {"type": "line", "label": "lane"},
         {"type": "box", "label": "car", "left": 10**400, "top": 0, "width": 1, "height": 1}],
        [{"type": "box", "label": "car", "left": 0.1, "top": 0.2, "width": 0.7, "height": 1, "rotation": "x"},
         {"type": "polygon", "label": "car", "vertices": [{"x": 1, "y": 2}, "p"]}],
    ]  # fmt: skip
    for i, shapes_ in enumerate(shape_sets * 3):
        task = image_task(project, attachment=f"{i}.jpg", width=[640, None, 99.5][i % 3], height=480,
                          response={"annotations": shapes_}, gold={"answers": [{"annotations": shapes_}]},
                          confidence=[None, 0.5, 1][i % 3], unique_id=f"u{i}" if i % 2 else None)  # fmt: skip
        submit(task, AnnotatorFactory(), answer={"annotations": shapes_, "n": 1e16})
    job, data = run_export(project, "coco", options, chunk_size=4)
    qs = source.task_queryset(job)
    rows = list(source.iter_tasks(source.task_chunks(queryset=qs, chunk_size=4, include_answers=True,
                                                     anon_salt=job.anon_salt)))  # fmt: skip
    expected, report, count = outcome(ref_write, {**job.options}, rows)
    assert data == expected and job.report == report and job.task_count == count == 9
