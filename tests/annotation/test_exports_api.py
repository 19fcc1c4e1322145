"""The export and attachment endpoints: flows, refusals that change nothing, tenant isolation."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest

from annotation import services, storage
from annotation.models import ExportJob
from clients import services as client_services
from core.models import Event
from tests.annotation.export_factories import (  # noqa: F401 - media_root is a fixture
    CompletedTaskFactory,
    ImageProjectFactory,
    media_root,
    stored_files,
)
from tests.annotation.factories import ProjectFactory
from tests.conftest import api_for_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def exports_url(project_id) -> str:
    return f"/api/v1/projects/{project_id}/exports"


def test_post_queues_a_job_that_a_worker_turns_into_a_download(
    api_a, client_a, django_capture_on_commit_callbacks
):
    # given: a project with two completed tasks
    project = ProjectFactory(client=client_a)
    tasks = [CompletedTaskFactory(project=project, response={"category": "car"}) for _ in range(2)]

    # when: the client asks for a JSON Lines export
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_a.post(
            exports_url(project.id), {"format": "jsonl", "options": {"include_answers": True}}, format="json"
        )

    # then: 202 with the queued job, one wake-up after commit, one event
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["format"], body["download_url"]) == ("queued", "jsonl", None)
    assert body["options"] == {
        "include_answers": True,
        "statuses": ["completed"],
        "ranking_pairs": "adjacent",
    }
    assert "anon_salt" not in body
    assert len(callbacks) == 1
    job = ExportJob.objects.get(pk=body["id"])
    assert Event.objects.filter(entity_id=job.id, kind="export.created").count() == 1
    assert_error(api_a.get(exports_url(project.id) + f"/{job.id}/download"), 409, "export_not_ready")

    # when: the worker runs it
    services.export_run(export_id=job.id)

    # then: the job shows ready with a download link that streams the file
    detail = api_a.get(exports_url(project.id) + f"/{job.id}").json()
    assert detail["status"] == "ready" and detail["task_count"] == 2
    assert (
        detail["download_url"] == f"http://testserver/api/v1/projects/{project.id}/exports/{job.id}/download"
    )
    download = api_a.get(detail["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/x-ndjson"
    assert download["Content-Disposition"].startswith("attachment; filename=")
    content = b"".join(download.streaming_content)
    assert len(content) == detail["file_size"] == int(download["Content-Length"])
    assert [json.loads(line)["task_id"] for line in content.splitlines()] == [str(t.id) for t in tasks]
    listed = api_a.get(exports_url(project.id)).json()["results"]
    assert [e["id"] for e in listed] == [str(job.id)]


def test_another_tenant_gets_404_for_the_export_and_its_download(api_a, api_b, client_a, client_b):
    project = ProjectFactory(client=client_a)
    CompletedTaskFactory(project=project, response={"category": "car"})
    job = services.export_create(client=client_a, actor=None, project=project, format="csv").job
    services.export_run(export_id=job.id)
    own = ProjectFactory(client=client_b)
    events_before = Event.objects.count()

    for url in (
        f"{exports_url(project.id)}/{job.id}",
        f"{exports_url(project.id)}/{job.id}/download",
        f"{exports_url(own.id)}/{job.id}",
        f"{exports_url(own.id)}/{job.id}/download",
    ):
        assert_error(api_b.get(url), 404, "not_found")
    assert_error(api_b.post(exports_url(project.id), {"format": "csv"}, format="json"), 404, "not_found")
    assert api_b.get(exports_url(own.id)).json()["results"] == []
    assert ExportJob.objects.count() == 1 and Event.objects.count() == events_before
    assert api_a.get(f"{exports_url(project.id)}/{job.id}/download").status_code == 200


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"format": "xml"}, "invalid_format", "format"),
        ({"format": "coco"}, "format_not_supported", "format"),
        ({"format": "preference_jsonl"}, "format_not_supported", "format"),
        ({"format": "jsonl", "options": []}, "invalid_options", "options"),
        (
            {"format": "jsonl", "options": {"include_answer": True}},
            "invalid_options",
            "options.include_answer",
        ),
        (
            {"format": "jsonl", "options": {"include_answers": "yes"}},
            "invalid_options",
            "options.include_answers",
        ),
        ({"format": "jsonl", "options": {"statuses": []}}, "invalid_options", "options.statuses"),
        ({"format": "jsonl", "options": {"statuses": ["done"]}}, "invalid_options", "options.statuses"),
        ({"format": "jsonl", "options": {"source": "gold"}}, "invalid_options", "options.source"),
        (
            {"format": "jsonl", "options": {"ranking_pairs": "some"}},
            "invalid_options",
            "options.ranking_pairs",
        ),
        ({"format": "csv", "options": {"ranking_pairs": "all"}}, "invalid_options", "options.ranking_pairs"),
        ({"format": "jsonl", "options": {"batch": "not-a-uuid"}}, "invalid_options", "options.batch"),
        ({"format": "jsonl", "options": {"batch": "{other_batch}"}}, "invalid_options", "options.batch"),
    ],
)
def test_a_bad_format_or_option_is_a_clear_400_and_creates_nothing(
    api_a, client_a, body, code, field, django_capture_on_commit_callbacks
):
    project = ProjectFactory(client=client_a)
    other_batch = services.batch_create(
        client=client_a, actor=None, project=ProjectFactory(client=client_a), name="other"
    )
    if "batch" in body.get("options", {}) and "{" in body["options"]["batch"]:
        body = {**body, "options": {"batch": str(other_batch.id)}}
    events_before = Event.objects.count()
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_a.post(exports_url(project.id), body, format="json")
    error = assert_error(response, 400, code)
    assert error["details"]["field"] == field
    assert not ExportJob.objects.exists()
    assert Event.objects.count() == events_before
    assert callbacks == []


def test_coco_options_on_an_image_project(api_a, client_a):
    project = ImageProjectFactory(client=client_a)
    response = api_a.post(
        exports_url(project.id), {"format": "coco", "options": {"source": "gold"}}, format="json"
    )
    assert response.status_code == 202, response.content
    assert response.json()["options"] == {
        "include_answers": False,
        "statuses": ["completed"],
        "source": "gold",
    }
    assert_error(
        api_a.post(
            exports_url(project.id), {"format": "yolo", "options": {"source": "fused"}}, format="json"
        ),
        400,
        "invalid_options",
    )


def test_idempotency_key_returns_the_same_job(api_a, client_a):
    project = ProjectFactory(client=client_a)
    first = api_a.post(exports_url(project.id), {"format": "csv"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api_a.post(exports_url(project.id), {"format": "csv"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = api_a.post(exports_url(project.id), {"format": "csv"}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert ExportJob.objects.count() == 2


def test_test_mode_keys_export_test_tasks_and_see_only_test_exports(api_a, client_a):
    project = ProjectFactory(client=client_a)
    live = CompletedTaskFactory(project=project, response={"category": "car"})
    sandbox = CompletedTaskFactory(project=project, response={"category": "car"}, is_test=True)
    test_api = api_for_key(client_services.api_key_create(client=client_a, name="t", mode="test").key)
    response = test_api.post(exports_url(project.id), {"format": "jsonl"}, format="json")
    assert response.status_code == 202
    job = services.export_run(export_id=response.json()["id"])
    content = b"".join(test_api.get(f"{exports_url(project.id)}/{job.id}/download").streaming_content)
    assert [json.loads(line)["task_id"] for line in content.splitlines()] == [str(sandbox.id)]
    assert_error(api_a.get(f"{exports_url(project.id)}/{job.id}"), 404, "not_found")
    assert live.id  # the live task exists but is not in the test export


# --- attachments ------------------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def upload(api, project_id, name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.post(
        f"/api/v1/projects/{project_id}/attachments",
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def test_upload_an_image_and_use_its_url_as_a_task_attachment(api_a, client_a):
    project = ImageProjectFactory(
        client=client_a, params={"geometries": {"box": {"objects_to_annotate": ["car"]}}}
    )
    data = png(7, 5)

    response = upload(
        api_a, project.id, "frame.txt", data, content_type="text/plain"
    )  # the bytes decide, not the name

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["content_type"], body["size"], body["width"], body["height"]) == (
        "image/png",
        len(data),
        7,
        5,
    )
    assert body["url"].startswith(f"http://testserver/media/attachments/{client_a.id}/{project.id}/")
    assert body["url"].endswith(".png")
    (path,) = stored_files()
    assert path.read_bytes() == data
    with storage.open_for_read(body["name"]) as handle:
        assert handle.read() == data
    assert Event.objects.filter(kind="attachment.uploaded", entity_id=body["id"]).count() == 1
    created = api_a.post(
        "/api/v1/tasks/bulk",
        {"project": str(project.id), "tasks": [{"params": {"attachment": body["url"]}}]},
        format="json",
    )
    assert created.status_code == 201, created.content


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        (
            "x.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/svg+xml",
        ),
        ("x.png", b"<html><body>not a png</body></html>", "image/png"),
        ("x.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/octet-stream"),
    ],
)
def test_a_disallowed_type_is_refused_and_nothing_is_stored(api_a, client_a, name, data, content_type):
    project = ProjectFactory(client=client_a)
    events_before = Event.objects.count()
    error = assert_error(upload(api_a, project.id, name, data, content_type), 415, "unsupported_media_type")
    assert "image/png" in error["details"]["accepted"]
    assert stored_files() == []
    assert Event.objects.count() == events_before


def test_a_type_outside_the_configured_list_is_refused(api_a, client_a, settings):
    settings.QUORUM_ATTACHMENT_TYPES = ["image/jpeg"]
    project = ProjectFactory(client=client_a)
    assert_error(upload(api_a, project.id, "a.png", png(2, 2)), 415, "unsupported_media_type")
    assert stored_files() == []


def test_a_file_over_the_limit_is_refused_and_nothing_is_stored(api_a, client_a, settings):
    settings.QUORUM_ATTACHMENT_MAX_BYTES = 1000
    project = ProjectFactory(client=client_a)
    events_before = Event.objects.count()
    error = assert_error(
        upload(api_a, project.id, "big.png", png(40, 40) + b"\x00" * 1000), 413, "file_too_large"
    )
    assert error["details"]["max_bytes"] == 1000
    # a body far over the limit is refused from its Content-Length, before it is read
    settings.QUORUM_ATTACHMENT_MAX_BYTES = 10
    assert_error(upload(api_a, project.id, "huge.png", png(2, 2) + b"\x00" * 70_000), 413, "file_too_large")
    assert stored_files() == []
    assert Event.objects.count() == events_before


def test_upload_needs_a_file_field_and_multipart(api_a, client_a):
    project = ProjectFactory(client=client_a)
    assert_error(
        api_a.post(f"/api/v1/projects/{project.id}/attachments", {}, format="multipart"), 400, "missing_file"
    )
    assert_error(
        api_a.post(f"/api/v1/projects/{project.id}/attachments", {"file": "x"}, format="json"),
        415,
        "unsupported_media_type",
    )
    assert stored_files() == []


def pillow_image(fmt: str, width: int, height: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


PCD_HEADER = (
    b"# .PCD v0.7 - Point Cloud Data\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n"
    b"WIDTH 2\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA "
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (png(640, 480), storage.Sniffed("image/png", 640, 480)),
        (pillow_image("JPEG", 192, 108), storage.Sniffed("image/jpeg", 192, 108)),
        (pillow_image("GIF", 33, 44), storage.Sniffed("image/gif", 33, 44)),
        (pillow_image("WEBP", 100, 50), storage.Sniffed("image/webp", 100, 50)),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", storage.Sniffed("application/pdf")),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", storage.Sniffed("video/mp4")),
        (PCD_HEADER + b"ascii\n0 0 0\n1 1 1\n", storage.Sniffed("application/x-pcd")),
        (PCD_HEADER + b"binary\n" + b"\x00" * 24, storage.Sniffed("application/x-pcd")),
        (b"<svg/>", None),
        (b"MZ\x90\x00" + b"\x00" * 100, None),
    ],
)
def test_identify_decodes_formats_and_reads_image_sizes(data, expected):
    assert storage.identify(io.BytesIO(data)) == expected


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "image/png"),  # a signature, then HTML
        (png(64, 64)[:-30], "image/png"),  # truncated
        (png(8, 8).replace(b"IDAT", b"IDAT\x00", 1), "image/png"),  # a corrupt chunk
        (pillow_image("JPEG", 64, 64)[:200], "image/jpeg"),  # headers only, no pixels
        (b"GIF89a" + b"\x10\x00\x10\x00" + b"\x00" * 10, "image/gif"),
        (PCD_HEADER + b"binary\n" + b"\x00" * 10, "application/x-pcd"),  # fewer points than announced
        (
            b"# .PCD v0.7\nFIELDS x y\nSIZE 4\nTYPE F F\nWIDTH 1\nHEIGHT 1\nPOINTS 1\nDATA ascii\n",
            "application/x-pcd",
        ),
    ],
)
def test_identify_refuses_bytes_that_only_start_like_a_format(data, kind):
    found = storage.identify(io.BytesIO(data))
    assert found is not None and found.content_type == kind and found.problem, found


def test_a_png_signature_followed_by_html_is_refused_on_upload(api_a, client_a):
    project = ProjectFactory(client=client_a)
    data = b"\x89PNG\r\n\x1a\n" + b"<html><body><script>alert(document.cookie)</script></body></html>"
    error = assert_error(upload(api_a, project.id, "x.png", data, "image/png"), 415, "unsupported_media_type")
    assert "starts like image/png" in error["message"]
    assert stored_files() == []


def test_an_image_over_the_pixel_limit_is_refused(api_a, client_a, settings):
    settings.QUORUM_ATTACHMENT_MAX_PIXELS = 100
    project = ProjectFactory(client=client_a)
    error = assert_error(upload(api_a, project.id, "x.png", png(11, 10)), 415, "unsupported_media_type")
    assert "QUORUM_ATTACHMENT_MAX_PIXELS" in error["message"]
    assert stored_files() == []
