"""The hot path's SQL budget: claim and submit through the API must not grow extra statements.

Not a timing test: it counts statements, which is what bench/claim.py showed dominates the HTTP
path's CPU (each ORM statement costs far more in Python than in PostgreSQL). With the key already
known to the process (``clients.auth`` caches identities for ``QUORUM_AUTH_CACHE_SECONDS``), a claim
is one statement (``quorum_claim``) and a submit is one statement (``quorum_submit``), also when it
completes a priced task (reservation, pay, charge, callback row, agreement counts all inside).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Task
from billing.models import LedgerTransaction
from clients import services as client_services
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db


def _work_sql(captured) -> list[str]:
    # The test runs inside a transaction, so the service's atomic blocks show up as SAVEPOINT
    # pairs; in production they are one BEGIN/COMMIT. Count the statements that do work.
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def _cycle(api, project):
    with CaptureQueriesContext(connection) as claim_q:
        nxt = api.post("/api/v1/work/next", {"resume": False, "project": str(project.id)}, format="json")
        nxt = nxt.json()["assignment"]
    with CaptureQueriesContext(connection) as submit_q:
        done = api.post(
            f"/api/v1/work/assignments/{nxt['id']}/submit",
            {"claim_version": nxt["claim_version"], "answer": {"category": "car"}},
            format="json",
        )
    assert done.status_code == 200, done.content
    return _work_sql(claim_q), _work_sql(submit_q), done.json()


@pytest.mark.parametrize(
    ("price", "pay", "gold_ratio"),
    [(0, 0, 0.0), (25, 7, 0.0), (25, 7, 0.5)],
    ids=["unpriced", "priced", "priced-with-gold-and-quality-rules"],
)
def test_claim_and_submit_are_one_statement_each(client_a, price, pay, gold_ratio):
    project = ProjectFactory(
        client=client_a,
        overlap=1,
        price_per_task=price,
        pay_per_answer=pay,
        gold_ratio=gold_ratio,
        gold_accuracy_threshold=0.5 if gold_ratio else 0.0,
        confidence_threshold=0.5,
        min_answer_ms=0,
    )
    TaskFactory.create_batch(4, project=project, price=price, pay=pay)
    if gold_ratio:
        TaskFactory.create_batch(
            2, project=project, is_gold=True, gold_answer={"category": "car"}, overlap=10_000
        )
    annotator = AnnotatorFactory()
    api = api_for_key(client_services.access_token_create(user=annotator.user).key)
    api.post(
        "/api/v1/work/next", {"resume": False}, format="json"
    )  # warm: identity cached, last_used_at written
    Task.objects.filter(assignments__annotator=annotator).delete()

    for _ in range(3):
        claim_sql, submit_sql, body = _cycle(api, project)
        assert len(claim_sql) == 1 and claim_sql[0].startswith("SELECT * FROM quorum_claim("), claim_sql
        assert len(submit_sql) == 1 and submit_sql[0].startswith("SELECT * FROM quorum_submit("), submit_sql
    if price:
        assert LedgerTransaction.objects.filter(kind="task_charge").exists()
        assert LedgerTransaction.objects.filter(kind="answer_pay").exists()
    if not gold_ratio:
        assert body["task_status"] == "completed"


def test_a_cold_identity_costs_one_lookup(client_a):
    """The first request of a key in a process looks the key up once (token, user and annotator
    in one statement); the next requests within the cache's lifetime do not."""
    TaskFactory.create_batch(2, project=ProjectFactory(client=client_a, overlap=1, price_per_task=0))
    annotator = AnnotatorFactory()
    api = api_for_key(client_services.access_token_create(user=annotator.user).key)
    with CaptureQueriesContext(connection) as cold:
        api.post("/api/v1/work/next", {"resume": False}, format="json")
    with CaptureQueriesContext(connection) as warm:
        api.post("/api/v1/work/next", {"resume": False}, format="json")
    cold_sql, warm_sql = _work_sql(cold), _work_sql(warm)
    assert [q for q in cold_sql if "clients_accesstoken" in q and q.startswith("SELECT")] != []
    assert len(warm_sql) == 1, warm_sql
    assert len(cold_sql) <= 3, cold_sql  # the token lookup, last_used_at (first use), the claim
