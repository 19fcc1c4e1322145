"""Rankings and pairwise preferences (``comparison``): Kendall's tau, Borda count, Bradley-Terry."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

from annotation.quality.categorical import Aggregate


def kendall_tau(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Kendall's tau-a between two orderings of the same items, in [−1, 1] (items missing from
    either are ignored; fewer than two shared items agree trivially)."""
    pos_b = {item: k for k, item in enumerate(b)}
    common = [item for item in a if item in pos_b]
    n = len(common)
    if n < 2:
        return 1.0
    score = 0
    for i in range(n):
        for j in range(i + 1, n):
            score += 1 if pos_b[common[i]] < pos_b[common[j]] else -1
    return score / (n * (n - 1) / 2)


def score_ranking(answer: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """Kendall's tau mapped to [0, 1]: 1 the same order, 0 the reverse."""
    return (kendall_tau(answer, gold) + 1) / 2


def borda(
    rankings: Sequence[Sequence[Hashable]], *, items: Sequence[Hashable]
) -> tuple[list[Hashable], dict[Hashable, int]]:
    """Borda count: in a ranking of m items, position p (0 = best) earns m − 1 − p points.
    Ties go to the item listed first in ``items``, so the result does not depend on the order of
    the rankings."""
    points: Counter = Counter({item: 0 for item in items})
    for ranking in rankings:
        m = len(ranking)
        for p, item in enumerate(ranking):
            points[item] += m - 1 - p
    rank = {item: k for k, item in enumerate(items)}
    order = sorted(points, key=lambda item: (-points[item], rank.get(item, len(rank))))
    return order, dict(points)


def borda_aggregate(rankings: Sequence[Sequence[Hashable]], *, items: Sequence[Hashable]) -> Aggregate:
    """Consensus ranking by Borda count; confidence = mean Kendall agreement (tau mapped to
    [0, 1]) of the annotators with it."""
    if not rankings:
        raise ValueError("borda needs at least one ranking")
    order, points = borda(rankings, items=items)
    agreement = math.fsum(score_ranking(r, order) for r in rankings) / len(rankings)  # fsum: order-free
    return Aggregate({"ranking": order, "borda_points": points}, agreement)


def bradley_terry(
    wins: np.ndarray, *, iterations: int = 200, tolerance: float = 1e-10, prior: float = 0.0
) -> np.ndarray:
    """Bradley-Terry strengths from a win matrix (``wins[i, j]`` = times i was preferred to j),
    by Hunter's (2004) MM iterations: p_i ← W_i / Σ_j n_ij / (p_i + p_j), then normalised to sum 1.

    ``prior`` adds that many pseudo-wins in each direction of every pair, which keeps the
    estimate finite when an item never wins (the MLE would be 0) or never loses."""
    w = np.asarray(wins, dtype=float).copy()
    m = w.shape[0]
    if prior:
        w += prior * (1 - np.eye(m))
    n = w + w.T
    total_wins = w.sum(axis=1)
    p = np.full(m, 1.0 / m)
    for _ in range(iterations):
        denom = (n / (p[:, None] + p[None, :] + 1e-300)).sum(axis=1)
        new = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1.0), p)
        new = new / new.sum() if new.sum() > 0 else np.full(m, 1.0 / m)
        if np.abs(new - p).max() < tolerance:
            p = new
            break
        p = new
    return p


def pairwise_aggregate(
    choices: Sequence[Hashable],
    strengths: Sequence[int],
    *,
    items: Sequence[Hashable],
    justifications: Sequence[str] = (),
) -> Aggregate:
    """One pairwise task: Bradley-Terry on its win matrix (each answer is one win of its choice
    over the other response). For two items the BT estimate is each item's share of wins, so this
    is a majority vote; a tie goes to the larger total strength, then to the item listed first.
    The strength is the median strength of the winner's voters; confidence = the winner's BT
    probability of being preferred (its share of votes)."""
    if not choices:
        raise ValueError("pairwise_aggregate needs at least one answer")
    index = {item: k for k, item in enumerate(items)}
    wins = np.zeros((len(items), len(items)))
    for choice in choices:
        for other in items:
            if other != choice:
                wins[index[choice], index[other]] += 1
    p = bradley_terry(wins)
    strength_of = Counter()
    for choice, strength in zip(choices, strengths, strict=True):
        strength_of[choice] += strength
    winner = min(items, key=lambda item: (-round(float(p[index[item]]), 12), -strength_of[item], index[item]))
    mine = sorted(s for c, s in zip(choices, strengths, strict=True) if c == winner)
    response = {"choice": winner}
    if mine:
        response["strength"] = mine[(len(mine) - 1) // 2]  # the lower median: an integer on the scale
    if justifications:
        response["justifications"] = [j for j in justifications if j]
    share = sum(1 for c in choices if c == winner) / len(choices)
    return Aggregate(response, share)
