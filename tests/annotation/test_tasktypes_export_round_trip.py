"""Issue 5's round trip for every task type, end to end through the API: create the project and its
tasks → annotators claim and submit → the task completes with the consensus → export → the export
holds exactly what was stored. The image types also go through COCO (loaded by pycocotools), the
comparison types through preference JSON Lines, the categorical types through CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from pycocotools.coco import COCO

from annotation import services
from annotation.models import Task
from tests.annotation.tasktype_cases import CASES
from tests.annotation.test_tasktypes_api import annotator_api, bulk_create, claim, create_project, submit

pytestmark = pytest.mark.django_db

EXTRA_FORMATS = {
    "imageannotation": "coco",
    "comparison": "preference_jsonl",
    "categorization": "csv",
    "textcollection": "csv",
}


def _work_everything(api, case) -> tuple[str, list[str]]:
    project_id = create_project(api, case)
    task_ids = bulk_create(api, project_id, case, n=2)
    for answer in case.answers:
        worker = annotator_api()
        for _ in task_ids:
            done = submit(worker, claim(worker), answer)
            assert done.status_code == 200, done.content
    return project_id, task_ids


def _export(api, project_id, fmt: str, options: dict | None = None) -> bytes:
    created = api.post(
        f"/api/v1/projects/{project_id}/exports", {"format": fmt, "options": options or {}}, format="json"
    )
    assert created.status_code == 202, created.content
    services.export_run(export_id=created.json()["id"])  # what the exports worker runs
    detail = api.get(f"/api/v1/projects/{project_id}/exports/{created.json()['id']}").json()
    assert detail["status"] == "ready", detail
    download = api.get(detail["download_url"])
    assert download.status_code == 200
    return b"".join(download.streaming_content)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_type_round_trips_from_creation_to_export(api_a, case, tmp_path):
    project_id, task_ids = _work_everything(api_a, case)
    stored = {str(t.id): t for t in Task.objects.filter(id__in=task_ids)}
    assert {t.status for t in stored.values()} == {"completed"}

    records = [
        json.loads(line)
        for line in _export(api_a, project_id, "jsonl", {"include_answers": True}).splitlines()
    ]
    assert sorted(r["task_id"] for r in records) == sorted(task_ids)
    for record in records:
        task = stored[record["task_id"]]
        assert (record["type"], record["status"], record["params"], record["response"]) == (
            case.task_type,
            "completed",
            task.params,
            task.response,
        )
        assert sorted(json.dumps(a["answer"], sort_keys=True) for a in record["answers"]) == sorted(
            json.dumps(a, sort_keys=True) for a in case.answers
        )

    fmt = EXTRA_FORMATS.get(case.task_type)
    if fmt == "coco":
        path = tmp_path / "coco.json"
        path.write_bytes(_export(api_a, project_id, "coco"))
        coco = COCO(str(path))
        assert len(coco.getImgIds()) == 2
        # boxes, polygons and ellipses are one COCO annotation each (points become keypoints)
        shapes = [a for a in case.response["annotations"] if a["type"] in ("box", "polygon", "ellipse")]
        regions = [a for a in coco.loadAnns(coco.getAnnIds()) if "keypoints" not in a]
        assert len(regions) == 2 * len(shapes)
        box = next(a for a in shapes if a["type"] == "box")
        assert [box["left"], box["top"], box["width"], box["height"]] in [a["bbox"] for a in regions]
    elif fmt == "preference_jsonl":
        prefs = [json.loads(line) for line in _export(api_a, project_id, fmt).splitlines()]
        assert prefs and all(set(p) >= {"prompt", "chosen", "rejected"} for p in prefs)
        assert {p["prompt"] for p in prefs} == {case.params["prompt"]}
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(_export(api_a, project_id, fmt).decode())))
        assert sorted(r["task_id"] for r in rows) == sorted(task_ids)
