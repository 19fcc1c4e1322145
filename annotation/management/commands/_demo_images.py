"""Synthetic street-scene PNGs for the demo box-annotation project.

Nothing is downloaded: each image is drawn here (sky, buildings, a road in perspective, cars,
pedestrians, cyclists, traffic lights as flat-coloured rectangles) and written by a tiny PNG
encoder (zlib + struct). Drawing is deterministic per index, so regenerating gives the same bytes
on the same zlib. Flat colours compress well: a 640x360 scene is a few KB.

The files live in ``annotation/static/demo/`` and are committed; ``seed_demo`` calls
``ensure_demo_images`` only to restore missing ones. Run this module directly to (re)create them::

    python annotation/management/commands/_demo_images.py
"""

from __future__ import annotations

import os
import random
import struct
import sys
import zlib
from pathlib import Path

WIDTH, HEIGHT = 640, 360
DEMO_IMAGE_COUNT = 20
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "static" / "demo"

Color = tuple[int, int, int]

SKY_TOP: Color = (92, 148, 214)
SKY_HORIZON: Color = (196, 222, 242)
GROUND: Color = (170, 170, 160)
ROAD: Color = (72, 74, 78)
LANE: Color = (235, 235, 220)
CAR_COLORS: list[Color] = [
    (200, 30, 40),
    (30, 70, 170),
    (235, 235, 235),
    (240, 190, 30),
    (30, 30, 35),
    (160, 165, 170),
    (20, 120, 70),
]
BUILDING_COLORS: list[Color] = [
    (150, 140, 130),
    (120, 125, 135),
    (180, 165, 140),
    (105, 100, 110),
    (165, 120, 100),
]
SHIRT_COLORS: list[Color] = [(220, 60, 60), (60, 90, 200), (240, 200, 60), (90, 160, 90), (200, 120, 200)]
SKIN: Color = (225, 180, 150)
DARK: Color = (25, 25, 28)
WINDOW: Color = (120, 160, 190)


def image_name(index: int) -> str:
    """``street-01.png`` for index 1."""
    return f"street-{index:02d}.png"


class Canvas:
    def __init__(self, width: int, height: int, fill: Color) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(bytes(fill) * width) for _ in range(height)]

    def rect(self, left: float, top: float, right: float, bottom: float, color: Color) -> None:
        """Fill [left, right) x [top, bottom), clipped to the canvas."""
        x0, x1 = max(0, int(left)), min(self.width, int(right))
        y0, y1 = max(0, int(top)), min(self.height, int(bottom))
        if x1 <= x0 or y1 <= y0:
            return
        span = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            self.rows[y][x0 * 3 : x1 * 3] = span

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)  # filter type 0 on every row

        def chunk(tag: bytes, data: bytes) -> bytes:
            return (
                struct.pack(">I", len(data))
                + tag
                + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
            )

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def _mix(a: Color, b: Color, t: float) -> Color:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _shade(color: Color, factor: float) -> Color:
    return (
        min(255, int(color[0] * factor)),
        min(255, int(color[1] * factor)),
        min(255, int(color[2] * factor)),
    )


