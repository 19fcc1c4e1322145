"""COCO (object detection, instance segmentation, keypoints) for ``imageannotation`` projects.

One JSON document ``{"info", "licenses", "categories", "images", "annotations"}``:

- one image per exported task, ids 1, 2, … in task id order; ``file_name`` is the task's
  ``attachment`` URL; ``width`` / ``height`` come from ``params.attachment_width`` /
  ``attachment_height``. When either is missing they are ``null`` (COCO's bbox tools, including
  ``pycocotools`` COCOeval with ``iouType="bbox"``, do not need them; mask decoding does), and the
  job's report counts ``images_without_size``. Each image also carries ``quorum_task_id`` (and
  ``quorum_unique_id``), and with ``include_answers`` ``quorum_answers``: every individual answer
  with its anonymous annotator id;
- categories 1…n from the project's ``geometries.*.objects_to_annotate`` (box, polygon, line,
  ellipse, cuboid labels, without repeats); when the project has a ``point`` geometry, one more
  category ``keypoints`` whose ``keypoints`` are the point labels and whose ``skeleton`` comes
  from its ``connections``;
- annotations (ids from 1): box → ``bbox`` ``[left, top, width, height]`` and its rectangle as
  ``segmentation`` (a rotated box: its rotated corners, and the axis-aligned envelope as bbox);
  polygon → ``segmentation`` and its envelope; ellipse → a 32-gon ``segmentation``, area π·rx·ry;
  points → keypoint instances (the k-th point of each label in an answer belongs to instance k;
  absent labels have visibility 0). Lines and cuboids have no COCO form: counted in the report
  (``shapes_not_in_coco``), not exported. Each annotation has ``score`` (the shape's own
  ``score``, else the task's confidence, else 1.0), so the file also serves as COCO detection
  results; ``quorum_uuid`` and ``attributes`` are kept when the shape has them.

Shapes come from the aggregated response (fused ``{"annotations": [...]}``); with option
``source="gold"`` from the gold answers instead (ground truth for COCOeval). A response still in the
``collect`` form (``{"answers": [...]}``) is used when it holds one answer; with several (not fused
yet) the image is exported without annotations and counted as ``unfused_tasks``.

Streaming: images are written every ``BATCH`` images, one encoder call for the batch (and one for
its annotations, which go to a spill file in the job's work directory and are appended at the end),
so memory stays at one chunk of tasks. The JSON columns come as text (``RAW_JSON``) and only those
this format reads are decoded.
"""

from __future__ import annotations

import math
import shutil

import orjson

from annotation.exports import geometry
from annotation.exports.source import RawJSON
from core.jsontext import compact_bytes

EXTENSION = "json"
CONTENT_TYPE = "application/json"
SUPPORTED_TYPES = {"imageannotation"}
KEYPOINT_CATEGORY = "keypoints"
RAW_JSON = True  # the JSON columns arrive as text: only params, the shapes' column and answers are decoded
BATCH = 500  # images (and their annotations) per encoder call


def _dump(value) -> bytes:
    # orjson through core.jsontext (json's encoder was the largest single cost in a profile): the
    # same compact JSON; NaN and infinities still refused, other values as text (default=str).
    return compact_bytes(value, str)


def _decoded(value):
    """A JSON column's value: decoded here when it came as text (``RAW_JSON``). The same
    ``json.loads`` of the same text as Django's ``JSONField`` would run, and only for the columns
    this format reads (not ``metadata``, nor the shapes' other column)."""
    return value.decoded() if type(value) is RawJSON else value


def _dump_orjson(value) -> bytes | None:
    """orjson's text of ``value`` when ``_dump`` would keep it (orjson takes the value and writes
    no ``null``), else None."""
    try:
        data = orjson.dumps(value, default=str)
    except TypeError:  # orjson.JSONEncodeError
        return None
    return None if b"null" in data else data


def _dump_images(images: list[dict]) -> bytes:
    """``b",".join(_dump(image) for image in images)``, in one encoder call when that gives the
    same bytes. ``_dump`` sends a value through json when orjson refuses it or writes a ``null``,
    and json may spell a float differently, so each image must take the route it would take
    alone: when orjson takes the whole list and writes no ``null`` (which cannot straddle the
    commas between images), every image alone would have taken orjson too; otherwise one by one."""
    data = _dump_orjson(images)
    return b",".join(map(_dump, images)) if data is None else data[1:-1]


