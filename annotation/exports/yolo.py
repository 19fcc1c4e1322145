"""YOLO (Darknet / Ultralytics detection labels) for ``imageannotation`` projects: a zip of

- ``classes.txt``: one class name per line; the line number (from 0) is the class index. The
  classes are the project's object categories, in the COCO export's order;
- ``labels/<task_id>.txt``: one line per box, ``class cx cy w h``, normalized by the image size
  (``params.attachment_width`` / ``attachment_height``), written with Python's shortest exact
  float repr. An image without boxes gets an empty file (a background image for YOLO). Rotated
  boxes are written as their axis-aligned envelope; boxes are clipped to the image; a box that
  is empty after clipping is dropped (``boxes_outside_image``). Other shapes are not YOLO
  detection labels (``shapes_not_in_yolo``);
- ``manifest.jsonl``: one line per task ``{"task_id", "unique_id"?, "attachment", "label_file",
  "status": "exported" | "skipped", "reason"?}``. A task without a usable image size cannot be
  normalized: it is **skipped** (no label file; ``reason: "missing_image_size"``), and counted
  in the job's report as ``skipped_without_size``. Labels are named by task id because
  attachment names may repeat; the manifest maps each label file to its image URL.

Shapes are chosen as in the COCO export (response or, with ``source="gold"``, gold answers;
several unfused answers → ``unfused_tasks``, label file empty). The zip is written entry by
entry; the manifest goes to a spill file first, so memory stays at one chunk of tasks.
"""

from __future__ import annotations

import zipfile

from annotation.exports import geometry
from annotation.exports.common import json_line

EXTENSION = "zip"
CONTENT_TYPE = "application/zip"
SUPPORTED_TYPES = {"imageannotation"}


def label_lines(
    shapes: list[dict], *, classes: dict[str, int], width: float, height: float, ctx
) -> list[str]:
    lines = []
    for shape in shapes:
        if shape.get("type") != "box":
            ctx.count("shapes_not_in_yolo")
            continue
        if shape.get("label") not in classes:
            ctx.count("unknown_labels")
            continue
        corners = geometry.box_corners(shape)
        if corners is None:
            ctx.count("invalid_shapes")
            continue
        left, top, w, h = geometry.envelope(corners)
        x0, y0 = max(left, 0.0), max(top, 0.0)
        x1, y1 = min(left + w, float(width)), min(top + h, float(height))
        if x1 <= x0 or y1 <= y0:
            ctx.count("boxes_outside_image")
            continue
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        nw, nh = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{classes[shape['label']]} {cx!r} {cy!r} {nw!r} {nh!r}")
    return lines


def write(ctx, tasks, out, workdir) -> int:
    names = geometry.categories(ctx.project_params)
    classes = {name: i for i, name in enumerate(names)}
    source = ctx.options.get("source", "response")
    n = 0
    manifest_path = workdir / "yolo-manifest.part"
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        open(manifest_path, "wb") as manifest,
    ):
        archive.writestr("classes.txt", "".join(f"{name}\n" for name in names))
        for task in tasks:
            n += 1
            params = task["params"] or {}
            entry = {"task_id": str(task["id"])}
            if task["unique_id"] is not None:
                entry["unique_id"] = task["unique_id"]
            entry["attachment"] = params.get("attachment", "")
            width, height = geometry.image_size(params)
            if width is None:
                ctx.count("skipped_without_size")
                manifest.write(
                    json_line(
                        {**entry, "label_file": None, "status": "skipped", "reason": "missing_image_size"}
                    )
                )
                continue
            shapes = geometry.shapes(task, source)
            if shapes is None:
                ctx.count("unfused_tasks")
                shapes = []
            lines = label_lines(shapes, classes=classes, width=width, height=height, ctx=ctx)
            label_file = f"labels/{task['id']}.txt"
            archive.writestr(label_file, "".join(f"{line}\n" for line in lines))
            ctx.count("boxes", len(lines))
            manifest.write(json_line({**entry, "label_file": label_file, "status": "exported"}))
        manifest.close()
        archive.write(manifest_path, "manifest.jsonl")
    return n
