"""Categorical answers: majority vote (single and multi choice), "collect" (keep every answer),
and gold scoring by exact match (single choice) or Jaccard similarity (multiple choice)."""

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


def majority_vote_multi(
    votes: Sequence[Sequence[Hashable]], *, order: Sequence[Hashable], key: str
) -> Aggregate:
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


def quorum_for(n: int, quorum: int | None = None) -> int:
    """Default quorum: ⌈n/2⌉ of the ``n`` answers (at least 1)."""
    return max(1, quorum if quorum is not None else (n + 1) // 2)


def score_exact(answer: Hashable, gold: Hashable) -> float:
    return 1.0 if answer == gold else 0.0


def score_jaccard(answer: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """|A ∩ G| / |A ∪ G|; two empty sets agree completely."""
    a, g = set(answer), set(gold)
    return 1.0 if not a | g else len(a & g) / len(a | g)
