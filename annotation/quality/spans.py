"""Labeled text spans (``namedentityrecognition``): exact span F1 and span voting.

A span is ``{start, end, label}`` with ``end`` exclusive, offsets in Unicode code points (Python
string indices)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from annotation.quality.categorical import Aggregate, quorum_for
from annotation.quality.matching import f1


def _key(span: dict) -> tuple[int, int, str]:
    return int(span["start"]), int(span["end"]), span["label"]


def score_spans(answer: Sequence[dict], gold: Sequence[dict]) -> float:
    """Span-level F1 on exact (start, end, label); no spans on either side agree completely."""
    a, g = {_key(s) for s in answer}, {_key(s) for s in gold}
    return f1(len(a & g), len(a), len(g))


def span_vote(
    per_annotator: Sequence[Sequence[dict]], *, quorum: int | None = None, allow_overlap: bool = False
) -> Aggregate:
    """A span is kept when at least ``quorum`` (⌈n/2⌉) annotators marked exactly it. Without
    ``allow_overlap``, overlapping kept spans are resolved by votes, then the earlier and longer
    span. Confidence: mean over every span anyone marked of the share of annotators on the
    winning side (kept: who marked it; dropped: who did not); 1.0 when nobody marked anything.
    Independent of the order of the answers."""
    n = len(per_annotator)
    if n == 0:
        raise ValueError("span_vote needs at least one answer")
    need = quorum_for(n, quorum)
    votes = Counter(key for spans in per_annotator for key in {_key(s) for s in spans})
    candidates = sorted(
        (k for k in votes if votes[k] >= need), key=lambda k: (-votes[k], k[0], -(k[1] - k[0]), k[2])
    )
    kept: list[tuple[int, int, str]] = []
    for key in candidates:
        if allow_overlap or all(key[1] <= other[0] or other[1] <= key[0] for other in kept):
            kept.append(key)
    kept_set = set(kept)
    agreement = [(votes[k] if k in kept_set else n - votes[k]) / n for k in votes]
    spans = [{"start": s, "end": e, "label": label} for s, e, label in sorted(kept)]
    return Aggregate({"annotations": spans}, math.fsum(agreement) / len(agreement) if agreement else 1.0)
