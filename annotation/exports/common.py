"""Helpers shared by the format writers: JSON lines, the aggregated answer, labels."""

from __future__ import annotations

import json
from typing import Any

# Characters that some line readers (Python's str.splitlines, JavaScript before ES2019) take for a
# line break. JSON may escape any character, so they are written escaped: one record, one line.
LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


# One encoder for every record (``json.dumps`` with options builds a new one per call).
encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str).encode


def json_line(record: Any) -> bytes:
    text = encode(record)
    return (text.translate(LINE_BREAKS) + "\n").encode()


def single_answer(response: Any) -> dict | None:
    """The aggregated answer in the answer's own shape.

    Consensus methods write the answer shape (``{"category": …}``, fused ``{"annotations": …}``,
    ``{"ranking": …}``). The ``collect`` method (geometry before fusion) writes
    ``{"answers": [answer, …]}``: with one answer that answer is the response; with several there
    is no single answer to export (None)."""
    if not isinstance(response, dict):
        return None
    if set(response) == {"answers"} and isinstance(response["answers"], list):
        answers = response["answers"]
        return answers[0] if len(answers) == 1 and isinstance(answers[0], dict) else None
    return response


def label_names(descriptions: Any) -> list[str]:
    """``objects_to_annotate`` entries (a string or ``{"choice": …}``) as label strings."""
    out = []
    for item in descriptions or []:
        name = (
            item if isinstance(item, str) else (item or {}).get("choice") if isinstance(item, dict) else None
        )
        if isinstance(name, str) and name not in out:
            out.append(name)
    return out
