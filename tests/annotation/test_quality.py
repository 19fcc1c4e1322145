"""Pure tests of the consensus functions (no database)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation import quality

CHOICES = ["red", "green", "blue"]


def test_majority_vote_picks_most_frequent_with_share_as_confidence():
    result = quality.majority_vote(["red", "blue", "red"], order=CHOICES, key="category")
    assert result.response == {"category": "red"}
    assert result.confidence == pytest.approx(2 / 3)


def test_majority_vote_tie_goes_to_the_choice_listed_first():
    result = quality.majority_vote(["blue", "green"], order=CHOICES, key="category")
    assert result.response == {"category": "green"}
    assert result.confidence == 0.5


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(st.lists(st.sampled_from(CHOICES), min_size=1, max_size=15), st.randoms())
def test_majority_vote_does_not_depend_on_answer_order(votes, rnd):
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    assert quality.majority_vote(votes, order=CHOICES, key="c") == quality.majority_vote(
        shuffled, order=CHOICES, key="c"
    )


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(st.sampled_from(CHOICES), st.integers(min_value=1, max_value=9))
def test_unanimous_votes_give_full_confidence(choice, n):
    result = quality.majority_vote([choice] * n, order=CHOICES, key="category")
    assert result.response == {"category": choice}
    assert result.confidence == 1.0


def test_multi_choice_keeps_choices_chosen_by_more_than_half():
    votes = [["red", "blue"], ["red"], ["red", "green"]]
    result = quality.majority_vote_multi(votes, order=CHOICES, key="category")
    assert result.response == {"category": ["red"]}
    # red 3/3 agree, green 2/3 agree (not chosen), blue 2/3 agree (not chosen)
    assert result.confidence == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


@settings(deadline=None)  # timing belongs in bench/, and CI machines are shared
@given(st.lists(st.lists(st.sampled_from(CHOICES), unique=True), min_size=1, max_size=9), st.randoms())
def test_multi_choice_does_not_depend_on_answer_order(votes, rnd):
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    assert quality.majority_vote_multi(votes, order=CHOICES, key="c") == quality.majority_vote_multi(
        shuffled, order=CHOICES, key="c"
    )


def test_collect_keeps_every_answer_in_order():
    answers = [{"annotations": []}, {"annotations": [{"type": "box"}]}]
    result = quality.collect_answers(answers)
    assert result.response == {"answers": answers}
    assert result.confidence is None


def test_empty_votes_are_refused():
    with pytest.raises(ValueError):
        quality.majority_vote([], order=CHOICES, key="c")
