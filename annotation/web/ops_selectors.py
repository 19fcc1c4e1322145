"""Operator reads for the /ops/ dashboards: the work queue and live leases across all clients
(staff only; the views check)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, F, Q, Sum

from annotation.models import Assignment, Project, Task

EXPIRY_WINDOWS = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))


def queue_depth(*, limit: int = 50) -> list[dict]:
    """Projects with open work, deepest first: tasks waiting to be served (pending, released,
    with a free slot), answer slots still open on ordinary tasks (not gold), and tasks waiting for
    more answers."""
    rows = (
        Task.objects.filter(status=Task.Status.PENDING, is_test=False)
        .values(
            "project_id", "project__name", "project__client__name", "project__status", "project__deadline"
        )
        .annotate(
            pending=Count("id"),
            servable=Count("id", filter=Q(released=True, slots_taken__lt=F("overlap"))),
            # Gold tasks are left out: their overlap is a large sentinel (every annotator may
            # answer them), not answers the project still needs.
            open_slots=Sum(F("overlap") - F("slots_taken"), filter=Q(released=True, is_gold=False)),
            unreleased=Count("id", filter=Q(released=False)),
        )
        .order_by("-servable", "-pending", "project_id")[:limit]
    )
    return [
        {
            **row,
            "paused": row["project__status"] != Project.Status.ACTIVE,
            "open_slots": row["open_slots"] or 0,
        }
        for row in rows
    ]


def lease_expiries(*, now: datetime) -> dict:
    """Live leases: how many run out within each window, and how many have run out but are not
    swept yet (the beat's ``expire_leases`` will free them)."""
    active = Assignment.objects.filter(status=Assignment.Status.ACTIVE)
    figures = active.aggregate(
        live=Count("id", filter=Q(leased_until__gt=now)),
        overdue=Count("id", filter=Q(leased_until__lte=now)),
        **{
            f"within_{int(w.total_seconds() // 60)}": Count(
                "id", filter=Q(leased_until__gt=now, leased_until__lte=now + w)
            )
            for w in EXPIRY_WINDOWS
        },
    )
    soonest = list(
        active.filter(leased_until__gt=now)
        .select_related("project", "annotator__user")
        .order_by("leased_until")[:10]
    )
    return {**figures, "windows": [int(w.total_seconds() // 60) for w in EXPIRY_WINDOWS], "soonest": soonest}
