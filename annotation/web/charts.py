"""Charts as inline SVG geometry (no JavaScript charting library): one value per day drawn as a
line over an area, with axis ticks. The project page's progress chart (completed tasks by day,
cumulative, against the number of tasks) and the operator trends (``ops_trends``) both use
``daily_plot``; the templates ``portal/_plot.html`` draw what it returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 32


def daily_plot(
    *,
    days: Sequence[date],
    values: Sequence[float],
    top: float = 0,
    marks: Sequence[float] = (),
    y_label: Callable[[float], str] = str,
) -> dict:
    """The geometry of ``values`` (one per day of ``days``, in order) scaled to the larger of
    ``top`` and the largest value: the line's and the area's points, three y ticks (0, half, top)
    labelled with ``y_label``, x ticks on the first, middle and last day, and the height of each of
    ``marks`` (values to draw a horizontal line at) as ``mark_ys``."""
    count = len(days)
    top_value = max(top, *values, 1) if values else max(top, 1)
    half = top_value // 2 if isinstance(top_value, int) else top_value / 2
    tick_values = sorted({0, half, top_value})
    labels = [y_label(v) for v in tick_values]
    # Room for the longest tick label (about 7 px a character at 11 px), at least the default.
    left = max(LEFT, 10 + 7 * max(len(label) for label in labels))
    plot_w, plot_h = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else 0)

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top_value

    line = " ".join(f"{round(x(i), 1)},{round(y(v), 1)}" for i, v in enumerate(values))
    area = f"{left},{TOP + plot_h} {line} {round(x(count - 1), 1)},{TOP + plot_h}"
    y_ticks = [{"value": label, "y": round(y(v), 1)} for v, label in zip(tick_values, labels, strict=True)]
    anchors = {count - 1: "end"}
    if 0 < count // 2 < count - 1:
        anchors[count // 2] = "middle"
    anchors[0] = "start"
    x_ticks = [
        {"label": days[i].strftime("%d %b"), "x": round(x(i), 1), "anchor": anchor}
        for i, anchor in sorted(anchors.items())
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": left,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + plot_h,
        "line": line,
        "area": area,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "mark_ys": [round(y(v), 1) for v in marks],
    }


def progress_chart(*, completed_by_day: dict[date, int], total: int, today: date, days: int = 30) -> dict:
    """``completed_by_day``: tasks completed each day (any days). Returns the plot's geometry over
    the last ``days`` days: a cumulative line and area, the total as a dashed line, axis ticks, and
    a table-ready list of (day, completed that day, cumulative) for screen readers."""
    start = today - timedelta(days=days - 1)
    before = sum(n for day, n in completed_by_day.items() if day < start)
    series, running = [], before
    for offset in range(days):
        day = start + timedelta(days=offset)
        running += completed_by_day.get(day, 0)
        series.append((day, completed_by_day.get(day, 0), running))
    plot = daily_plot(days=[s[0] for s in series], values=[s[2] for s in series], top=total, marks=[total])
    return {
        **plot,
        "key": "progress",
        "title": f"Completed tasks over the last {days} days: {running} of {total}",
        "total": total,
        "total_y": plot["mark_ys"][0],
        "completed": running,
        "rows": [r for r in series if r[1]],
    }
