"""COCO and YOLO exports: loaded by the reference COCO API, scored by COCOeval against the gold
boxes, and parsed back to exactly the shapes stored."""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annotation.models import ExportJob
from tests.annotation.export_factories import (  # noqa: F401 - media_root is a fixture
    ImageProjectFactory,
    image_task,
    media_root,
    run_export,
    submit,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

BOX_ONLY = {"geometries": {"box": {"objects_to_annotate": ["car", "pedestrian"]}}}


def box(label, left, top, width, height, **extra):
    return {
        "type": "box",
        "label": label,
        "left": left,
        "top": top,
        "width": width,
        "height": height,
        **extra,
    }


def load_coco(data: bytes, tmp_path, name: str) -> COCO:
    path = tmp_path / f"{name}.json"
    path.write_bytes(data)
    return COCO(str(path))


def detections(data: bytes) -> list[dict]:
    doc = json.loads(data)
    return [{k: a[k] for k in ("image_id", "category_id", "bbox", "score")} for a in doc["annotations"]]


def coco_ap(gt: COCO, dets: list[dict]) -> tuple[float, COCOeval]:
    evaluation = COCOeval(gt, gt.loadRes(dets), iouType="bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0]), evaluation


def test_perfect_consensus_boxes_score_ap_1_against_gold(tmp_path):
    # given: three images whose fused response equals their gold boxes
    project = ImageProjectFactory(params=BOX_ONLY)
    shapes = [
        [box("car", 10, 20, 100, 50), box("pedestrian", 200, 40, 30, 80)],
        [box("car", 0, 0, 64, 64)],
        [box("pedestrian", 5, 5, 20, 60), box("pedestrian", 50, 5, 20, 60)],
    ]
    for i, boxes in enumerate(shapes):
        image_task(
            project,
            attachment=f"https://img.test/{i}.jpg",
            width=640,
            height=480,
            response={"annotations": boxes},
            gold={"annotations": boxes},
            confidence=0.9,
        )

    # when: the gold and the response are exported to COCO
    _, gold = run_export(project, "coco", {"source": "gold"})
    _, response = run_export(project, "coco")

    # then: pycocotools loads both, and COCOeval of the response as detections gives AP 1.0
    gt = load_coco(gold, tmp_path, "gold")
    assert len(gt.getImgIds()) == 3
    assert len(gt.getAnnIds()) == 5
    assert [c["name"] for c in gt.loadCats(gt.getCatIds())] == ["car", "pedestrian"]
    assert json.loads(gold)["images"] == json.loads(response)["images"]  # same image ids for the same tasks
    ap, _ = coco_ap(gt, detections(response))
    assert ap == pytest.approx(1.0)
    assert {d["score"] for d in detections(response)} == {0.9}


def test_one_shifted_box_gives_the_computed_ap(tmp_path):
    # given: two images with one gold box each; the first detection is exact (confidence 0.9),
    # the second is shifted 20 px right (IoU = 80/120 = 0.667) with confidence 0.8
    project = ImageProjectFactory(params=BOX_ONLY)
    image_task(
        project,
        attachment="https://img.test/a.jpg",
        width=400,
        height=300,
        response={"annotations": [box("car", 0, 0, 100, 100)]},
        gold={"annotations": [box("car", 0, 0, 100, 100)]},
        confidence=0.9,
    )
    image_task(
        project,
        attachment="https://img.test/b.jpg",
        width=400,
        height=300,
        response={"answers": [{"annotations": [box("car", 70, 50, 100, 100)]}]},  # collect form, one answer
        gold={"annotations": [box("car", 50, 50, 100, 100)]},
        confidence=0.8,
    )

    _, gold = run_export(project, "coco", {"source": "gold"})
    _, response = run_export(project, "coco")
    ap, evaluation = coco_ap(load_coco(gold, tmp_path, "gold"), detections(response))

    # then: at IoU thresholds 0.50-0.65 both match (AP 1); at 0.70-0.95 only the exact one does,
    # so precision is 1 up to recall 0.5 and nothing beyond (AP = share of recall points <= 0.5)
    iou = 80 / 120
    thresholds = evaluation.params.iouThrs
    matched = int(np.sum(thresholds <= iou))
    assert matched == 4
    half = float(np.sum(evaluation.params.recThrs <= 0.5)) / len(evaluation.params.recThrs)
    expected = (matched * 1.0 + (len(thresholds) - matched) * half) / len(thresholds)
    assert ap == pytest.approx(expected)
    assert 0.7 < ap < 0.71


def test_coco_carries_polygons_ellipses_keypoints_and_image_sizes(tmp_path):
    # given: a project with every geometry; one image holds each shape kind, one has no size
    project = ImageProjectFactory()
    polygon = {
        "type": "polygon",
        "label": "road",
        "vertices": [{"x": 0, "y": 0}, {"x": 40, "y": 0}, {"x": 40, "y": 30}],
    }
    ellipse = {"type": "ellipse", "label": "sign", "x": 50, "y": 50, "rx": 10, "ry": 5}
    points = [
        {"type": "point", "label": "head", "x": 10, "y": 5},
        {"type": "point", "label": "left_hand", "x": 4, "y": 20},
        {"type": "point", "label": "head", "x": 60, "y": 8},  # the second person's head
    ]
    line = {"type": "line", "label": "car", "vertices": [{"x": 0, "y": 0}, {"x": 5, "y": 5}]}
    first = image_task(
        project,
        attachment="https://img.test/full.jpg",
        width=100,
        height=80,
        unique_id="frame-1",
        response={
            "annotations": [
                box("car", 1, 2, 3, 4, uuid="b-1", attributes={"occluded": True}),
                polygon,
                ellipse,
                *points,
                line,
            ]
        },
    )
    image_task(
        project,
        attachment="https://img.test/nosize.jpg",
        response={"annotations": [box("pedestrian", 1, 1, 5, 5)]},
    )

    job, data = run_export(project, "coco")
    coco = load_coco(data, tmp_path, "all")

    cats = {c["name"]: c for c in coco.loadCats(coco.getCatIds())}
    assert list(cats) == ["car", "pedestrian", "road", "sign", "keypoints"]
    assert cats["keypoints"]["keypoints"] == ["head", "left_hand", "right_hand"]
    assert cats["keypoints"]["skeleton"] == [[1, 2], [1, 3]]
    images = coco.loadImgs(coco.getImgIds())
    assert [(i["file_name"], i["width"], i["height"]) for i in images] == [
        ("https://img.test/full.jpg", 100, 80),
        ("https://img.test/nosize.jpg", None, None),
    ]
    assert images[0]["quorum_task_id"] == str(first.id) and images[0]["quorum_unique_id"] == "frame-1"
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[images[0]["id"]]))
    by_cat = {}
    for ann in anns:
        by_cat.setdefault(ann["category_id"], []).append(ann)
    (car,) = by_cat[cats["car"]["id"]]
    assert car["bbox"] == [1.0, 2.0, 3.0, 4.0] and car["area"] == 12.0
    assert car["quorum_uuid"] == "b-1" and car["attributes"] == {"occluded": True}
    (road,) = by_cat[cats["road"]["id"]]
    assert (
        road["segmentation"] == [[0, 0, 40, 0, 40, 30]]
        and road["area"] == 600.0
        and road["bbox"] == [0, 0, 40, 30]
    )
    assert coco.annToMask(road).sum() == pytest.approx(600, rel=0.1)  # the image size makes masks decodable
    (sign,) = by_cat[cats["sign"]["id"]]
    assert sign["area"] == pytest.approx(math.pi * 50)
    assert sign["bbox"] == pytest.approx([40, 45, 20, 10])
    people = by_cat[cats["keypoints"]["id"]]
    assert [p["keypoints"] for p in people] == [[10, 5, 2, 4, 20, 2, 0, 0, 0], [60, 8, 2, 0, 0, 0, 0, 0, 0]]
    assert [p["num_keypoints"] for p in people] == [2, 1]
    assert job.task_count == 2
    assert job.report == {"annotations": 6, "images_without_size": 1, "shapes_not_in_coco": 1}


