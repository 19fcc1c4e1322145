"""Pre-labels (``hypothesis``): checked like answers in bulk creation and on Scale's
``/v1/task/imageannotation``, the annotator's starting state when the project shows it, never an
answer in consensus, and measured per project (how much of it the final answers kept)."""

from __future__ import annotations

import json

import pytest

from annotation import prelabels, quality, services
from annotation.models import Task
from annotation.services import consensus as consensus_service
from tests.annotation.factories import AnnotatorFactory
from tests.web.test_workspace_pages import signed_in, start

pytestmark = pytest.mark.django_db

GEOMETRIES = {"box": {"objects_to_annotate": ["car", "pedestrian"]}}
IMAGE = {"attachment": "/static/demo/street-01.png", "attachment_width": 640, "attachment_height": 360}
MODEL = {
    "annotations": [
        {"uuid": "m1", "type": "box", "label": "car", "left": 10, "top": 10, "width": 100, "height": 50},
        {"uuid": "m2", "type": "box", "label": "car", "left": 300, "top": 100, "width": 40, "height": 40},
    ]
}


def image_project(api, **settings):
    body = {"name": "Boxes", "task_type": "imageannotation", "params": {"geometries": GEOMETRIES}, **settings}
    response = api.post("/api/v1/projects", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def bulk(api, project, *items):
    return api.post("/api/v1/tasks/bulk", {"project": project, "tasks": list(items)}, format="json")


def test_a_valid_hypothesis_is_stored_with_the_task(api_a):
    project = image_project(api_a)
    response = bulk(api_a, project, {"params": IMAGE, "hypothesis": MODEL, "unique_id": "f1"})
    assert response.status_code == 201, response.json()
    assert Task.objects.get(unique_id="f1").hypothesis == MODEL


@pytest.mark.parametrize(
    ("hypothesis", "field", "message"),
    [
        (
            {
                "annotations": [
                    {"type": "box", "label": "giraffe", "left": 1, "top": 1, "width": 5, "height": 5}
                ]
            },
            "hypothesis.annotations[0].label",
            "'giraffe' is not one of ['car', 'pedestrian']",
        ),
        (
            {
                "annotations": [
                    {"type": "box", "label": "car", "left": 600, "top": 1, "width": 50, "height": 5}
                ]
            },
            "hypothesis.annotations[0]",
            "outside the 640x360 image",
        ),
        ({"boxes": []}, "hypothesis.annotations", "required"),
    ],
)
def test_an_invalid_hypothesis_names_its_field_and_creates_nothing(api_a, hypothesis, field, message):
    project = image_project(api_a)
    response = bulk(api_a, project, {"params": IMAGE}, {"params": IMAGE, "hypothesis": hypothesis})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_hypothesis" and error["details"]["field"] == field
    assert error["message"].startswith(f"tasks[1].{field}: ") and message in error["message"]
    assert not Task.objects.exists()


def test_task_types_without_pre_labels_refuse_a_hypothesis(api_a):
    response = api_a.post(
        "/api/v1/projects",
        {"name": "Cats", "task_type": "categorization", "params": {"categories": ["a", "b"]}},
        format="json",
    )
    out = bulk(
        api_a,
        response.json()["id"],
        {"params": {"attachment": "x", "attachment_type": "text"}, "hypothesis": {"category": "a"}},
    )
    assert out.status_code == 400
    assert out.json()["error"]["message"].startswith(
        "tasks[0].hypothesis: categorization tasks take no pre-labels"
    )
    assert not Task.objects.exists()


def test_scale_hypothesis_on_v1_imageannotation(api_a):
    project = image_project(api_a)
    name = api_a.get(f"/api/v1/projects/{project}").json()["name"]
    body = {
        "project": name,
        "attachment": IMAGE["attachment"],
        "geometries": GEOMETRIES,
        "unique_id": "scale-1",
        "hypothesis": {**MODEL, "links": [], "global_attributes": {}},  # Scale's response shape
    }
    response = api_a.post("/v1/task/imageannotation", body, format="json")
    assert response.status_code == 200, response.json()
    task = Task.objects.get(unique_id="scale-1")
    assert task.hypothesis == MODEL and "hypothesis" not in task.params

    bad = {**body, "unique_id": "scale-2", "hypothesis": {"annotations": [{"type": "box", "label": "cat"}]}}
    refused = api_a.post("/v1/task/imageannotation", bad, format="json")
    assert refused.status_code == 400 and "hypothesis.annotations[0]" in refused.json()["error"]
    assert not Task.objects.filter(unique_id="scale-2").exists()


def test_video_lidar_and_ner_take_their_own_answer_shapes():
    video = {"labels": ["car"], "frames": ["/a.png", "/b.png", "/c.png"]}
    track = {
        "track_id": "t",
        "label": "car",
        "frames": [{"frame": 0, "left": 0, "top": 0, "width": 5, "height": 5}],
    }
    prelabels.check_hypothesis("videoannotation", video, {"annotations": [track]})
    lidar = {"labels": ["car"], "frames": [{"url": "/0.pcd"}]}
    cuboid = {"uuid": "c", "label": "car", "frame": 0, "center": {"x": 0, "y": 0, "z": 0}}
    with pytest.raises(Exception, match=r"hypothesis.annotations\[0\].size: required"):
        prelabels.check_hypothesis("lidarannotation", lidar, {"annotations": [cuboid]})
    ner = {"text": "Alice met Bob", "labels": ["person"]}
    prelabels.check_hypothesis(
        "namedentityrecognition", ner, {"annotations": [{"start": 0, "end": 5, "label": "person"}]}
    )
    with pytest.raises(Exception, match=r"hypothesis.annotations\[0\].end: 99 is past the end"):
        prelabels.check_hypothesis(
            "namedentityrecognition", ner, {"annotations": [{"start": 0, "end": 99, "label": "person"}]}
        )


def claim_and_submit(annotator, answer):
    claim = services.assignment_claim(annotator=annotator)
    services.assignment_submit(
        annotator=annotator,
        assignment_id=claim.assignment.pk,
        claim_version=claim.assignment.claim_version,
        answer=answer,
    )
    return claim


def test_the_hypothesis_is_never_an_answer_in_consensus_and_its_kept_share_is_reported(api_a):
    project = image_project(api_a, overlap=1)
    bulk(api_a, project, {"params": IMAGE, "hypothesis": MODEL})
    kept_one = {"annotations": [MODEL["annotations"][0] | {"left": 12}]}  # moved 2 px, the other deleted

    claim_and_submit(AnnotatorFactory(), kept_one)

    task = Task.objects.get()
    assert task.status == Task.Status.COMPLETED
    assert [a["uuid"] for a in task.response["annotations"]] == ["m1"]  # the model's second box is not in it
    assert [answer for _, answer in consensus_service.round_answers(task)] == [
        kept_one
    ]  # the annotator's only
    figures = api_a.get(f"/api/v1/projects/{project}/quality").json()["prelabels"]
    # F1 of the answer against the hypothesis: 1 of 2 boxes kept (IoU 0.96 ≥ 0.5) → P 1, R 0.5
    assert figures == {
        "tasks": 1,
        "kept_f1": pytest.approx(2 / 3),
        "unchanged": 0,
        "shown_to_annotators": True,
    }
    assert quality.score_shapes(kept_one["annotations"], MODEL["annotations"]) == pytest.approx(2 / 3)


def test_the_project_setting_decides_whether_annotators_start_from_it(api_a, client):
    project = image_project(api_a)
    bulk(api_a, project, {"params": IMAGE, "hypothesis": MODEL}, {"params": IMAGE, "hypothesis": MODEL})
    annotator = AnnotatorFactory()
    signed_in(client, annotator)

    assignment = start(client)
    page = client.get(f"/work/a/{assignment.pk}/").content.decode()
    data = json.loads(
        page.split('<script id="assignment-data" type="application/json">')[1].split("</script>")[0]
    )
    assert data["initial"] == MODEL and data["initial_source"] == "hypothesis"

    assert (
        api_a.patch(f"/api/v1/projects/{project}", {"show_hypothesis": False}, format="json").status_code
        == 200
    )
    page = client.get(f"/work/a/{assignment.pk}/").content.decode()
    data = json.loads(
        page.split('<script id="assignment-data" type="application/json">')[1].split("</script>")[0]
    )
    assert data["initial"] is None
    refused = api_a.patch(f"/api/v1/projects/{project}", {"show_hypothesis": "maybe"}, format="json")
    assert refused.status_code == 400


def test_the_annotator_api_claim_carries_the_hypothesis_when_shown(api_a):
    from annotation.api.serializers import AssignmentOut

    project = image_project(api_a)
    bulk(api_a, project, {"params": IMAGE, "hypothesis": MODEL})
    annotator = AnnotatorFactory()
    claim = services.assignment_claim(annotator=annotator)
    assert AssignmentOut(claim.assignment).data["task"]["hypothesis"] == MODEL
    api_a.patch(f"/api/v1/projects/{project}", {"show_hypothesis": False}, format="json")
    assert AssignmentOut(claim.assignment).data["task"]["hypothesis"] is None


def test_interpolated_video_frames_are_valid_and_fused_as_interpolated_only_when_all_were():
    from annotation.quality.tracks import consensus_tracks

    def track(*frames):
        return {
            "track_id": "t",
            "label": "car",
            "frames": [
                {"frame": f, "left": 10, "top": 10, "width": 20, "height": 20}
                | ({"interpolated": True} if i else {})
                for f, i in frames
            ],
        }

    a, b = track((0, False), (1, True), (2, False)), track((0, False), (1, True), (2, True))
    prelabels.check_hypothesis(
        "videoannotation", {"labels": ["car"], "frame_count": 3, "attachment": "/v.mp4"}, {"annotations": [a]}
    )
    (fused,), _ = consensus_tracks([[a], [b]])
    assert [f.get("interpolated", False) for f in fused["frames"]] == [False, True, False]
