"""Quality engine: pure functions on plain data (no ORM), so they are tested without a database.

This issue's consensus methods: majority vote (single and multi choice) and "collect" (keep every
answer, for geometry until IoU fusion lands). Every result carries a confidence in [0, 1] (or
None where no agreement is measured).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Aggregate:
    response: dict
    confidence: float | None


def majority_vote(votes: Sequence[Hashable], *, order: Sequence[Hashable], key: str) -> Aggregate:
    """The most frequent answer. Ties go to the choice listed first in ``order``, so the result
    never depends on the order in which answers arrived. Confidence = winner's share of votes."""
    if not votes:
        raise ValueError("majority_vote needs at least one vote")
    counts = Counter(votes)
    rank = {choice: i for i, choice in enumerate(order)}
    winner = min(counts, key=lambda c: (-counts[c], rank.get(c, len(rank)), str(c)))
    return Aggregate({key: winner}, counts[winner] / len(votes))


def majority_vote_multi(votes: Sequence[Sequence[Hashable]], *, order: Sequence[Hashable], key: str) -> Aggregate:
    """Multi-choice: a choice is in the response when more than half of the answers chose it.
    Confidence = mean over choices of the share of answers on the winning side."""
    if not votes:
        raise ValueError("majority_vote_multi needs at least one vote")
    n = len(votes)
    counts = Counter(choice for vote in votes for choice in set(vote))
    chosen = [choice for choice in order if counts[choice] * 2 > n]
    agreement = [max(counts[c], n - counts[c]) / n for c in order] or [1.0]
    return Aggregate({key: chosen}, sum(agreement) / len(agreement))


def collect_answers(answers: Sequence[Any]) -> Aggregate:
    """Keep every answer, in arrival order (no automatic consensus)."""
    return Aggregate({"answers": list(answers)}, None)
