"""An export end to end through a real Celery worker: tasks answered through the API, POST an
export, poll until ready, download, and receive the signed ``export.ready`` webhook on a loopback
receiver. The worker and this process share a private MEDIA_ROOT (the storage backend)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from annotation import services as annotation_services
from clients import services as client_services
from core import tasks as client_tasks
from core.models import WebhookDelivery
from tests.clients.receiver import Receiver
from tests.clients.test_webhooks import WebhookEndpointFactory
from tests.e2e.conftest import wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

BOXES = [
    [{"type": "box", "label": "car", "left": 10, "top": 20, "width": 100, "height": 50}],
    [
        {"type": "box", "label": "pedestrian", "left": 5, "top": 5, "width": 20, "height": 60},
        {"type": "box", "label": "car", "left": 300, "top": 200, "width": 64, "height": 32},
    ],
    [],
]


def bearer(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


@pytest.fixture
def shared_media(settings, tmp_path, monkeypatch):
    """The worker is started with this process's environment: both use this MEDIA_ROOT."""
    root = tmp_path / "media"
    monkeypatch.setenv("QUORUM_MEDIA_ROOT", str(root))
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def worker(shared_media, request):
    return request.getfixturevalue("celery_worker_process")  # started after the environment is set


def test_a_coco_export_goes_through_a_real_worker_to_a_download_and_a_webhook(worker):
    # given: an image project whose three tasks were answered through the API
    client = client_services.client_create(name="Export Labs")
    api = bearer(client_services.api_key_create(client=client, name="e2e").key)
    project = api.post(
        "/api/v1/projects",
        {
            "name": "Street",
            "task_type": "imageannotation",
            "params": {"geometries": {"box": {"objects_to_annotate": ["car", "pedestrian"]}}},
        },
        format="json",
    )
    assert project.status_code == 201, project.content
    project_id = project.json()["id"]
    created = api.post(
        "/api/v1/tasks/bulk",
        {
            "project": project_id,
            "tasks": [
                {
                    "params": {
                        "attachment": f"https://img.test/{i}.jpg",
                        "attachment_width": 640,
                        "attachment_height": 480,
                    },
                    "unique_id": f"img-{i}",
                }
                for i in range(len(BOXES))
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    user = client_services.user_create(email="labeler@example.test")
    annotation_services.annotator_create(user=user, active=True)
    labeler = bearer(client_services.access_token_create(user=user).key)
    for _ in BOXES:
        assignment = labeler.post("/api/v1/work/next", {}, format="json").json()["assignment"]
        index = int(
            assignment["task"]["params"]["attachment"].removeprefix("https://img.test/").removesuffix(".jpg")
        )
        done = labeler.post(
            f"/api/v1/work/assignments/{assignment['id']}/submit",
            {"claim_version": assignment["claim_version"], "answer": {"annotations": BOXES[index]}},
            format="json",
        )
        assert done.json()["task_status"] == "completed", done.content

    with Receiver() as receiver:
        endpoint = WebhookEndpointFactory(client=client, url=receiver.url + "hooks", events=["export.ready"])

        # when: the client asks for a COCO export and polls it
        response = api.post(f"/api/v1/projects/{project_id}/exports", {"format": "coco"}, format="json")
        assert response.status_code == 202, response.content
        detail_url = f"/api/v1/projects/{project_id}/exports/{response.json()['id']}"
        assert wait_until(
            lambda: api.get(detail_url).json()["status"] in ("ready", "failed"), timeout=60, interval=0.2
        ), f"the export did not finish; worker log:\n{worker.log()[-3000:]}"
        detail = api.get(detail_url).json()
        assert detail["status"] == "ready", detail

        # then: the download is a COCO document with the submitted boxes
        download = api.get(detail["download_url"])
        assert download.status_code == 200
        coco = json.loads(b"".join(download.streaming_content))
        names = {c["id"]: c["name"] for c in coco["categories"]}
        by_image = {
            img["quorum_unique_id"]: [
                (names[a["category_id"]], a["bbox"])
                for a in coco["annotations"]
                if a["image_id"] == img["id"]
            ]
            for img in coco["images"]
        }  # images come in task id order (UUIDv7: random within one millisecond), so compare by unique_id
        assert by_image == {
            f"img-{i}": [(b["label"], [b["left"], b["top"], b["width"], b["height"]]) for b in boxes]
            for i, boxes in enumerate(BOXES)
        }
        assert {(img["width"], img["height"]) for img in coco["images"]} == {(640, 480)}

        # and: export.ready reaches the client's endpoint. The worker queued it on the app's
        # real queue, which this test's private worker does not consume; the dispatcher (beat,
        # the outbox relay) re-sends it from the row to the private queue after its minute.
        WebhookDelivery.objects.filter(event_type="export.ready").update(
            dispatched_at=timezone.now() - timedelta(minutes=2)
        )
        assert client_tasks.dispatch_due_deliveries() == 1
        assert receiver.wait_for(1, timeout=30), worker.log()[-3000:]
        (request,) = receiver.requests

    body = Webhook(endpoint.secret).verify(request.body, request.headers)  # raises on a bad signature
    assert body["type"] == "export.ready"
    assert body["data"]["export_id"] == detail["id"]
    assert body["data"]["task_count"] == len(BOXES)
    assert body["data"]["download_url"] == f"/api/v1/projects/{project_id}/exports/{detail['id']}/download"
