"""An image annotation answer as SVG shapes over its image, for the portal's task pages (no
JavaScript needed to draw; ``web/portal.js`` only corrects the view box to the image's natural
size when the task's params do not give it).

Pure functions over the answer's JSON; coordinates stay in image pixels."""

from __future__ import annotations

import hashlib
import math
from typing import Any

PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
DEFAULT_SIZE = (640, 480)


def label_colour(label: str) -> str:
    digest = hashlib.sha256(label.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def safe_src(url: Any) -> str | None:
    """Only http(s) and same-site paths go in an ``href`` (never ``javascript:`` or ``data:``)."""
    if not isinstance(url, str):
        return None
    if url.startswith(("https://", "http://")) or (url.startswith("/") and not url.startswith("//")):
        return url
    return None


def _points(vertices: list[dict]) -> str:
    return " ".join(f"{float(v['x']):g},{float(v['y']):g}" for v in vertices)


def _degrees(radians) -> str:
    """Answers give ``rotation`` in radians (Scale's convention, and the canvas tool's); SVG's
    ``rotate()`` takes degrees."""
    return f"{math.degrees(float(radians)):.6g}"


def shape(annotation: dict) -> dict | None:
    """One annotation as ``{"tag", "attrs", "label", "colour"}``; None for an unknown kind."""
    kind = annotation.get("type")
    label = str(annotation.get("label", ""))
    colour = label_colour(label)
    try:
        if kind == "box":
            left, top = float(annotation["left"]), float(annotation["top"])
            width, height = float(annotation["width"]), float(annotation["height"])
            attrs = {"x": left, "y": top, "width": width, "height": height}
            if annotation.get("rotation"):
                attrs["transform"] = (
                    f"rotate({_degrees(annotation['rotation'])} {left + width / 2:g} {top + height / 2:g})"
                )
            return {"tag": "rect", "attrs": attrs, "label": label, "colour": colour, "anchor": (left, top)}
        if kind in ("polygon", "cuboid"):
            vertices = annotation["vertices"]
            return {
                "tag": "polygon",
                "attrs": {"points": _points(vertices)},
                "label": label,
                "colour": colour,
                "anchor": (float(vertices[0]["x"]), float(vertices[0]["y"])),
            }
        if kind == "line":
            vertices = annotation["vertices"]
            return {
                "tag": "polyline",
                "attrs": {"points": _points(vertices)},
                "label": label,
                "colour": colour,
                "anchor": (float(vertices[0]["x"]), float(vertices[0]["y"])),
            }
        if kind == "point":
            x, y = float(annotation["x"]), float(annotation["y"])
            return {
                "tag": "circle",
                "attrs": {"cx": x, "cy": y, "r": 4},
                "label": label,
                "colour": colour,
                "anchor": (x, y),
            }
        if kind == "ellipse":
            x, y = float(annotation["x"]), float(annotation["y"])
            attrs = {"cx": x, "cy": y, "rx": float(annotation["rx"]), "ry": float(annotation["ry"])}
            if annotation.get("rotation"):
                attrs["transform"] = f"rotate({_degrees(annotation['rotation'])} {x:g} {y:g})"
            return {
                "tag": "ellipse",
                "attrs": attrs,
                "label": label,
                "colour": colour,
                "anchor": (x - attrs["rx"], y),
            }
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return None


def overlay(params: dict, answer: Any) -> dict | None:
    """The image and the answer's shapes, or None when the task has no drawable image."""
    src = safe_src(params.get("attachment"))
    if src is None or params.get("attachment_type", "image") != "image":
        return None
    annotations = answer.get("annotations") if isinstance(answer, dict) else None
    shapes = [s for s in (shape(a) for a in annotations or [] if isinstance(a, dict)) if s is not None]
    width = params.get("attachment_width")
    height = params.get("attachment_height")
    known = isinstance(width, int | float) and isinstance(height, int | float) and width > 0 and height > 0
    if not known:
        width, height = DEFAULT_SIZE
    for s in shapes:
        s["svg_attrs"] = " ".join(
            f'{k}="{v:g}"' if isinstance(v, float | int) else f'{k}="{v}"' for k, v in s["attrs"].items()
        )
        s["label_x"], s["label_y"] = s["anchor"][0], max(s["anchor"][1] - 3, 10)
    return {"src": src, "width": width, "height": height, "size_known": known, "shapes": shapes}
