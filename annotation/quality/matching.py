"""Matching objects by similarity: gold F1 and cross-annotator clusters with a quorum.

Shared by every object-valued type (2D shapes, 3D cuboids, video tracks, …): the caller gives a
``group`` key (objects match only within a group, e.g. the same type and label) and a
``similarity`` in [0, 1] (IoU, or a distance turned into a score).

Matching is greedy on similarity (highest pair first), as COCO's evaluation matches detections:
with a match threshold of 0.5 IoU two overlapping candidates for one object are rare, greedy and
optimal (Hungarian) matchings then agree, and it needs no SciPy for lists of tens of objects.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from annotation.quality.categorical import quorum_for

MATCH_THRESHOLD = 0.5

Similarity = Callable[[Any, Any], float]
GroupKey = Callable[[Any], Hashable]
Extent = Callable[[Any], tuple[float, float, float, float]]


def greedy_match(
    a: Sequence[Any], b: Sequence[Any], similarity: Similarity, threshold: float = MATCH_THRESHOLD
) -> list[tuple[int, int, float]]:
    """Pairs (i, j, similarity) with similarity ≥ threshold, highest first, each object once."""
    pairs = sorted(
        ((s, i, j) for i, x in enumerate(a) for j, y in enumerate(b) if (s := similarity(x, y)) >= threshold),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    used_a, used_b, out = set(), set(), []
    for s, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((i, j, s))
    return out


def f1(matched: float, n_answer: int, n_gold: int) -> float:
    """2·matched / (|answer| + |gold|); nothing drawn and nothing expected agree completely."""
    return 1.0 if n_answer + n_gold == 0 else 2.0 * matched / (n_answer + n_gold)


def matched_f1(
    answer: Sequence[Any],
    gold: Sequence[Any],
    *,
    group: GroupKey,
    similarity: Similarity,
    threshold: float = MATCH_THRESHOLD,
    soft: bool = False,
) -> float:
    """F1 per group (label), averaged over the groups present in either list (macro F1).

    ``soft``: a matched pair counts its similarity instead of 1 (a track matched at 0.8 mean IoU
    counts 0.8)."""
    by_a, by_g = defaultdict(list), defaultdict(list)
    for x in answer:
        by_a[group(x)].append(x)
    for y in gold:
        by_g[group(y)].append(y)
    keys = set(by_a) | set(by_g)
    if not keys:
        return 1.0
    scores = []
    for key in keys:
        pairs = greedy_match(by_a[key], by_g[key], similarity, threshold)
        scores.append(f1(sum(s for _, _, s in pairs) if soft else len(pairs), len(by_a[key]), len(by_g[key])))
    return sum(scores) / len(scores)


@dataclass(frozen=True)
class Cluster:
    members: tuple[tuple[int, int], ...]  # (annotator index, object index), by annotator index
    similarity: float  # mean pairwise similarity of the members (1.0 for a single member)

    @property
    def support(self) -> int:
        return len(self.members)


def _candidate_pairs(bucket: list, obj: dict, extent: Extent | None):
    """Pairs of nodes of different annotators that may be similar at all. With ``extent`` (a box
    (x0, y0, x1, y1) outside which an object's similarity to anything is 0), a sweep along x skips
    the pairs far apart: a scene of hundreds of objects compares each with its neighbours only."""
    if extent is None:
        for x, u in enumerate(bucket):
            for v in bucket[x + 1 :]:
                if u[0] != v[0]:
                    yield u, v
        return
    ext = {node: extent(obj[node]) for node in bucket}
    order = sorted(bucket, key=lambda node: (ext[node][0], node))
    for x, u in enumerate(order):
        for v in order[x + 1 :]:
            if ext[v][0] > ext[u][2]:
                break
            if u[0] != v[0] and ext[v][1] <= ext[u][3] and ext[u][1] <= ext[v][3]:
                yield (u, v) if u < v else (v, u)


def cluster(
    per_annotator: Sequence[Sequence[Any]],
    *,
    group: GroupKey,
    similarity: Similarity,
    threshold: float = MATCH_THRESHOLD,
    extent: Extent | None = None,
) -> list[Cluster]:
    """Objects of different annotators that match (similarity ≥ threshold, same group), linked
    highest pair first; a cluster never holds two objects of one annotator."""
    nodes = [(a, i) for a, objs in enumerate(per_annotator) for i in range(len(objs))]
    obj = {node: per_annotator[node[0]][node[1]] for node in nodes}
    buckets: dict[Hashable, list] = defaultdict(list)
    for node in nodes:
        buckets[group(obj[node])].append(node)
    computed: dict[tuple, float] = {}  # candidate pairs, computed once; any other pair is 0
    for bucket in buckets.values():
        for u, v in _candidate_pairs(bucket, obj, extent):
            computed[(u, v)] = similarity(obj[u], obj[v])
    sims = {pair: s for pair, s in computed.items() if s >= threshold}
    parent = {node: node for node in nodes}
    members = {node: {node} for node in nodes}

    def root(n):
        while parent[n] != n:
            n = parent[n]
        return n

    for (u, v), _s in sorted(sims.items(), key=lambda kv: (-kv[1], kv[0])):
        ru, rv = root(u), root(v)
        if ru == rv or {a for a, _ in members[ru]} & {a for a, _ in members[rv]}:
            continue
        parent[rv] = ru
        members[ru] |= members.pop(rv)
    out = []
    for ms in members.values():
        ordered = tuple(sorted(ms))
        pair_sims = [computed.get((u, v), 0.0) for k, u in enumerate(ordered) for v in ordered[k + 1 :]]
        out.append(Cluster(ordered, sum(pair_sims) / len(pair_sims) if pair_sims else 1.0))
    return sorted(out, key=lambda c: c.members[0])


def medoid(objects: Sequence[Any], similarity: Similarity) -> int:
    """Index of the object most similar to the others (ties: the first)."""
    totals = [sum(similarity(o, p) for p in objects) for o in objects]
    return max(range(len(objects)), key=lambda k: (totals[k], -k))


def consensus_objects(
    per_annotator: Sequence[Sequence[Any]],
    *,
    group: GroupKey,
    similarity: Similarity,
    fuse: Callable[[list[Any]], Any],
    quorum: int | None = None,
    threshold: float = MATCH_THRESHOLD,
    extent: Extent | None = None,
) -> tuple[list[tuple[Any, float]], float]:
    """Cluster the annotators' objects, keep the clusters that reach the quorum (⌈n/2⌉ of the
    ``n`` annotators by default) and fuse each into one object.

    Returns ([(fused object, its confidence)], task confidence). An object's confidence is its
    members' mean match similarity × its support share; the task's is the mean over all clusters,
    where a dropped cluster counts the share that agreed it is not there (1 − support share), so
    unanimity — on the objects and on their absence — gives 1.0."""
    n = len(per_annotator)
    if n == 0:
        raise ValueError("consensus needs at least one answer")
    need = quorum_for(n, quorum)
    clusters = cluster(per_annotator, group=group, similarity=similarity, threshold=threshold, extent=extent)
    kept, agreement = [], []
    for c in clusters:
        share = c.support / n
        if c.support >= need:
            objs = [per_annotator[a][i] for a, i in c.members]
            confidence = c.similarity * share
            kept.append((fuse(objs), confidence))
            agreement.append(confidence)
        else:
            agreement.append(1.0 - share)
    return kept, (math.fsum(agreement) / len(agreement) if agreement else 1.0)


def mean_angle(angles: Sequence[float]) -> float:
    """Circular mean in radians, in (−π, π]."""
    return math.atan2(sum(math.sin(a) for a in angles), sum(math.cos(a) for a in angles))


def vote_attributes(objects: Sequence[dict]) -> dict:
    """Per attribute, the value most members gave (ties: the smallest value as JSON text)."""
    votes: dict[str, Counter] = defaultdict(Counter)
    for obj in objects:
        for name, value in (obj.get("attributes") or {}).items():
            votes[name][repr(value)] += 1
    originals = {repr(v): v for obj in objects for v in (obj.get("attributes") or {}).values()}
    out = {}
    for name in sorted(votes):
        best = min(votes[name], key=lambda r: (-votes[name][r], r))
        if votes[name][best] * 2 >= len(objects):
            out[name] = originals[best]
    return out
