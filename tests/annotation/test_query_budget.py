"""The hot path's SQL budget: claim and submit through the API must not grow extra queries.

Not a timing test: it counts statements, which is what bench/claim.py showed dominates the
HTTP path's CPU (each ORM statement costs far more in Python than in PostgreSQL).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clients import services as client_services
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.conftest import api_for_key

pytestmark = pytest.mark.django_db


def test_claim_and_submit_statement_counts(client_a):
    TaskFactory.create_batch(3, project=ProjectFactory(client=client_a, overlap=1, price_per_task=0))
    annotator = AnnotatorFactory()
    api = api_for_key(client_services.access_token_create(user=annotator.user).key)
    api.post("/api/v1/work/next", {"resume": False}, format="json")  # warm: last_used_at written once

    with CaptureQueriesContext(connection) as claim_q:
        nxt = api.post("/api/v1/work/next", {"resume": False}, format="json").json()["assignment"]
    with CaptureQueriesContext(connection) as submit_q:
        done = api.post(
            f"/api/v1/work/assignments/{nxt['id']}/submit",
            {"claim_version": nxt["claim_version"], "answer": {"category": "car"}},
            format="json",
        )
    assert done.json()["task_status"] == "completed"
    # The test runs inside a transaction, so the service's atomic blocks show up as SAVEPOINT
    # pairs; in production they are one BEGIN/COMMIT. Count the statements that do work.
    claim_sql = [q["sql"] for q in claim_q.captured_queries if "SAVEPOINT" not in q["sql"]]
    submit_sql = [q["sql"] for q in submit_q.captured_queries if "SAVEPOINT" not in q["sql"]]
    # auth, annotator, lock annotator, live leases, projects (with the qualification and standing
    # filters), the standing gate, CLAIM_SQL, the served counter, insert assignment, event
    assert len(claim_sql) == 10, claim_sql
    # auth, annotator, lock assignment, fence CAS, submission, counter, event, answers, complete, event,
    # the annotator's agreement with the consensus, their confusion counts
    assert len(submit_sql) == 12, submit_sql
