"""Pure tests of the agreement metrics: Krippendorff's alpha, pairwise agreement, agreement with
the consensus (no database)."""

import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation import quality

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 coders (rows)
# × 12 units (columns), missing values allowed.
PAPER_CODERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
PAPER_UNITS = [list(unit) for unit in zip(*PAPER_CODERS, strict=True)]


def test_the_papers_nominal_example_gives_0_743():
    alpha = quality.krippendorff_alpha(PAPER_UNITS, "nominal")
    # n = 40 pairable values, 8 disagreeing coincidences, n² − Σ n_c² = 1600 − 384
    assert alpha == pytest.approx(1 - 39 * 8 / 1216, abs=1e-12)
    assert round(alpha, 3) == 0.743


def test_the_papers_interval_example_gives_0_849():
    alpha = quality.krippendorff_alpha(PAPER_UNITS, "interval")
    assert alpha == pytest.approx(0.8491071428571428, abs=1e-12)  # the krippendorff package's value
    assert round(alpha, 3) == 0.849


def test_the_coincidence_matrix_of_the_paper():
    values, o = quality.coincidence_matrix(PAPER_UNITS)
    assert values == [1, 2, 3, 4, 5]
    assert o[(1, 1)] == 7 and o[(2, 2)] == 10 and o[(3, 3)] == 8 and o[(4, 4)] == 4 and o[(5, 5)] == 3
    assert o[(1, 2)] == o[(2, 1)] == pytest.approx(4 / 3)
    assert o[(2, 3)] == pytest.approx(4 / 3) and o[(1, 3)] == pytest.approx(1 / 3)
    assert (1, 5) not in o
    assert math.fsum(o.values()) == pytest.approx(40)  # n: unit 12 (one value) is not pairable


def test_units_may_be_mappings_and_nan_is_missing():
    as_mapping = {
        f"task-{u}": {f"coder-{c}": v for c, v in enumerate(unit) if v is not None}
        for u, unit in enumerate(PAPER_UNITS)
    }
    with_nan = [[math.nan if v is None else float(v) for v in unit] for unit in PAPER_UNITS]
    expected = quality.krippendorff_alpha(PAPER_UNITS, "interval")
    assert quality.krippendorff_alpha(as_mapping, "interval") == pytest.approx(expected, abs=1e-12)
    assert quality.krippendorff_alpha(with_nan, "interval") == pytest.approx(expected, abs=1e-12)


def test_alpha_is_none_without_pairable_units_or_without_variance():
    assert quality.krippendorff_alpha([], "nominal") is None
    assert (
        quality.krippendorff_alpha([["a", None], [None, "b"], ["c"]], "nominal") is None
    )  # no unit has 2 values
    assert quality.krippendorff_alpha([["a", "a"], ["a", "a", None]], "nominal") is None  # no variance
    assert quality.krippendorff_alpha([[3, 3], [3, 3, 3]], "interval") is None


def test_systematic_disagreement_is_below_zero_and_interval_weighs_distance():
    assert quality.krippendorff_alpha([["a", "b"], ["b", "a"]], "nominal") == pytest.approx(-0.5)
    near = quality.krippendorff_alpha([[1, 2], [5, 5], [9, 9]], "interval")
    far = quality.krippendorff_alpha([[1, 9], [5, 5], [9, 9]], "interval")
    assert near > far
    # nominal ignores the distance: 1 vs 9 is as much a disagreement as 1 vs 2 (same value counts)
    assert quality.krippendorff_alpha([[1, 2], [9, 9], [2, 1]], "nominal") == pytest.approx(
        quality.krippendorff_alpha([[1, 9], [2, 2], [9, 1]], "nominal")
    )
    assert quality.krippendorff_alpha([[1, 2], [9, 9], [2, 1]], "interval") > quality.krippendorff_alpha(
        [[1, 9], [2, 2], [9, 1]], "interval"
    )


@pytest.mark.parametrize(
    ("units", "level", "message"),
    [
        ([[1, 2]], "ordinal", "level must be one of"),
        ([["a", "b"]], "interval", "finite numbers"),
        ([[True, False]], "interval", "finite numbers"),
        ([[1.0, math.inf]], "interval", "finite numbers"),
        ([[["a"], ["b"]]], "nominal", "hashable"),
        ([7], "nominal", "a unit must be"),
        ("ab", "nominal", "units must be"),
    ],
)
def test_bad_reliability_data_is_refused(units, level, message):
    with pytest.raises(ValueError, match=message):
        quality.krippendorff_alpha(units, level)


