"""Writes for annotators and their work. Claim, the fenced submit, skip, release, heartbeat and
expiry are the lifecycle's (``annotation.lifecycle``), under the service names the interfaces call."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotation.lifecycle import leases, submit
from annotation.models import Annotator, Assignment
from clients.models import User
from core import events
from core.errors import Conflict
from core.transactions import retry_on_deadlock


@transaction.atomic
def annotator_create(
    *,
    user: User,
    actor: Any = None,
    active: bool = False,
    is_reviewer: bool = False,
    domains: list[str] | None = None,
) -> Annotator:
    if Annotator.objects.filter(user=user).exists():
        raise Conflict("This user is already an annotator.", code="annotator_exists")
    annotator = Annotator.objects.create(
        user=user,
        status=Annotator.Status.ACTIVE if active else Annotator.Status.APPLICANT,
        is_reviewer=is_reviewer,
        domains=domains or [],
    )
    events.record(
        actor=actor,
        entity=annotator,
        kind="annotator.created",
        after={"status": annotator.status},
        client_id=None,
    )
    return annotator


@retry_on_deadlock
def assignment_claim(*, annotator: Annotator, project_id=None, resume: bool = True) -> leases.Claim | None:
    """``annotation.lifecycle.leases.claim``, run again if PostgreSQL picks it as a deadlock victim
    (``core.transactions.retry_on_deadlock``)."""
    return leases.claim(annotator=annotator, project_id=project_id, resume=resume)


@retry_on_deadlock
def assignment_submit(
    *, annotator: Annotator, assignment_id, claim_version: int, answer: Any, now=None
) -> submit.Submitted:
    """Submit an answer under a live, current lease: ``annotation.lifecycle.submit.submit``, run
    again if PostgreSQL picks it as a deadlock victim (the aborted attempt left nothing behind)."""
    return submit.submit(
        annotator=annotator, assignment_id=assignment_id, claim_version=claim_version, answer=answer, now=now
    )


def assignment_skip(*, annotator: Annotator, assignment_id, claim_version: int) -> Assignment:
    """Give the task back and never be served it again (the assignment row stays, as skipped)."""
    return leases.give_back(
        annotator=annotator,
        assignment_id=assignment_id,
        claim_version=claim_version,
        status=Assignment.Status.SKIPPED,
    )


def assignment_release(*, annotator: Annotator, assignment_id, claim_version: int) -> Assignment:
    """Give the task back (e.g. the annotator is stopping for the day)."""
    return leases.give_back(
        annotator=annotator,
        assignment_id=assignment_id,
        claim_version=claim_version,
        status=Assignment.Status.RELEASED,
    )


def assignment_heartbeat(*, annotator: Annotator, assignment_id, claim_version: int) -> Assignment:
    return leases.heartbeat(annotator=annotator, assignment_id=assignment_id, claim_version=claim_version)


def leases_expire(*, limit: int = 1000) -> int:
    return leases.expire_leases(limit=limit)
