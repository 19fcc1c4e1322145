"""Pure tests of rankings, pairwise preferences, text spans and forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation import quality

ITEMS = ["a", "b", "c", "d", "e"]
rankings = st.permutations(ITEMS)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(rankings)
def test_kendall_tau_of_a_ranking_with_itself_is_1_and_with_its_reverse_0(ranking):
    assert quality.kendall_tau(ranking, ranking) == 1.0
    assert quality.score_ranking(ranking, ranking) == 1.0
    assert quality.score_ranking(ranking, ranking[::-1]) == 0.0


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(rankings, rankings)
def test_kendall_tau_is_symmetric(a, b):
    assert quality.kendall_tau(a, b) == quality.kendall_tau(b, a)


def test_kendall_tau_counts_discordant_pairs():
    assert quality.kendall_tau(["a", "b", "c"], ["b", "a", "c"]) == pytest.approx(1 / 3)
    assert quality.score_ranking(["a", "b", "c"], ["b", "a", "c"]) == pytest.approx(2 / 3)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(st.lists(rankings, min_size=1, max_size=8), st.randoms())
def test_borda_does_not_depend_on_annotator_order(votes, rnd):
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    assert quality.borda_aggregate(votes, items=ITEMS) == quality.borda_aggregate(shuffled, items=ITEMS)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(rankings, st.integers(min_value=1, max_value=6))
def test_borda_of_unanimous_rankings_is_that_ranking_with_full_confidence(ranking, n):
    result = quality.borda_aggregate([ranking] * n, items=ITEMS)
    assert result.response["ranking"] == list(ranking)
    assert result.confidence == 1.0


def test_borda_points_and_ties():
    order, points = quality.borda([["a", "b", "c"], ["b", "a", "c"]], items=["a", "b", "c"])
    assert points == {"a": 3, "b": 3, "c": 0}
    assert order == ["a", "b", "c"]  # a tie goes to the response listed first


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(rankings, st.integers(min_value=1, max_value=5))
def test_bradley_terry_on_unanimous_preferences_ranks_the_winner_first(order, votes):
    index = {item: k for k, item in enumerate(ITEMS)}
    wins = np.zeros((len(ITEMS), len(ITEMS)))
    for i, better in enumerate(order):
        for worse in order[i + 1 :]:
            wins[index[better], index[worse]] += votes
    for prior in (0.0, 0.5):
        strengths = quality.bradley_terry(wins, prior=prior)
        assert int(np.argmax(strengths)) == index[order[0]]
        assert strengths.sum() == pytest.approx(1.0)
    # with a prior the whole order is recovered
    strengths = quality.bradley_terry(wins, prior=0.5)
    assert [ITEMS[k] for k in np.argsort(-strengths)] == list(order)


def test_bradley_terry_matches_a_known_fit():
    # a beats b 2–1, b beats c 2–1, a beats c 2–1: a > b > c, and the MLE satisfies W_i = Σ_j n_ij
    # p_i/(p_i+p_j)
    wins = np.array([[0, 2, 2], [1, 0, 2], [1, 1, 0]], dtype=float)
    p = quality.bradley_terry(wins, iterations=5000, tolerance=1e-14)
    assert list(np.argsort(-p)) == [0, 1, 2]
    n = wins + wins.T
    expected = (n * p[:, None] / (p[:, None] + p[None, :])).sum(axis=1)
    assert expected == pytest.approx(wins.sum(axis=1), rel=1e-6)


def test_pairwise_is_a_majority_with_strength_and_justifications():
    result = quality.pairwise_aggregate(
        ["r2", "r1", "r2"], [3, 7, 5], items=["r1", "r2"], justifications=["x", "", "y"]
    )
    assert result.response == {"choice": "r2", "strength": 3, "justifications": ["x", "y"]}
    assert result.confidence == pytest.approx(2 / 3)


def test_pairwise_tie_goes_to_the_stronger_preference_then_the_first_response():
    assert quality.pairwise_aggregate(["r1", "r2"], [2, 6], items=["r1", "r2"]).response["choice"] == "r2"
    tie = quality.pairwise_aggregate(["r2", "r1"], [4, 4], items=["r1", "r2"])
    assert tie.response == {"choice": "r1", "strength": 4}
    assert tie.confidence == 0.5


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(
    st.lists(st.tuples(st.sampled_from(["r1", "r2"]), st.integers(1, 7)), min_size=1, max_size=9),
    st.randoms(),
)
def test_pairwise_does_not_depend_on_answer_order(votes, rnd):
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    run = lambda vs: quality.pairwise_aggregate([c for c, _ in vs], [s for _, s in vs], items=["r1", "r2"])  # noqa: E731
    assert run(votes) == run(shuffled)


# --- spans ------------------------------------------------------------------------------------------

spans = st.lists(
    st.builds(
        lambda s, n, label: {"start": s, "end": s + n, "label": label},
        st.integers(0, 50),
        st.integers(1, 10),
        st.sampled_from(["PER", "LOC"]),
    ),
    max_size=8,
)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(spans)
def test_ner_f1_of_identical_spans_is_1(s):
    assert quality.score_spans(s, list(reversed(s))) == 1.0


def test_ner_f1_is_exact_on_boundaries_and_labels():
    gold = [{"start": 0, "end": 5, "label": "PER"}, {"start": 10, "end": 15, "label": "LOC"}]
    assert quality.score_spans([{"start": 0, "end": 5, "label": "PER"}], gold) == pytest.approx(2 / 3)
    assert (
        quality.score_spans(
            [{"start": 0, "end": 4, "label": "PER"}, {"start": 10, "end": 15, "label": "PER"}], gold
        )
        == 0.0
    )


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(st.lists(spans, min_size=1, max_size=5), st.randoms(), st.booleans())
def test_span_vote_does_not_depend_on_answer_order(answers, rnd, overlap):
    shuffled = list(answers)
    rnd.shuffle(shuffled)
    assert quality.span_vote(answers, allow_overlap=overlap) == quality.span_vote(
        shuffled, allow_overlap=overlap
    )


def test_span_vote_resolves_overlaps_by_votes():
    person = {"start": 0, "end": 12, "label": "PER"}
    short = {"start": 4, "end": 12, "label": "PER"}
    answers = [[person, short], [person], [short], [person]]
    assert quality.span_vote(answers).response == {"annotations": [person]}
    assert quality.span_vote(answers, allow_overlap=True).response == {"annotations": [person, short]}
    assert quality.span_vote([[], []]).response == {"annotations": []}
    assert quality.span_vote([[], []]).confidence == 1.0


# --- forms ------------------------------------------------------------------------------------------

FIELDS = [
    {"field_id": "r", "type": "rating", "title": "R", "scale": 5},
    {"field_id": "c", "type": "category", "title": "C", "choices": ["x", "y", "z"]},
    {"field_id": "m", "type": "category", "title": "M", "choices": ["x", "y", "z"], "max_choice": 3},
    {"field_id": "n", "type": "number", "title": "N"},
    {"field_id": "t", "type": "text", "title": "T"},
]


def test_form_consensus_per_field():
    answers = [
        {"r": 2, "c": ["x"], "m": ["x", "y"], "n": 10},
        {"r": 4, "c": ["y"], "m": ["x"], "n": 11},
        {"r": 3, "c": ["x"], "m": ["x", "z"], "n": 100},
        {"r": 4, "c": ["z"], "m": [], "n": 12},
    ]
    result = quality.aggregate_form(FIELDS, answers)
    # rating: 4 twice; multiple choice: x 3/4, y and z 1/4; number: the median of 10, 11, 12, 100
    assert result.response == {"annotations": {"r": 4, "c": ["x"], "m": ["x"], "n": 11.5}}
    assert result.confidence == pytest.approx((0.5 + 0.5 + 0.75 + 0.5) / 4)


def test_rating_ties_go_to_the_value_nearest_the_median():
    assert quality.aggregate_form(
        FIELDS, [{"r": 1}, {"r": 4}, {"r": 4}, {"r": 5}, {"r": 5}, {"r": 3}]
    ).response == {"annotations": {"r": 4}}


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(
    st.lists(
        st.fixed_dictionaries(
            {"r": st.integers(1, 5), "c": st.sampled_from([["x"], ["y"], ["z"]]), "n": st.integers(-5, 5)}
        ),
        min_size=1,
        max_size=7,
    ),
    st.randoms(),
)
def test_form_consensus_does_not_depend_on_answer_order(answers, rnd):
    shuffled = list(answers)
    rnd.shuffle(shuffled)
    assert quality.aggregate_form(FIELDS, answers) == quality.aggregate_form(FIELDS, shuffled)


def test_form_scores():
    gold = {"r": 5, "c": ["x"], "m": ["x", "y"], "n": 3, "t": "free"}
    assert quality.score_form(FIELDS, gold, gold) == 1.0
    assert quality.score_form(
        FIELDS, {"r": 4, "c": ["y"], "m": ["x"], "n": 3, "t": "other"}, gold
    ) == pytest.approx((0.75 + 0 + 0.5 + 1) / 4)
    assert quality.score_form(FIELDS, {}, {"t": "only text"}) is None


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=9))
def test_categorical_exact_and_jaccard(values):
    assert quality.score_exact(values[0], values[0]) == 1.0
    assert quality.score_jaccard(values, list(reversed(values))) == 1.0
    assert quality.score_jaccard(["x"], ["x", "y"]) == 0.5