# Cross-check against the reference implementation (the ``krippendorff`` package) on random
# reliability data: 2–5 coders, 1–12 units, values 1–4 or missing.
reliability_data = st.integers(min_value=2, max_value=5).flatmap(
    lambda coders: st.lists(
        st.lists(
            st.one_of(st.none(), st.integers(min_value=1, max_value=4)), min_size=coders, max_size=coders
        ),
        min_size=1,
        max_size=12,
    )
)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(reliability_data, st.sampled_from(["nominal", "interval"]))
def test_alpha_matches_the_krippendorff_package(units, level):
    ours = quality.krippendorff_alpha(units, level)
    pairable = [[v for v in unit if v is not None] for unit in units]
    pairable = [vs for vs in pairable if len(vs) >= 2]
    if not pairable or len({v for vs in pairable for v in vs}) < 2:
        assert ours is None
        return
    matrix = np.array(
        [[np.nan if v is None else v for v in unit] for unit in units], dtype=float
    ).T  # coders × units
    reference = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    assert ours == pytest.approx(reference, abs=1e-9)


def alpha_from_coincidences(units, level):
    """The paper's formula over the explicit coincidence matrix."""
    values, o = quality.coincidence_matrix(units, level)
    n_c = {c: sum(w for (a, _), w in o.items() if a == c) for c in values}
    n = sum(n_c.values())
    delta = (lambda c, k: float(c != k)) if level == "nominal" else (lambda c, k: (c - k) ** 2)
    observed = sum(w * delta(c, k) for (c, k), w in o.items())
    expected = sum(n_c[c] * n_c[k] * delta(c, k) for c in values for k in values)
    return 1 - (n - 1) * observed / expected


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(reliability_data, st.sampled_from(["nominal", "interval"]))
def test_alpha_equals_the_formula_over_the_explicit_coincidence_matrix(units, level):
    ours = quality.krippendorff_alpha(units, level)
    if ours is not None:
        assert ours == pytest.approx(alpha_from_coincidences(units, level), abs=1e-9)
    assert alpha_from_coincidences(PAPER_UNITS, level) == pytest.approx(
        quality.krippendorff_alpha(PAPER_UNITS, level)
    )


# --- pairwise agreement and agreement with the consensus -----------------------------------------------


def test_pairwise_agreement_pools_the_pairs_of_every_unit():
    # unit 1: 3 values, pairs (a,a) (a,b) (a,b) → 1 of 3; unit 2: 2 values agree → 1 of 1
    assert quality.pairwise_agreement(
        [["a", "a", "b"], ["c", None, "c"], ["d", None, None]]
    ) == pytest.approx(2 / 4)
    assert quality.pairwise_agreement([["a"], [None, "b"]]) is None


def test_pairwise_agreement_of_the_paper():
    # per pairable unit (1–11): agreeing pairs of values, and all pairs (3 values: 3, 4 values: 6)
    agreeing = [3, 3, 6, 6, 6, 0, 6, 3, 6, 3, 1]
    pairs = [3, 6, 6, 6, 6, 6, 6, 6, 6, 3, 1]
    assert (
        quality.pairwise_agreement(PAPER_UNITS)
        == pytest.approx(43 / 55)
        == pytest.approx(sum(agreeing) / sum(pairs))
    )


def test_annotator_agreement_counts_matches_with_the_consensus():
    answers = {
        "t1": {"ann": "cat", "bob": "dog", "cy": "cat"},
        "t2": {"ann": "dog", "bob": "dog"},
        "t3": {"ann": "cat", "bob": None},  # bob gave nothing here
        "t4": {"ann": "cat", "cy": "dog"},  # no consensus: left out
    }
    consensus = {"t1": "cat", "t2": "dog", "t3": "dog", "t4": None}
    assert quality.annotator_agreement(answers, consensus) == {"ann": (2, 3), "bob": (1, 2), "cy": (1, 1)}
    assert list(quality.annotator_agreement(answers, consensus)) == ["ann", "bob", "cy"]
    assert quality.annotator_agreement(answers, {}) == {}
