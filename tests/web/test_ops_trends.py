"""/ops/trends/: daily throughput, median completion time, revenue and queue depth from known
tasks and ledger rows (days without activity at zero), the range checks, the CSV, staff only, and
one client's figures never mixed with another's."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from annotation import trends
from annotation.web import charts
from billing import services
from billing.invoices import money_format
from tests.annotation.factories import ProjectFactory, TaskFactory
from tests.billing.clock import ledger_at, utc

pytestmark = pytest.mark.django_db
BOXES = services.Work(
    task_id=None, project_id=uuid.UUID(int=1), project_name="Boxes", task_type="imageannotation"
)
MARCH = "from=2025-03-01&to=2025-03-05"


def done(project, created, completed):
    return TaskFactory(
        project=project, created_at=created, completed_at=completed, updated_at=completed, status="completed"
    )


@pytest.fixture
def known(client_a, client_b):
    """Client A: completions on 2 March (3 tasks: 3 days, 1 hour, 10 minutes) and 4 March (3 days),
    one task pending from 1 March, one canceled on 4 March; a test-mode and a gold task (never
    counted); revenue 30.00 on 2 March and 5.00 on 4 March (and 9.00 before the range). Client B:
    one task created on 1 March and completed after 2 hours on 2 March, revenue 10.00 on 2 March."""
    a = ProjectFactory(client=client_a, name="A boxes")
    b = ProjectFactory(client=client_b, name="B boxes")
    done(a, utc(2025, 2, 27, 10), utc(2025, 3, 2, 10))
    done(a, utc(2025, 3, 2, 8), utc(2025, 3, 2, 9))
    done(a, utc(2025, 3, 2, 8), utc(2025, 3, 2, 8, 10))
    done(a, utc(2025, 3, 1, 6), utc(2025, 3, 4, 6))
    TaskFactory(project=a, created_at=utc(2025, 3, 1, 12))
    TaskFactory(project=a, created_at=utc(2025, 3, 3), status="canceled", updated_at=utc(2025, 3, 4, 12))
    TaskFactory(project=a, created_at=utc(2025, 3, 1), is_test=True)
    TaskFactory(project=a, created_at=utc(2025, 3, 1), is_gold=True, gold_answer={"category": "car"})
    done(b, utc(2025, 3, 1, 23), utc(2025, 3, 2, 1))
    with ledger_at(utc(2025, 2, 28, 12)):
        services.charge_task_completion(client=client_a, task_id="a0", amount=900, work=BOXES)
    with ledger_at(utc(2025, 3, 2, 12)):
        services.charge_task_completion(client=client_a, task_id="a1", amount=3000, work=BOXES)
        services.charge_task_completion(client=client_b, task_id="b1", amount=1000, work=BOXES)
    with ledger_at(utc(2025, 3, 4, 23, 59)):
        services.charge_task_completion(client=client_a, task_id="a2", amount=500, work=BOXES)
    return {"a": client_a, "b": client_b}


def figures(rows):
    return [
        (f"{r['day']:%d}", r["completed"], r["median_seconds"], r["revenue"], r["queue_depth"]) for r in rows
    ]


def test_one_clients_daily_figures_from_known_tasks_and_ledger(known):
    rows = trends.daily_trends(
        days=trends.DayRange(date(2025, 3, 1), date(2025, 3, 5)), currency="USD", client_id=known["a"].pk
    )
    assert figures(rows) == [
        ("01", 0, None, 0, 3),  # open: created 27 Feb, the pending one, the one completed on the 4th
        ("02", 3, 3600, 3000, 2),  # median of 3 days, 1 hour, 10 minutes
        ("03", 0, None, 0, 3),  # the one canceled later was created
        ("04", 1, 3 * 86400, 500, 1),  # completed and canceled: only the pending one is left
        ("05", 0, None, 0, 1),
    ]


def test_every_clients_figures_add_the_other_client(known):
    rows = trends.daily_trends(days=trends.DayRange(date(2025, 3, 1), date(2025, 3, 2)), currency="USD")
    # 2 March: 4 completed, median of 10 min, 1 h, 2 h, 3 days = 1.5 h; B's task open at the end of 1 March
    assert figures(rows) == [("01", 0, None, 0, 4), ("02", 4, 5400, 4000, 2)]


def test_the_page_draws_four_charts_and_shows_the_days_figures(staff_pages, known):
    response = staff_pages.get(f"/ops/trends/?{MARCH}&client={known['a'].pk}")
    body = response.content.decode()
    assert response.status_code == 200
    assert [c["key"] for c in response.context["charts"]] == ["throughput", "latency", "revenue", "queue"]
    throughput = response.context["charts"][0]
    heights = [float(point.split(",")[1]) for point in throughput["line"].split()]
    # 0, 3, 0, 1, 0 completions: the second day at the top of the plot (y 12), zero days on its
    # floor (y 188), one completion a third of the 176 px up
    assert (throughput["top"], throughput["bottom"]) == (12, 188)
    assert heights == [188.0, 12.0, 188.0, 129.3, 188.0]
    assert body.count("<polyline") == 4
    assert '<td>2025-03-02</td><td class="num">3</td><td class="num">1h 0m</td>' in body
    assert (
        '<td>2025-03-04</td><td class="num">1</td><td class="num">3d 0h</td><td class="num">5.00 USD' in body
    )
    assert "<dt>Revenue</dt><dd>35.00 USD</dd>" in body
    assert 'href="/ops/trends.csv?' in body


def test_the_csv_has_the_same_figures(staff_pages, known):
    response = staff_pages.get(f"/ops/trends.csv?{MARCH}&client={known['a'].pk}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="trends-2025-03-01-2025-03-05.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        [
            "day",
            "tasks_completed",
            "median_completion_seconds",
            "revenue_minor",
            "revenue",
            "currency",
            "queue_depth",
        ],
        ["2025-03-01", "0", "", "0", "0.00", "USD", "3"],
        ["2025-03-02", "3", "3600", "3000", "30.00", "USD", "2"],
        ["2025-03-03", "0", "", "0", "0.00", "USD", "3"],
        ["2025-03-04", "1", "259200", "500", "5.00", "USD", "1"],
        ["2025-03-05", "0", "", "0", "0.00", "USD", "1"],
    ]


def test_one_clients_page_and_csv_leave_the_other_client_out(staff_pages, known):
    page = staff_pages.get(f"/ops/trends/?{MARCH}&client={known['b'].pk}")
    assert [r["completed"] for r in page.context["rows"]] == [0, 1, 0, 0, 0]
    assert [r["revenue"] for r in page.context["rows"]] == [0, 1000, 0, 0, 0]
    assert page.context["totals"] == {"completed": 1, "revenue": 1000}
    rows = list(
        csv.reader(
            io.StringIO(staff_pages.get(f"/ops/trends.csv?{MARCH}&client={known['b'].pk}").content.decode())
        )
    )
    assert [r[1] for r in rows[1:]] == ["0", "1", "0", "0", "0"]
    assert [r[6] for r in rows[1:]] == ["1", "0", "0", "0", "0"]


def test_the_default_range_is_the_last_30_days(staff_pages):
    response = staff_pages.get("/ops/trends/")
    days = [r["day"] for r in response.context["rows"]]
    today = timezone.now().date()
    assert response.status_code == 200
    assert days == [today - timedelta(days=29 - i) for i in range(30)]
    assert all(r["completed"] == 0 and r["queue_depth"] == 0 for r in response.context["rows"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2025-3-1x&to=2025-03-05", "expected a day as YYYY-MM-DD"),
        ("from=2025-03-05&to=2025-03-01", "must not be before from"),
        ("from=2024-01-01&to=2025-03-01", "at most 366 days"),
        ("from=2025-03-01&to=2025-03-05&currency=dollars", "ISO 4217"),
        ("from=2025-03-01&to=2025-03-05&client=nobody", "no such client"),
        # a well-formed id that no client has (fixed: pytest-xdist workers must collect the same ids)
        (f"from=2025-03-01&to=2025-03-05&client={uuid.UUID(int=0xDEAD)}", "no such client"),
    ],
)
def test_a_bad_filter_is_explained_and_nothing_is_drawn(staff_pages, query, message):
    response = staff_pages.get(f"/ops/trends/?{query}")
    body = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in body and message in body.replace("&#x27;", "'")
    assert "<polyline" not in body
    csv_response = staff_pages.get(f"/ops/trends.csv?{query}")
    assert csv_response.status_code == 400 and message in csv_response.content.decode()


@pytest.mark.parametrize("url", ["/ops/trends/", "/ops/trends.csv"])
def test_trends_are_for_staff_only(member_pages, client_a, known, url):
    response = member_pages(client_a, "owner").get(f"{url}?{MARCH}&client={client_a.pk}")
    assert response.status_code == 403
    assert "3000" not in response.content.decode() and "30.00" not in response.content.decode()


def test_long_tick_labels_widen_the_plot_margin_so_they_are_not_cut():
    plot = charts.daily_plot(
        days=[date(2025, 3, 1), date(2025, 3, 2)],
        values=[0, 123456],
        y_label=lambda v: money_format(int(v), "USD"),
    )
    assert [t["value"] for t in plot["y_ticks"]] == ["0.00 USD", "617.28 USD", "1,234.56 USD"]
    assert plot["left"] == 94  # 10 px + 7 px for each of the 12 characters of "1,234.56 USD"
    assert tuple(map(float, plot["line"].split()[0].split(","))) == (94, 188)
    assert charts.daily_plot(days=[date(2025, 3, 1)], values=[3])["left"] == 48
