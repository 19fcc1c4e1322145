"""Attachment URLs: http, https and the platform's own media/static paths; nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotation.models import Project, Task
from annotation.tasktypes import attachments
from annotation.tasktypes.attachments import url_refusal
from tests.annotation.factories import ProjectFactory

pytestmark = pytest.mark.django_db

REFUSED = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "file:///etc/passwd",
    "ftp://files.example.com/a.png",
    "//evil.example.com/a.png",
    "/\\evil.example.com/a.png",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "https://",
    "/etc/passwd",
    "relative/path.png",
    "http://[",
    "https://[::1/a.png",
]
ACCEPTED = [
    "https://images.example.com/a.png",
    "http://images.example.com/a.png?x=1#y",
    "/static/demo/street-01.png",
    "/media/attachments/1/2/abc.png",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_urls(url):
    assert url_refusal(url)


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted_urls(url):
    assert url_refusal(url) is None


@pytest.mark.parametrize("url", REFUSED)
def test_a_linked_categorization_attachment_must_be_an_allowed_url(api_a, client_a, url):
    project = ProjectFactory(client=client_a)
    item = {"params": {"attachment": url, "attachment_type": "website"}}
    response = api_a.post("/api/v1/tasks/bulk", {"project": str(project.id), "tasks": [item]}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_params" and error["message"].startswith("tasks[0].params.attachment:")
    assert not Task.objects.filter(project=project).exists()


def test_text_attachments_are_text_not_urls(api_a, client_a):
    project = ProjectFactory(client=client_a)
    items = [
        {"params": {"attachment": "javascript: is only text here", "attachment_type": "text"}},
        {
            "params": {"attachment": "Note: a sentence to categorize"}
        },  # no type: text, as the workspace shows it
    ]
    response = api_a.post("/api/v1/tasks/bulk", {"project": str(project.id), "tasks": items}, format="json")
    assert response.status_code == 201, response.content


def test_image_frames_and_text_collection_attachments(api_a, client_a):
    image = {
        "name": "Boxes",
        "task_type": "imageannotation",
        "params": {
            "geometries": {"box": {"objects_to_annotate": ["car"]}},
            "attachment": "//evil.example.com/x.png",
        },
    }
    response = api_a.post("/api/v1/projects", image, format="json")
    assert response.status_code == 400 and "params.attachment" in response.json()["error"]["message"]
    text = {
        "name": "Notes",
        "task_type": "textcollection",
        "params": {
            "fields": [{"field_id": "n", "type": "text", "title": "Note"}],
            "attachments": [{"type": "website", "content": "data:text/html,<script>alert(1)</script>"}],
        },
    }
    response = api_a.post("/api/v1/projects", text, format="json")
    assert response.status_code == 400, response.content
    assert "params.attachments[0].content" in response.json()["error"]["message"]
    assert not Project.objects.filter(client=client_a).exists()


# The fast path for plain http(s) URLs answers as the full check (``urlsplit``) does: for URLs built
# from the parts that matter (scheme spellings, hosts with every allowed and some refused
# characters, ports, what follows the host) and for any text at all.
_HOSTS = st.text(alphabet="abcXYZ019.-_~@:[]%!", min_size=0, max_size=12)
_URLS = st.builds(
    "{}{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "hTtPs", "ftp", "http+x", ""]),
    st.sampled_from(["://", ":/", ":", "//", ":///"]),
    _HOSTS,
    st.sampled_from(["", ":", ":80", ":x", ":99999"]),
    st.sampled_from(["", "/", "/a.png", "?q=1", "#f", "a", "@b/", ":c/"]),
)


@given(st.one_of(_URLS, st.text(max_size=40)))
def test_the_plain_http_fast_path_agrees_with_the_full_check(url):
    if not url or attachments._BAD_CHARS.search(url):
        return
    assert url_refusal(url) == attachments._parsed_refusal(url)