def test_coco_without_fused_answers_keeps_the_image_and_reports_it(tmp_path):
    project = ImageProjectFactory(params=BOX_ONLY)
    image_task(
        project,
        attachment="https://img.test/x.jpg",
        width=10,
        height=10,
        response={"answers": [{"annotations": [box("car", 0, 0, 2, 2)]}, {"annotations": []}]},
    )
    job, data = run_export(project, "coco")
    doc = json.loads(data)
    assert len(doc["images"]) == 1 and doc["annotations"] == []
    assert job.report == {"annotations": 0, "unfused_tasks": 1}


def parse_yolo(data: bytes) -> tuple[list[str], dict[str, list[str]], list[dict]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        classes = archive.read("classes.txt").decode().splitlines()
        labels = {
            n: archive.read(n).decode().splitlines() for n in archive.namelist() if n.startswith("labels/")
        }
        manifest = [json.loads(line) for line in archive.read("manifest.jsonl").decode().splitlines()]
    return classes, labels, manifest


def test_yolo_parses_back_to_the_stored_boxes_and_skips_images_without_size():
    # given: images with boxes (one rotated by 0), an empty one, and one without a size
    project = ImageProjectFactory(params=BOX_ONLY)
    stored = {
        "a": (640, 480, [box("car", 10.5, 20.25, 100, 50), box("pedestrian", 200, 40, 30, 80)]),
        "b": (1920, 1080, [box("pedestrian", 0, 0, 1920, 1080)]),
        "c": (300, 300, []),
    }
    tasks = {
        key: image_task(
            project,
            attachment=f"https://img.test/{key}.jpg",
            width=w,
            height=h,
            unique_id=key,
            response={"annotations": boxes},
        )
        for key, (w, h, boxes) in stored.items()
    }
    skipped = image_task(
        project,
        attachment="https://img.test/nosize.jpg",
        width=300,
        response={"annotations": [box("car", 1, 1, 2, 2)]},
    )

    job, data = run_export(project, "yolo", chunk_size=2)
    classes, labels, manifest = parse_yolo(data)

    # then: classes.txt, one label file per sized image, and every box back in pixels
    assert classes == ["car", "pedestrian"]
    assert set(labels) == {f"labels/{t.id}.txt" for t in tasks.values()}
    for key, (w, h, boxes) in stored.items():
        lines = labels[f"labels/{tasks[key].id}.txt"]
        assert len(lines) == len(boxes)
        for line, original in zip(lines, boxes, strict=True):
            cls, cx, cy, bw, bh = line.split()
            assert classes[int(cls)] == original["label"]
            cx, cy, bw, bh = float(cx), float(cy), float(bw), float(bh)
            assert (cx - bw / 2) * w == pytest.approx(original["left"], abs=1e-9)
            assert (cy - bh / 2) * h == pytest.approx(original["top"], abs=1e-9)
            assert bw * w == pytest.approx(original["width"], abs=1e-9)
            assert bh * h == pytest.approx(original["height"], abs=1e-9)
    assert manifest == [
        *(
            {
                "task_id": str(tasks[k].id),
                "unique_id": k,
                "attachment": f"https://img.test/{k}.jpg",
                "label_file": f"labels/{tasks[k].id}.txt",
                "status": "exported",
            }
            for k in "abc"
        ),
        {
            "task_id": str(skipped.id),
            "attachment": "https://img.test/nosize.jpg",
            "label_file": None,
            "status": "skipped",
            "reason": "missing_image_size",
        },
    ]
    assert job.task_count == 4
    assert job.report == {"boxes": 3, "skipped_without_size": 1}


def test_yolo_clips_boxes_to_the_image_and_drops_other_shapes():
    project = ImageProjectFactory()
    image_task(
        project,
        attachment="https://img.test/a.jpg",
        width=100,
        height=100,
        response={
            "annotations": [
                box("car", -10, 90, 20, 20),  # clipped to x 0..10, y 90..100
                box("car", 150, 150, 10, 10),  # outside
                {
                    "type": "polygon",
                    "label": "road",
                    "vertices": [{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1}],
                },
            ]
        },
    )
    job, data = run_export(project, "yolo")
    _, labels, _ = parse_yolo(data)
    (lines,) = labels.values()
    assert lines == ["0 0.05 0.95 0.1 0.1"]
    assert job.report == {"boxes": 1, "boxes_outside_image": 1, "shapes_not_in_yolo": 1}


def test_geometry_formats_refuse_other_task_types(api_a, client_a):
    from tests.annotation.factories import ProjectFactory

    project = ProjectFactory(client=client_a)
    for export_format in ("coco", "yolo"):
        response = api_a.post(
            f"/api/v1/projects/{project.id}/exports", {"format": export_format}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "format_not_supported"
    assert not ExportJob.objects.exists()
