"""Scale's page invariants, for any count and page size: following ``next_token`` (tasks) or
``offset += limit`` (batches) visits every object exactly once, ``has_more`` implies a token,
and ``total`` / ``totalDocs`` is the full filtered count. In-process (no live server)."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from annotation import services
from clients import services as client_services
from tests.annotation.factories import ProjectFactory, TaskFactory

pytestmark = pytest.mark.django_db


def basic(client) -> APIClient:
    key = client_services.api_key_create(client=client, name="scale").key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode())
    return api


@pytest.mark.parametrize(
    ("count", "limit"), [(0, 1), (1, 1), (5, 2), (99, 100), (100, 100), (101, 100), (23, 7)]
)
def test_task_pages_visit_every_task_once(client_a, count, limit):
    project = ProjectFactory(client=client_a, name="P")
    expected = {str(t.id) for t in TaskFactory.create_batch(count, project=project)}
    TaskFactory(project=ProjectFactory(client=client_a, name="Other"))  # filtered out
    api = basic(client_a)

    seen, token, pages = [], None, 0
    while True:
        query = {"project": "P", "limit": limit, **({"next_token": token} if token else {})}
        response = api.get("/v1/tasks", query)
        assert response.status_code == 200, response.content
        page = response.json()
        assert set(page) == {"docs", "total", "limit", "offset", "has_more", "next_token"}
        assert (page["total"], page["limit"], page["offset"]) == (count, limit, len(seen))
        assert len(page["docs"]) <= limit
        seen += [d["task_id"] for d in page["docs"]]
        pages += 1
        assert bool(page["next_token"]) == page["has_more"]
        if not page["has_more"]:
            break
        assert page["next_token"] != token
        token = page["next_token"]
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert pages == max(1, -(-count // limit))


@pytest.mark.parametrize(("count", "limit"), [(0, None), (3, None), (101, None), (10, 3), (9, 3)])
def test_batch_pages_visit_every_batch_once(client_a, count, limit):
    project = ProjectFactory(client=client_a, name="P")
    expected = {
        services.batch_create(client=client_a, actor=None, project=project, name=f"b{i}").name
        for i in range(count)
    }
    api = basic(client_a)

    seen, offset = [], 0
    while True:
        response = api.get("/v1/batches", {"offset": offset, **({"limit": limit} if limit else {})})
        assert response.status_code == 200, response.content
        page = response.json()
        assert set(page) == {"docs", "totalDocs", "limit", "offset", "has_more"}
        assert (page["totalDocs"], page["offset"], page["limit"]) == (count, offset, limit or 100)
        seen += [d["name"] for d in page["docs"]]
        if not page["has_more"]:
            break
        offset += page["limit"]
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_an_offset_works_without_a_token(client_a):
    project = ProjectFactory(client=client_a, name="P")
    TaskFactory.create_batch(5, project=project)
    page = basic(client_a).get("/v1/tasks", {"offset": 3}).json()
    assert (len(page["docs"]), page["offset"], page["has_more"], page["next_token"]) == (2, 3, False, None)


@pytest.mark.parametrize("count", [1, 12])
def test_lists_cost_the_same_queries_for_one_object_or_many(client_a, count, django_assert_num_queries):
    """The page's own reads, whatever the count (the key was resolved by the warm-up request and is
    remembered for QUORUM_AUTH_CACHE_SECONDS: clients.auth)."""
    project = ProjectFactory(client=client_a, name="P")
    for i in range(count):
        services.project_create(client=client_a, actor=None, name=f"Q{i}", task_type="categorization")
        TaskFactory(project=project, tags=["t"])
    api = basic(client_a)
    api.get("/v1/projects")  # warm: last_used_at
    with django_assert_num_queries(2):  # projects, versions
        assert len(api.get("/v1/projects").json()) == count + 1
    with django_assert_num_queries(4):  # count, page, audits, callback outcomes
        assert len(api.get("/v1/tasks").json()["docs"]) == count
