"""The project page's progress chart as inline SVG geometry (no JavaScript charting library):
completed tasks by day, cumulative, against the number of tasks in the project."""

from __future__ import annotations

from datetime import date, timedelta

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 32


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
    top_value = max(total, running, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (days - 1) if days > 1 else 0)

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / top_value

    points = [(round(x(i), 1), round(y(cum), 1)) for i, (_, _, cum) in enumerate(series)]
    line = " ".join(f"{px},{py}" for px, py in points)
    area = f"{LEFT},{TOP + plot_h} {line} {round(x(days - 1), 1)},{TOP + plot_h}"
    y_ticks = [{"value": v, "y": round(y(v), 1)} for v in sorted({0, top_value // 2, top_value})]
    anchors = {0: "start", days // 2: "middle", days - 1: "end"}
    x_ticks = [
        {"label": series[i][0].strftime("%d %b"), "x": round(x(i), 1), "anchor": anchor}
        for i, anchor in anchors.items()
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + plot_h,
        "line": line,
        "area": area,
        "total": total,
        "total_y": round(y(total), 1),
        "completed": running,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "rows": [r for r in series if r[1]],
    }