def street_scene_png(index: int) -> bytes:
    """Draw scene ``index`` (1-based) and return it as PNG bytes."""
    rng = random.Random(f"quorum-demo-street-{index}")
    canvas = Canvas(WIDTH, HEIGHT, GROUND)
    horizon = rng.randint(130, 165)
    vanish_x = WIDTH // 2 + rng.randint(-60, 60)

    # Sky in flat bands, darker at the top.
    bands = 6
    for i in range(bands):
        top, bottom = horizon * i // bands, horizon * (i + 1) // bands
        canvas.rect(0, top, WIDTH, bottom, _mix(SKY_TOP, SKY_HORIZON, i / (bands - 1)))

    # Buildings along the horizon, with a grid of windows.
    x = rng.randint(-30, 0)
    while x < WIDTH:
        width, height = rng.randint(45, 100), rng.randint(35, horizon - 15)
        color = rng.choice(BUILDING_COLORS)
        canvas.rect(x, horizon - height, x + width, horizon, color)
        for wy in range(horizon - height + 6, horizon - 10, 14):
            for wx in range(x + 6, x + width - 10, 14):
                canvas.rect(wx, wy, wx + 7, wy + 8, _shade(color, 0.6))
        x += width + rng.randint(0, 12)

    # The road: a trapezoid towards the vanishing point, with a dashed centre line.
    depth = HEIGHT - horizon

    def road_span(y: float) -> tuple[float, float, float]:
        t = (y - horizon) / depth
        half = 18 + 400 * t
        return vanish_x - half, vanish_x + half, t

    for y in range(horizon, HEIGHT):
        left, right, t = road_span(y)
        canvas.rect(left, y, right, y + 1, ROAD)
        if int((t**0.5) * 14) % 2 == 0:
            half_line = 1 + 4 * t
            canvas.rect(vanish_x - half_line, y, vanish_x + half_line, y + 1, LANE)

    # Objects, far to near so nearer ones are drawn on top: (bottom y, kind).
    objects = [(rng.randint(horizon + 25, HEIGHT - 5), "vehicle") for _ in range(rng.randint(2, 5))]
    objects += [(rng.randint(horizon + 20, HEIGHT - 5), "pedestrian") for _ in range(rng.randint(0, 3))]
    objects += [(rng.randint(horizon + 30, HEIGHT - 20), "cyclist") for _ in range(rng.randint(0, 1))]
    objects += [(rng.randint(horizon + 10, horizon + 60), "traffic_light") for _ in range(rng.randint(0, 2))]
    for bottom, kind in sorted(objects):
        left, right, t = road_span(bottom)
        scale = 0.15 + 0.85 * t
        if kind == "vehicle":
            w = 160 * scale
            h = w * 0.55
            cx = rng.uniform(left + w / 2, right - w / 2) if right - left > w else (left + right) / 2
            body = rng.choice(CAR_COLORS)
            canvas.rect(cx - w / 2, bottom - h * 0.6, cx + w / 2, bottom - h * 0.12, body)
            canvas.rect(cx - w * 0.32, bottom - h, cx + w * 0.32, bottom - h * 0.6, _shade(body, 0.8))
            canvas.rect(cx - w * 0.26, bottom - h * 0.92, cx + w * 0.26, bottom - h * 0.64, WINDOW)
            canvas.rect(cx - w * 0.42, bottom - h * 0.18, cx - w * 0.2, bottom, DARK)
            canvas.rect(cx + w * 0.2, bottom - h * 0.18, cx + w * 0.42, bottom, DARK)
            canvas.rect(cx - w * 0.48, bottom - h * 0.5, cx - w * 0.4, bottom - h * 0.4, (250, 240, 180))
            canvas.rect(cx + w * 0.4, bottom - h * 0.5, cx + w * 0.48, bottom - h * 0.4, (250, 240, 180))
        elif kind == "pedestrian":
            h = 110 * scale
            w = h * 0.3
            side_left = rng.random() < 0.5
            cx = (
                left - rng.uniform(w, 60 * scale + w) if side_left else right + rng.uniform(w, 60 * scale + w)
            )
            canvas.rect(cx - w * 0.3, bottom - h, cx + w * 0.3, bottom - h * 0.8, SKIN)
            canvas.rect(cx - w / 2, bottom - h * 0.8, cx + w / 2, bottom - h * 0.42, rng.choice(SHIRT_COLORS))
            canvas.rect(cx - w * 0.4, bottom - h * 0.42, cx - w * 0.05, bottom, (50, 55, 80))
            canvas.rect(cx + w * 0.05, bottom - h * 0.42, cx + w * 0.4, bottom, (50, 55, 80))
        elif kind == "cyclist":
            h = 100 * scale
            w = h * 0.8
            cx = left + w * 0.7 if rng.random() < 0.5 else right - w * 0.7
            wheel = h * 0.3
            canvas.rect(cx - w / 2, bottom - wheel, cx - w / 2 + wheel, bottom, DARK)
            canvas.rect(cx + w / 2 - wheel, bottom - wheel, cx + w / 2, bottom, DARK)
            canvas.rect(
                cx - w / 2 + wheel,
                bottom - wheel * 0.7,
                cx + w / 2 - wheel,
                bottom - wheel * 0.5,
                (180, 30, 30),
            )
            canvas.rect(
                cx - w * 0.15,
                bottom - h * 0.75,
                cx + w * 0.15,
                bottom - wheel * 0.6,
                rng.choice(SHIRT_COLORS),
            )
            canvas.rect(cx - w * 0.1, bottom - h, cx + w * 0.1, bottom - h * 0.75, SKIN)
        else:  # traffic_light: a pole beside the road and a three-lamp head
            h = 260 * scale
            cx = left - 20 * scale if rng.random() < 0.5 else right + 20 * scale
            pole = max(2, 6 * scale)
            canvas.rect(cx - pole / 2, bottom - h, cx + pole / 2, bottom, (60, 60, 60))
            head_w, head_h = max(6, 22 * scale), max(15, 60 * scale)
            canvas.rect(cx - head_w / 2, bottom - h - head_h, cx + head_w / 2, bottom - h, DARK)
            lit = rng.randrange(3)
            lamps = [(230, 40, 40), (240, 190, 30), (40, 200, 80)]
            lamp = head_h / 3
            for i, color in enumerate(lamps):
                shown = color if i == lit else _shade(color, 0.3)
                top = bottom - h - head_h + i * lamp
                canvas.rect(cx - head_w * 0.3, top + lamp * 0.2, cx + head_w * 0.3, top + lamp * 0.8, shown)
    return canvas.png()


def ensure_demo_images(directory: Path = DEFAULT_DIR, count: int = DEMO_IMAGE_COUNT) -> list[str]:
    """Write the scenes missing from ``directory``; return the names written (empty if none)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(1, count + 1):
        path = directory / image_name(index)
        if path.exists():
            continue
        partial = path.with_suffix(".png.tmp")
        partial.write_bytes(street_scene_png(index))
        os.replace(partial, path)  # never leave a half-written file behind that looks complete
        written.append(path.name)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    names = ensure_demo_images(target)
    print(
        f"wrote {len(names)} image(s) to {target}" + (f": {', '.join(names)}" if names else " (all present)")
    )
