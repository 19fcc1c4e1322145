"""The operators' daily trends (/ops/trends/): per UTC day of a chosen range, tasks completed,
the median time from a task's creation to its completion (of the tasks completed that day),
revenue (``billing.reports.revenue_by_day``: charges less refunds) and the queue depth at the
end of the day. Live ordinary tasks only: test-mode tasks are left out, and so are gold tasks (they
stay open for every annotator to answer, not as work a client waits for); all clients, or one.

Queue depth is derived from the task rows' timestamps, not sampled: a task is open at the end of
day D when it was created before D ended and had not been closed by then. A task closes when it
completes (``completed_at``); a canceled or failed task has no timestamp of its own, so it closes
at its ``updated_at`` (the moment of the cancel or the error). In SQL: tasks opened per day and
closed per day (those before the range counted on its first day), and a running sum over the
days of the range. Every figure is one GROUP BY over the tasks, never a loop over them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from billing import reports as billing_reports
from core.errors import ValidationFailed
from core.sqlrows import dict_rows

MAX_DAYS = 366
DEFAULT_DAYS = 30

TASK_TRENDS_SQL = """
WITH live AS (
    SELECT created_at, completed_at,
           coalesce(completed_at,
                    CASE WHEN status IN ('canceled', 'error') THEN updated_at END) AS closed_at
      FROM annotation_task
     WHERE is_test = false AND is_gold = false AND created_at < %(end)s
       AND (%(client)s::uuid IS NULL OR client_id = %(client)s::uuid)
), days AS (
    SELECT d::date AS day FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
), done AS (
    SELECT (completed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS completed,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at))
               AS median_seconds
      FROM live
     WHERE completed_at >= %(start)s AND completed_at < %(end)s
     GROUP BY 1
), opened AS (
    SELECT greatest((created_at AT TIME ZONE 'UTC')::date, %(first)s::date) AS day, count(*) AS n
      FROM live GROUP BY 1
), closed AS (
    SELECT greatest((closed_at AT TIME ZONE 'UTC')::date, %(first)s::date) AS day, count(*) AS n
      FROM live WHERE closed_at < %(end)s GROUP BY 1
)
SELECT days.day, coalesce(done.completed, 0) AS completed, done.median_seconds,
       (sum(coalesce(opened.n, 0) - coalesce(closed.n, 0)) OVER (ORDER BY days.day))::bigint AS queue_depth
  FROM days
  LEFT JOIN done ON done.day = days.day
  LEFT JOIN opened ON opened.day = days.day
  LEFT JOIN closed ON closed.day = days.day
 ORDER BY days.day
"""


@dataclass(frozen=True)
class DayRange:
    """UTC days ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def period(self) -> billing_reports.Period:
        return billing_reports.Period(self.first, self.last + timedelta(days=1))


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValidationFailed(
            f"{field}: expected a day as YYYY-MM-DD, e.g. 2026-01-31 (got {value[:40]!r})",
            code="invalid_range",
            details={"field": field},
        ) from exc


def range_parse(*, first: str | None, last: str | None, today: date) -> DayRange:
    """``from`` and ``to`` as YYYY-MM-DD, both included; either may be left out (``to``: today;
    ``from``: 29 days before ``to``). At most 366 days."""
    end = _day(last, "to") if last else today
    start = _day(first, "from") if first else end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise ValidationFailed("to: must not be before from", code="invalid_range", details={"field": "to"})
    span = DayRange(start, end)
    if span.days > MAX_DAYS:
        raise ValidationFailed(
            f"from/to: at most {MAX_DAYS} days at a time", code="invalid_range", details={"field": "from"}
        )
    return span


def daily_trends(*, days: DayRange, currency: str, client_id=None) -> list[dict]:
    """One row per day of ``days``, zeros on days without activity: ``day``, ``completed``,
    ``median_seconds`` (None without completions), ``revenue`` (minor units of ``currency``) and
    ``queue_depth``."""
    period = days.period()
    start, end = period.bounds()
    params = {"first": days.first, "last": days.last, "start": start, "end": end, "client": client_id}
    rows = dict_rows(TASK_TRENDS_SQL, params)
    revenue = billing_reports.revenue_by_day(period=period, currency=currency, client_id=client_id)
    for row in rows:
        median = row["median_seconds"]
        row["median_seconds"] = None if median is None else round(float(median))
        row["revenue"] = revenue.get(row["day"], 0)
    return rows
