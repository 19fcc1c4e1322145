"""Agreement between annotators: Krippendorff's alpha, pairwise agreement, agreement with consensus.

Reliability data is given unit by unit (a unit is a task, or one field of a task): each unit holds
the values its coders gave, ``None`` (or a float NaN) where a coder gave none. A unit is either a
sequence with one position per coder, or a mapping coder → value; ``units`` itself is a sequence
of units or a mapping unit id → unit (the ids are not used).

Krippendorff's alpha (Krippendorff, "Computing Krippendorff's Alpha-Reliability", 2011) follows
the coincidence-matrix formulation, which handles any number of coders and missing values:

- a unit with m ≥ 2 values contributes, for every ordered pair of values (c, k) from two
  different coders, 1 / (m − 1) to the coincidence ``o[c, k]``; a unit with fewer than 2 values is
  not pairable and contributes nothing;
- ``n_c = Σ_k o[c, k]`` (how often value c was pairable), ``n = Σ_c n_c``;
- ``α = 1 − (n − 1) · Σ o[c, k] δ²(c, k) / Σ n_c n_k δ²(c, k)``, with ``δ² = [c ≠ k]`` for nominal
  data and ``(c − k)²`` for interval data.

α = 1 is perfect agreement, 0 agreement at chance level, below 0 systematic disagreement.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from numbers import Real
from typing import Any, Literal

import numpy as np

LEVELS = ("nominal", "interval")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _unit_values(unit: Any) -> list:
    if isinstance(unit, Mapping):
        values = unit.values()
    elif isinstance(unit, Sequence) and not isinstance(unit, str | bytes):
        values = unit
    else:
        raise ValueError(
            f"a unit must be a sequence of values (one per coder) or a mapping coder → value, got {unit!r}"
        )
    return [v for v in values if not _is_missing(v)]


def _units(units: Sequence | Mapping) -> Iterable:
    if isinstance(units, Mapping):
        return units.values()
    if isinstance(units, Sequence) and not isinstance(units, str | bytes):
        return units
    raise ValueError("units must be a sequence of units or a mapping unit → unit")


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")


def _check_interval(values: list) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            raise ValueError(f"interval data must be finite numbers, got {v!r}")


def pairable_units(units: Sequence | Mapping, level: str = "nominal") -> list[list]:
    """The non-missing values of every unit that has at least two (the pairable units)."""
    _check_level(level)
    out = []
    for unit in _units(units):
        values = _unit_values(unit)
        if level == "interval":
            _check_interval(values)
        if len(values) >= 2:
            out.append(values)
    return out


def _codes(values: list) -> np.ndarray:
    codes: dict[Hashable, int] = {}
    try:
        return np.fromiter(
            (codes.setdefault(v, len(codes)) for v in values), dtype=np.int64, count=len(values)
        )
    except TypeError as exc:
        raise ValueError(f"nominal values must be hashable (e.g. a tuple, not a list): {exc}") from None


def coincidence_matrix(units: Sequence | Mapping, level: str = "nominal") -> tuple[list, dict[tuple, float]]:
    """The values seen in pairable units (sorted for interval data, in first-seen order for
    nominal) and the coincidences ``{(c, k): o_ck}`` (only non-zero cells; symmetric)."""
    values_seen: dict[Hashable, None] = {}
    o: dict[tuple, float] = defaultdict(float)
    for values in pairable_units(units, level):
        m = len(values)
        _codes(values)  # refuses unhashable values with a ValueError
        counts = Counter(values)
        for c, n_c in counts.items():
            values_seen.setdefault(c, None)
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    o[(c, k)] += pairs / (m - 1)
    seen = sorted(values_seen) if level == "interval" else list(values_seen)
    return seen, dict(o)


def krippendorff_alpha(
    units: Sequence[Sequence[Any]] | Mapping, level: Literal["nominal", "interval"] = "nominal"
) -> float | None:
    """Krippendorff's alpha of the reliability data ``units`` (one row per unit, one value or
    None per coder; see the module docstring), at the ``nominal`` or ``interval`` level.

    Returns None in two cases where alpha is undefined (0 / 0):
    - no pairable unit (no unit has two values), so there is no pair to compare;
    - no variance: every pairable value is the same, so the expected disagreement is 0 (the
      coders agree, but nothing shows they could have disagreed).

    Interval values must be finite real numbers (bool refused); nominal values any hashable.
    Raises ValueError on an unknown level or on bad values.

    Computed as the coincidence matrix contracted with δ², without building the matrix: a unit's
    coincidences sum to ``Σ_{i≠j} δ²(x_i, x_j) / (m − 1)``, which is ``(m² − Σ_c n_uc²) / (m − 1)``
    (nominal) or ``2 m Σ_i (x_i − x̄_u)² / (m − 1)`` (interval); ``n_c`` is how often c occurs among
    the pairable values, so the expected term is ``n² − Σ_c n_c²`` or ``2 n Σ (x − x̄)²``. The
    tests check it against ``coincidence_matrix`` and the paper. Memory O(values), not O(V²)."""
    pairable = pairable_units(units, level)
    if not pairable:
        return None
    lengths = np.fromiter((len(vs) for vs in pairable), dtype=np.int64, count=len(pairable))
    unit_of = np.repeat(np.arange(len(pairable)), lengths)
    n = int(lengths.sum())
    flat = [v for vs in pairable for v in vs]
    if level == "nominal":
        coded = _codes(flat)
        pooled = np.bincount(coded).astype(float)
        v = len(pooled)
        cells, per_cell = np.unique(unit_of * v + coded, return_counts=True)  # (unit, value) → n_uc
        same = np.bincount(cells // v, weights=per_cell.astype(float) ** 2, minlength=len(pairable))
        observed = float(np.sum((lengths.astype(float) ** 2 - same) / (lengths - 1)))
        expected = float(n) ** 2 - float(np.sum(pooled**2))
    else:
        x = np.asarray(flat, dtype=float)
        means = np.bincount(unit_of, weights=x) / lengths
        spread = np.bincount(unit_of, weights=(x - means[unit_of]) ** 2)
        observed = float(np.sum(2 * lengths * spread / (lengths - 1)))
        expected = 2.0 * n * float(np.sum((x - x.mean()) ** 2))
    if expected <= 1e-12 * max(1.0, float(n) ** 2):
        return None
    return 1.0 - (n - 1) * observed / expected


def pairwise_agreement(units: Sequence[Sequence[Any]] | Mapping) -> float | None:
    """Share of agreeing pairs: over every pairable unit, every pair of values from two
    different coders counts once; the share of pairs with equal values (pooled over units, so a
    unit with more coders has more pairs). None when no unit has two values. Not chance
    corrected: with few classes it is high even for random answers (see alpha)."""
    agree = total = 0
    for values in pairable_units(units):
        m = len(values)
        total += m * (m - 1) // 2
        agree += sum(c * (c - 1) // 2 for c in Counter(values).values())
    return agree / total if total else None


def annotator_agreement(
    answers_by_task: Mapping[Hashable, Mapping[Hashable, Any]], consensus: Mapping[Hashable, Any]
) -> dict[Hashable, tuple[int, int]]:
    """Per annotator, ``(agree, total)``: on how many tasks with a consensus their answer
    equals it, out of how many such tasks they answered. Tasks without a consensus (missing or
    None) and missing answers (None) are left out. Annotators in first-seen order."""
    out: dict[Hashable, list[int]] = {}
    for task, answers in answers_by_task.items():
        truth = consensus.get(task)
        if truth is None:
            continue
        for annotator, value in answers.items():
            if _is_missing(value):
                continue
            counts = out.setdefault(annotator, [0, 0])
            counts[0] += value == truth
            counts[1] += 1
    return {annotator: (agree, total) for annotator, (agree, total) in out.items()}
