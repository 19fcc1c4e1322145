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

Streaming: images are written as they come; annotations go to a spill file in the job's work
directory and are appended at the end, so memory stays at one chunk of tasks.
"""

from __future__ import annotations

import math
import shutil

from annotation.exports import geometry
from core.jsontext import compact_bytes

EXTENSION = "json"
CONTENT_TYPE = "application/json"
SUPPORTED_TYPES = {"imageannotation"}
KEYPOINT_CATEGORY = "keypoints"


def _dump(value) -> bytes:
    # orjson through core.jsontext (json's encoder was the largest single cost in a profile): the
    # same compact JSON; NaN and infinities still refused, other values as text (default=str).
    return compact_bytes(value, str)


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


def _flat(points) -> list[float]:
    return [c for point in points for c in point]


def image_annotations(
    shapes: list[dict], *, ids: dict[str, int], keypoint: dict | None, score: float, ctx
) -> list[dict]:
    """COCO annotations (without ``id`` / ``image_id``) for one image's shapes."""
    out: list[dict] = []
    instances: list[dict] = []  # keypoint instances: label -> (x, y)
    for shape in shapes:
        kind, label = shape.get("type"), shape.get("label")
        if kind == "point":
            if keypoint is None or label not in keypoint["keypoints"]:
                ctx.count("unknown_labels")
                continue
            x, y = geometry._num(shape.get("x")), geometry._num(shape.get("y"))
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
            corners = geometry.box_corners(shape)
            if corners is None:
                ctx.count("invalid_shapes")
                continue
            area = float(shape["width"]) * float(shape["height"])
            polygon = corners
        elif kind == "polygon":
            polygon = geometry.vertices(shape)
            if not polygon or len(polygon) < 3:
                ctx.count("invalid_shapes")
                continue
            area = geometry.polygon_area(polygon)
        elif kind == "ellipse":
            polygon = geometry.ellipse_polygon(shape)
            if polygon is None:
                ctx.count("invalid_shapes")
                continue
            area = math.pi * float(shape["rx"]) * float(shape["ry"])
        else:
            ctx.count("shapes_not_in_coco")
            continue
        upright_box = kind == "box" and not shape.get("rotation")
        ann = {
            "category_id": ids[label], "bbox": None if upright_box else list(geometry.envelope(polygon)),
            "area": area, "segmentation": [_flat(polygon)], "iscrowd": 0, "score": _score(shape, score),
        }  # fmt: skip
        if upright_box:
            ann["bbox"] = [
                float(shape["left"]),
                float(shape["top"]),
                float(shape["width"]),
                float(shape["height"]),
            ]
        _extras(ann, shape)
        out.append(ann)
    for instance in instances:
        keypoints: list[float] = []
        for name in keypoint["keypoints"]:
            x, y = instance.get(name, (0.0, 0.0))
            keypoints += [x, y, 2 if name in instance else 0]
        left, top, width, height = geometry.envelope(list(instance.values()))
        out.append({
            "category_id": keypoint["id"], "keypoints": keypoints, "num_keypoints": len(instance),
            "bbox": [left, top, width, height], "area": width * height, "iscrowd": 0, "score": score,
        })  # fmt: skip
    return out


def _score(shape: dict, default: float) -> float:
    own = geometry._num(shape.get("score"))
    return own if own is not None else default


def _extras(ann: dict, shape: dict) -> None:
    if "uuid" in shape:
        ann["quorum_uuid"] = shape["uuid"]
    if shape.get("attributes"):
        ann["attributes"] = shape["attributes"]


def write(ctx, tasks, out, workdir) -> int:
    cats, ids, keypoint = category_table(ctx.project_params)
    source = ctx.options.get("source", "response")
    info = {"description": "Quorum export", "version": "1.0", "quorum_source": source}
    out.write(b'{"info":' + _dump(info) + b',"licenses":[],"categories":' + _dump(cats) + b',"images":[')
    n = ann_id = 0
    with open(workdir / "coco-annotations.part", "w+b") as spill:
        for task in tasks:
            n += 1
            params = task["params"] or {}
            width, height = geometry.image_size(params)
            if width is None:
                ctx.count("images_without_size")
            image = {"id": n, "file_name": params.get("attachment", ""), "width": width, "height": height,
                     "quorum_task_id": str(task["id"])}  # fmt: skip
            if task["unique_id"] is not None:
                image["quorum_unique_id"] = task["unique_id"]
            if ctx.include_answers:
                image["quorum_answers"] = task["answers"]
            out.write((b"," if n > 1 else b"") + _dump(image))
            shapes = geometry.shapes(task, source)
            if shapes is None:
                ctx.count("unfused_tasks")
                continue
            confidence = task["confidence"] if task["confidence"] is not None else ctx.confidence_default
            anns = image_annotations(shapes, ids=ids, keypoint=keypoint, score=float(confidence), ctx=ctx)
            if anns:  # one encoder call per image: its annotations as a JSON array, brackets dropped
                numbered = [{"id": ann_id + i, "image_id": n, **ann} for i, ann in enumerate(anns, 1)]
                spill.write((b"," if ann_id else b"") + _dump(numbered)[1:-1])
                ann_id += len(anns)
        out.write(b'],"annotations":[')
        spill.seek(0)
        shutil.copyfileobj(spill, out)
    out.write(b"]}\n")
    ctx.count("annotations", ann_id)
    return n