def _dump_annotations(groups: list[list[dict]]) -> bytes:
    """The annotations of several images, comma separated, as ``_dump`` gave them one image at a
    time (each image's list with its brackets dropped): in one call when that gives the same
    bytes, as ``_dump_images`` argues."""
    data = _dump_orjson([ann for group in groups for ann in group])
    return b",".join(_dump(group)[1:-1] for group in groups) if data is None else data[1:-1]


def category_table(project_params: dict) -> tuple[list[dict], dict[str, int], dict | None]:
    names = geometry.categories(project_params)
    cats = [{"id": i + 1, "name": name, "supercategory": "object"} for i, name in enumerate(names)]
    ids = {name: i + 1 for i, name in enumerate(names)}
    kp_names, skeleton = geometry.keypoint_schema(project_params)
    keypoint = None
    if kp_names:
        keypoint = {
            "id": len(cats) + 1, "name": KEYPOINT_CATEGORY, "supercategory": "point",
            "keypoints": kp_names, "skeleton": skeleton,
        }  # fmt: skip
        cats.append(keypoint)
    return cats, ids, keypoint


def _outline(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """(bbox, flat segmentation) of a polygon given as points: ``geometry.envelope`` and the
    points' coordinates in one list."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    left, top = min(xs), min(ys)
    return [left, top, max(xs) - left, max(ys) - top], [c for point in points for c in point]


def _polygon(vertices, num) -> tuple[list[float], list[float], float] | None:
    """(bbox, flat segmentation, area) of a polygon's ``vertices``, None unless it has three
    vertices at least, each ``{"x", "y"}`` with numbers; the area by the shoelace formula, its
    terms summed in vertex order, in one pass over flat coordinate lists."""
    flat: list[float] = []
    for vertex in vertices or []:
        if not isinstance(vertex, dict):
            return None
        x, y = num(vertex.get("x")), num(vertex.get("y"))
        if x is None or y is None:
            return None
        flat += (x, y)
    if len(flat) < 6:
        return None
    xs, ys = flat[0::2], flat[1::2]
    left, top = min(xs), min(ys)
    # the shoelace terms x[i] * y[i+1] - x[i+1] * y[i], summed in vertex order
    terms = (
        x0 * y1 - x1 * y0 for x0, y0, x1, y1 in zip(xs, ys, xs[1:] + xs[:1], ys[1:] + ys[:1], strict=True)
    )
    return [left, top, max(xs) - left, max(ys) - top], flat, abs(sum(terms)) / 2


def image_annotations(
    shapes: list[dict],
    *,
    ids: dict[str, int],
    keypoint: dict | None,
    score: float,
    ctx,
    image_id: int = 0,
    first_id: int = 1,
) -> list[dict]:
    """COCO annotations for one image's shapes, numbered from ``first_id``.

    An export converts every shape of every image (40,000 in the 10,000-task benchmark), so this
    is written flat: no helper call, generator or intermediate point list per shape where a plain
    expression does. The arithmetic is the straightforward version's operation for operation (kept
    in tests/annotation/test_export_coco_reference.py, which holds the two to the same bytes), so
    every float comes out bit for bit as before; an upright box's corners are written out directly
    (its envelope is the box itself, and rotating by 0 leaves the corners as they are)."""
    num = geometry._num
    out: list[dict] = []
    instances: list[dict] = []  # keypoint instances: label -> (x, y)
    for shape in shapes:
        kind, label = shape.get("type"), shape.get("label")
        if kind == "point":
            if keypoint is None or label not in keypoint["keypoints"]:
                ctx.count("unknown_labels")
                continue
            x, y = num(shape.get("x")), num(shape.get("y"))
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
            left, top = num(shape.get("left")), num(shape.get("top"))
            width, height = num(shape.get("width")), num(shape.get("height"))
            if left is None or top is None or width is None or height is None or width <= 0 or height <= 0:
                ctx.count("invalid_shapes")
                continue
            right, bottom = left + width, top + height
            rotation = shape.get("rotation")
            if not rotation:  # upright: its rectangle, and the box itself as bbox
                bbox = [left, top, width, height]
                flat = [left, top, right, top, right, bottom, left, bottom]
            else:  # a rotation that is no number leaves the corners in place; the bbox is their envelope
                corners = [(left, top), (right, top), (right, bottom), (left, bottom)]
                angle = num(rotation) or 0.0
                bbox, flat = _outline(geometry._rotate(corners, left + width / 2, top + height / 2, angle))
            area = width * height
        elif kind == "polygon":
            outline = _polygon(shape.get("vertices"), num)
            if outline is None:
                ctx.count("invalid_shapes")
                continue
            bbox, flat, area = outline
        elif kind == "ellipse":
            polygon = geometry.ellipse_polygon(shape)
            if polygon is None:
                ctx.count("invalid_shapes")
                continue
            bbox, flat = _outline(polygon)
            area = math.pi * num(shape.get("rx")) * num(shape.get("ry"))
        else:
            ctx.count("shapes_not_in_coco")
            continue
        own = num(shape.get("score"))
        ann = {
            "id": first_id + len(out), "image_id": image_id, "category_id": ids[label], "bbox": bbox,
            "area": area, "segmentation": [flat], "iscrowd": 0, "score": score if own is None else own,
        }  # fmt: skip
        if "uuid" in shape:
            ann["quorum_uuid"] = shape["uuid"]
        attributes = shape.get("attributes")
        if attributes:
            ann["attributes"] = attributes
        out.append(ann)
    for instance in instances:
        keypoints: list[float] = []
        for name in keypoint["keypoints"]:
            x, y = instance.get(name, (0.0, 0.0))
            keypoints += [x, y, 2 if name in instance else 0]
        left, top, width, height = geometry.envelope(list(instance.values()))
        out.append({
            "id": first_id + len(out), "image_id": image_id, "category_id": keypoint["id"],
            "keypoints": keypoints, "num_keypoints": len(instance), "bbox": [left, top, width, height],
            "area": width * height, "iscrowd": 0, "score": score,
        })  # fmt: skip
    return out


def write(ctx, tasks, out, workdir) -> int:
    cats, ids, keypoint = category_table(ctx.project_params)
    source = ctx.options.get("source", "response")
    include_answers, confidence_default = ctx.include_answers, ctx.confidence_default
    shapes_from = "gold_answer" if source == "gold" else "response"
    info = {"description": "Quorum export", "version": "1.0", "quorum_source": source}
    out.write(b'{"info":' + _dump(info) + b',"licenses":[],"categories":' + _dump(cats) + b',"images":[')
    n = ann_id = 0
    images: list[dict] = []  # encoded and written every BATCH images (memory: one batch)
    groups: list[list[dict]] = []  # the batch's annotations, one list per image that has any
    spilled = False
    with open(workdir / "coco-annotations.part", "w+b") as spill:
        for task in tasks:
            n += 1
            params = _decoded(task["params"]) or {}
            width, height = geometry.image_size(params)
            if width is None:
                ctx.count("images_without_size")
            image = {"id": n, "file_name": params.get("attachment", ""), "width": width, "height": height,
                     "quorum_task_id": str(task["id"])}  # fmt: skip
            if task["unique_id"] is not None:
                image["quorum_unique_id"] = task["unique_id"]
            if include_answers:
                image["quorum_answers"] = [{**a, "answer": _decoded(a["answer"])} for a in task["answers"]]
            images.append(image)
            shapes = geometry.answer_shapes(_decoded(task[shapes_from]))
            if shapes is None:
                ctx.count("unfused_tasks")
            else:
                confidence = task["confidence"] if task["confidence"] is not None else confidence_default
                anns = image_annotations(
                    shapes, ids=ids, keypoint=keypoint, score=float(confidence), ctx=ctx, image_id=n,
                    first_id=ann_id + 1,
                )  # fmt: skip
                if anns:
                    groups.append(anns)
                    ann_id += len(anns)
            if len(images) == BATCH:
                out.write((b"," if n > BATCH else b"") + _dump_images(images))
                if groups:
                    spill.write((b"," if spilled else b"") + _dump_annotations(groups))
                    spilled = True
                images, groups = [], []
        if images:
            out.write((b"," if n > len(images) else b"") + _dump_images(images))
        if groups:
            spill.write((b"," if spilled else b"") + _dump_annotations(groups))
        out.write(b'],"annotations":[')
        spill.seek(0)
        shutil.copyfileobj(spill, out)
    out.write(b"]}\n")
    ctx.count("annotations", ann_id)
    return n
