"""The pure parts of the pages: task files read into bulk items, answers drawn as SVG shapes, the
progress chart's geometry, a refused button's message."""

from __future__ import annotations

import math
from datetime import date

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import RequestFactory

from annotation.web import charts, drawing, uploads
from clients.web.errors import refused
from core.errors import Conflict, NotFound


def test_csv_columns_become_task_fields_and_params():
    rows = uploads.read_rows(
        "t.csv",
        b"unique_id,prompt,responses,priority,metadata.batch\n"
        b'p1,Hi,"[{""id"": ""a"", ""text"": ""x""}]",3,7\n',
    )
    assert [r.line for r in rows] == [2]
    assert rows[0].item == {
        "unique_id": "p1",
        "priority": 3,
        "params": {"prompt": "Hi", "responses": [{"id": "a", "text": "x"}]},
        "metadata": {"batch": "7"},
    }


def test_csv_lines_count_quoted_newlines_and_report_bad_cells():
    rows = uploads.read_rows("t.csv", b'attachment,priority\n"two\nlines",1\nok,high\nx,1,extra\n')
    assert [(r.line, r.error) for r in rows] == [
        (2, None),
        (4, "priority: 'high' is not an integer"),
        (5, "has 3 cells; the header has 2"),
    ]


def test_jsonl_blank_lines_are_skipped_and_bad_lines_reported():
    rows = uploads.read_rows("t.jsonl", b'{"params": {}}\n\n[1]\n{"a":\n')
    assert [(r.line, r.error is None) for r in rows] == [(1, True), (3, False), (4, False)]


@pytest.mark.parametrize(
    ("data", "message"), [(b"  \n", "empty"), (b"\xff\xfe", "UTF-8"), (b"a,b\n", "no tasks")]
)
def test_unreadable_files(data, message):
    with pytest.raises(uploads.UnreadableFile, match=message):
        uploads.read_rows("t.csv", data)


def test_an_answer_is_drawn_as_shapes_in_image_pixels():
    answer = {
        "annotations": [
            {"type": "box", "label": "car", "left": 1, "top": 2, "width": 3, "height": 4},
            {
                "type": "polygon",
                "label": "road",
                "vertices": [{"x": 0, "y": 0}, {"x": 5, "y": 0}, {"x": 5, "y": 5}],
            },
            {"type": "line", "label": "lane", "vertices": [{"x": 0, "y": 0}, {"x": 9, "y": 9}]},
            {"type": "point", "label": "head", "x": 7, "y": 8},
            {"type": "ellipse", "label": "wheel", "x": 5, "y": 5, "rx": 2, "ry": 1, "rotation": math.pi / 6},
            {"type": "box", "label": "broken"},
        ]
    }
    out = drawing.overlay(
        {"attachment": "https://img.example.test/a.jpg", "attachment_width": 100, "attachment_height": 50},
        answer,
    )
    assert (out["width"], out["height"], out["size_known"]) == (100, 50, True)
    assert [s["tag"] for s in out["shapes"]] == ["rect", "polygon", "polyline", "circle", "ellipse"]
    assert out["shapes"][0]["svg_attrs"] == 'x="1" y="2" width="3" height="4"'
    assert out["shapes"][1]["svg_attrs"] == 'points="0,0 5,0 5,5"'
    assert 'transform="rotate(30 5 5)"' in out["shapes"][4]["svg_attrs"]  # radians in, degrees out


def test_a_rotated_box_turns_about_its_centre_by_its_rotation_in_radians():
    box = {
        "type": "box",
        "label": "car",
        "left": 10,
        "top": 20,
        "width": 40,
        "height": 20,
        "rotation": -math.pi / 2,
    }
    out = drawing.overlay(
        {"attachment": "/media/a.jpg", "attachment_width": 100, "attachment_height": 50},
        {"annotations": [box]},
    )
    assert 'transform="rotate(-90 30 30)"' in out["shapes"][0]["svg_attrs"]


@pytest.mark.parametrize(
    "src", ["javascript:alert(1)", "data:image/png;base64,xx", "//evil.example/a.png", None]
)
def test_only_http_and_site_paths_are_drawn(src):
    assert drawing.overlay({"attachment": src}, {"annotations": []}) is None


def test_text_tasks_are_not_drawn():
    assert drawing.overlay({"attachment": "/static/x.png", "attachment_type": "text"}, None) is None


def test_the_progress_chart_is_cumulative_and_scaled_to_the_total():
    chart = charts.progress_chart(
        completed_by_day={date(2026, 1, 1): 5, date(2026, 1, 10): 2, date(2026, 1, 30): 3},
        total=20,
        today=date(2026, 1, 30),
        days=30,
    )
    assert chart["completed"] == 10 and chart["total"] == 20
    assert chart["rows"] == [(date(2026, 1, 1), 5, 5), (date(2026, 1, 10), 2, 7), (date(2026, 1, 30), 3, 10)]
    points = [tuple(map(float, p.split(","))) for p in chart["line"].split()]
    height = chart["bottom"] - chart["top"]
    assert points[0] == (charts.LEFT, chart["bottom"] - height * 5 / 20)
    assert points[-1] == (chart["right"], round(chart["top"] + height / 2, 1))


def test_completions_before_the_window_count_in_the_start():
    chart = charts.progress_chart(
        completed_by_day={date(2025, 1, 1): 4}, total=4, today=date(2026, 1, 30), days=30
    )
    assert chart["completed"] == 4 and chart["rows"] == [] and chart["total_y"] == chart["top"]


def test_a_refused_button_shows_the_reason_and_a_missing_object_stays_an_error():
    request = RequestFactory().post("/ops/invoices/x/issue")
    request._messages = CookieStorage(request)
    refused(request, Conflict("status: already issued", code="invalid_status"))
    assert [(m.level_tag, m.message) for m in request._messages] == [("error", "Status already issued")]
    missing = NotFound("No such invoice.")
    with pytest.raises(NotFound) as raised:
        refused(request, missing)
    assert raised.value is missing
