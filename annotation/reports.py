"""Annotators' effective hourly earnings against the fair-pay floor (issue 4 item 6).

Pay comes from the ledger (``billing.reports.annotator_pay``: accepted answers' pay, less pay taken
back, in the period); active time from the submissions the annotator made in the period (the sum
of ``duration_ms``, accepted or not: time worked is time worked). Billing never reads annotation,
so the join of the two lives here.

``per_hour`` = pay * 3,600,000 // active ms (minor units per hour, rounded down). ``below_floor``
compares exactly, in integers: ``pay * 3,600,000 < floor * active_ms``. An annotator with no
recorded time has no rate and is not flagged.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Sum

from annotation.models import Submission
from billing import reports as billing_reports
from clients.models import User

MS_PER_HOUR = 3_600_000


def annotator_hourly_pay(*, period: billing_reports.Period, currency: str, floor: int | None = None) -> dict:
    floor = settings.QUORUM_FAIR_PAY_FLOOR_PER_HOUR if floor is None else floor
    pay = billing_reports.annotator_pay(period=period, currency=currency)
    start, end = period.bounds()
    worked = {
        row["annotator__user_id"]: row
        for row in Submission.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("annotator__user_id")
        .annotate(active_ms=Sum("duration_ms"), submissions=Count("id"))
    }
    user_ids = sorted(set(pay) | set(worked), key=str)
    emails = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "email"))
    rows = []
    for user_id in user_ids:
        earned = pay.get(user_id, {}).get("pay", 0)
        active_ms = worked.get(user_id, {}).get("active_ms") or 0
        rows.append(
            {
                "user_id": user_id,
                "email": emails.get(user_id, ""),
                "pay": earned,
                "paid_answers": pay.get(user_id, {}).get("answers", 0),
                "submissions": worked.get(user_id, {}).get("submissions", 0),
                "active_ms": active_ms,
                "per_hour": earned * MS_PER_HOUR // active_ms if active_ms else None,
                "below_floor": bool(active_ms) and earned * MS_PER_HOUR < floor * active_ms,
            }
        )
    return {
        **period.as_dict(),
        "currency": currency,
        "floor_per_hour": floor,
        "flagged": sum(row["below_floor"] for row in rows),
        "rows": rows,
    }
