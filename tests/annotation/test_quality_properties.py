"""Properties of the consensus and agreement methods that hold for all inputs (hypothesis), and
Dawid-Skene against majority vote on a synthetic crowd (no database)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation import quality

CLASSES = ["red", "green", "blue", "amber", "violet"]
ITEMS = ["a", "b", "c", "d"]
relaxed = settings(deadline=None)  # timing belongs in bench/, and CI machines are shared


# --- majority vote ---------------------------------------------------------------------------------


@relaxed
@given(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=20), st.randoms(), st.permutations(CLASSES))
def test_majority_vote_depends_on_the_votes_not_on_their_order(votes, rnd, order):
    shuffled = list(votes)
    rnd.shuffle(shuffled)
    result = quality.majority_vote(votes, order=order, key="c")
    assert quality.majority_vote(shuffled, order=order, key="c") == result
    counts = {c: votes.count(c) for c in CLASSES}
    assert counts[result.response["c"]] == max(counts.values())  # a most voted class
    assert result.confidence == max(counts.values()) / len(votes)


@relaxed
@given(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=12))
def test_dawid_skene_with_default_matrices_is_the_majority_vote(votes):
    # unknown annotators all get the same symmetric matrix: the posterior is monotone in the votes
    pairs = [(f"newcomer-{i}", v) for i, v in enumerate(votes)]
    ds = quality.dawid_skene_single(pairs, classes=CLASSES, confusion={}, key="c")
    mv = quality.majority_vote(votes, order=CLASSES, key="c")
    assert ds.response == mv.response


# --- Dawid-Skene -----------------------------------------------------------------------------------


@st.composite
def crowds(draw, *, min_answers=1):
    """Tasks with a true class each, and which of the annotators answered which task."""
    k = draw(st.integers(min_value=2, max_value=5))
    n_tasks = draw(st.integers(min_value=1, max_value=25))
    n_workers = draw(st.integers(min_value=max(1, min_answers), max_value=6))
    truth = draw(st.lists(st.integers(min_value=0, max_value=k - 1), min_size=n_tasks, max_size=n_tasks))
    answered = draw(
        st.lists(
            st.sets(st.integers(min_value=0, max_value=n_workers - 1), min_size=min_answers),
            min_size=n_tasks,
            max_size=n_tasks,
        )
    )
    return k, n_workers, truth, answered


@relaxed
@given(crowds(min_answers=2))
def test_dawid_skene_returns_the_answers_of_perfect_annotators(crowd):
    # two answers per task at least: an annotator seen only alone, on one task of a rare class,
    # cannot be told from a random one, and the priors can then outweigh them (annotation/quality.md)
    k, n_workers, truth, answered = crowd
    rows = [(t, w, truth[t]) for t, ws in enumerate(answered) for w in sorted(ws)]
    tasks, workers, labels = (np.array(x) for x in zip(*rows, strict=True))
    result = quality.dawid_skene(tasks, workers, labels, n_tasks=len(truth), n_workers=n_workers, n_classes=k)
    assert result.labels.tolist() == truth


@relaxed
@given(
    st.integers(min_value=2, max_value=5).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(st.integers(0, k - 1), min_size=6, max_size=30),
            st.permutations(range(k)),
            st.integers(min_value=2, max_value=4),
        )
    )
)
def test_dawid_skene_decodes_an_annotator_who_always_answers_a_permuted_class(case):
    # given good annotators (the majority) and one who answers perm[true class], on every task
    k, truth, perm, n_good = case
    rows = [(t, w, c) for t, c in enumerate(truth) for w in range(n_good)]
    rows += [(t, n_good, perm[c]) for t, c in enumerate(truth)]
    tasks, workers, labels = (np.array(x) for x in zip(*rows, strict=True))

    result = quality.dawid_skene(
        tasks, workers, labels, n_tasks=len(truth), n_workers=n_good + 1, n_classes=k
    )

    # then the truth comes back; the permuted annotator's matrix is learned for every class seen
    # twice or more (once, it ties with the diagonal prior: one imaginary right answer), and
    # their answer alone is decoded to the truth
    assert result.labels.tolist() == truth
    seen = [c for c in range(k) if truth.count(c) >= 2]
    assert seen  # 6 tasks, at most 5 classes
    for c in seen:
        assert result.confusion[n_good, c].argmax() == perm[c]
        alone = quality.dawid_skene_single(
            [("p", CLASSES[perm[c]])],
            classes=CLASSES[:k],
            confusion={"p": result.confusion[n_good]},
            priors=result.priors,
        )
        assert alone.response == {"category": CLASSES[c]}


@relaxed
@given(crowds(min_answers=2), st.randoms(), st.integers(min_value=0, max_value=2**32 - 1))
def test_dawid_skene_does_not_depend_on_the_order_of_the_answers(crowd, rnd, seed):
    k, n_workers, truth, answered = crowd
    noise = np.random.default_rng(seed)
    rows = [
        (t, w, int(noise.integers(k)) if noise.random() < 0.3 else truth[t])
        for t, ws in enumerate(answered)
        for w in sorted(ws)
    ]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    fits = []
    for data in (rows, shuffled):
        tasks, workers, labels = (np.array(x) for x in zip(*data, strict=True))
        fits.append(
            quality.dawid_skene(tasks, workers, labels, n_tasks=len(truth), n_workers=n_workers, n_classes=k)
        )
    a, b = fits
    assert np.allclose(a.posteriors, b.posteriors, atol=1e-9)
    assert np.allclose(a.confusion, b.confusion, atol=1e-9)
    clear = np.abs(np.diff(np.sort(a.posteriors, axis=1)[:, -2:], axis=1)[:, 0]) > 1e-6  # not a near-tie
    assert np.array_equal(a.labels[clear], b.labels[clear])


def synthetic_crowd(seed: int, *, n_tasks=3000, n_workers=60, answers=5, k=4):
    """Heterogeneous annotators (accuracy 0.45–0.95, each with their own bias over the wrong
    classes) plus 20 % spammers answering uniformly at random."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n_tasks)
    accuracy = rng.uniform(0.45, 0.95, size=n_workers)
    conf = np.empty((n_workers, k, k))
    for c in range(k):
        others = [j for j in range(k) if j != c]
        conf[:, c, c] = accuracy
        conf[:, c, others] = (1 - accuracy)[:, None] * rng.dirichlet(np.ones(k - 1), size=n_workers)
    conf[rng.random(n_workers) < 0.2] = 1 / k
    workers = np.concatenate([rng.choice(n_workers, size=answers, replace=False) for _ in range(n_tasks)])
    tasks = np.repeat(np.arange(n_tasks), answers)
    cum = conf[workers, truth[tasks]].cumsum(axis=1)
    labels = (rng.random(len(tasks))[:, None] > cum[:, :-1]).sum(axis=1)
    return truth, tasks, workers, labels


def test_dawid_skene_beats_majority_vote_with_heterogeneous_annotators_and_spammers():
    truth, tasks, workers, labels = synthetic_crowd(2026)
    n_tasks, classes = len(truth), [str(c) for c in range(4)]
    ds = quality.dawid_skene(tasks, workers, labels, n_tasks=n_tasks, n_workers=60, n_classes=4)
    mv = [
        quality.majority_vote([classes[v] for v in labels[tasks == t]], order=classes, key="c").response["c"]
        for t in range(n_tasks)
    ]
    accuracy_ds = float((ds.labels == truth).mean())
    accuracy_mv = float((np.array(mv).astype(int) == truth).mean())
    print(f"accuracy: Dawid-Skene {accuracy_ds:.4f}, majority vote {accuracy_mv:.4f}")
    assert accuracy_ds > accuracy_mv
    assert accuracy_ds - accuracy_mv > 0.02  # a clear margin, not a rounding accident


# --- geometry fusion ---------------------------------------------------------------------------------


coord = st.floats(min_value=0, max_value=900, allow_nan=False, allow_infinity=False)
side = st.floats(min_value=1, max_value=90, allow_nan=False, allow_infinity=False)


@st.composite
def scenes(draw):
    """Up to 5 boxes, each in its own 1000-px column so that no two overlap."""
    n = draw(st.integers(min_value=1, max_value=5))
    return [
        {
            "type": "box",
            "label": draw(st.sampled_from(["car", "person"])),
            "left": 1000.0 * i + draw(coord),
            "top": draw(coord),
            "width": draw(side),
            "height": draw(side),
        }
        for i in range(n)
    ]


def _key(box):
    return box["left"], box["top"]


@relaxed
@given(scenes(), st.integers(min_value=1, max_value=5), st.randoms())
def test_fusing_the_same_scene_drawn_by_every_annotator_gives_that_scene(scene, n, rnd):
    per_annotator = []
    for _ in range(n):
        drawn = list(scene)
        rnd.shuffle(drawn)  # each annotator draws the boxes in their own order
        per_annotator.append(drawn)
    shapes, confidence = quality.consensus_shapes(per_annotator)
    assert sorted(shapes, key=_key) == sorted((box | {"confidence": 1.0} for box in scene), key=_key)
    assert confidence == 1.0


@relaxed
@given(
    st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=6, unique=True),
    st.integers(min_value=1, max_value=5),
)
def test_consensus_objects_of_identical_answers_keeps_every_object(points, n):
    objects = [{"x": x, "y": y} for x, y in points]
    same = lambda a, b: 1.0 if a == b else 0.0  # noqa: E731
    kept, confidence = quality.consensus_objects(
        [list(objects) for _ in range(n)],
        group=lambda o: "all",
        similarity=same,
        fuse=lambda members: members[0],
    )
    assert sorted((o["x"], o["y"], c) for o, c in kept) == sorted((x, y, 1.0) for x, y in points)
    assert confidence == 1.0


# --- rankings ----------------------------------------------------------------------------------------


@relaxed
@given(st.lists(st.permutations(ITEMS), min_size=1, max_size=8), st.permutations(range(4)))
def test_borda_commutes_with_renaming_the_items(rankings, perm):
    # renaming every item (keeping the tie-break order of ``items`` renamed too) renames the result
    rename = {item: ITEMS[p] for item, p in zip(ITEMS, perm, strict=True)}
    order, points = quality.borda(rankings, items=ITEMS)
    renamed_order, renamed_points = quality.borda(
        [[rename[i] for i in r] for r in rankings], items=[rename[i] for i in ITEMS]
    )
    assert renamed_order == [rename[i] for i in order]
    assert renamed_points == {rename[i]: p for i, p in points.items()}


@relaxed
@given(st.lists(st.permutations(ITEMS), min_size=1, max_size=8))
def test_borda_points_reverse_when_every_ranking_is_reversed(rankings):
    _, points = quality.borda(rankings, items=ITEMS)
    _, reversed_points = quality.borda([list(r)[::-1] for r in rankings], items=ITEMS)
    m = len(ITEMS)
    assert reversed_points == {i: len(rankings) * (m - 1) - p for i, p in points.items()}
    assert sum(points.values()) == len(rankings) * m * (m - 1) // 2


win_matrices = st.lists(st.lists(st.integers(0, 6), min_size=4, max_size=4), min_size=4, max_size=4).map(
    lambda rows: np.array(rows, dtype=float) * (1 - np.eye(4))
)


@relaxed
@given(win_matrices, st.permutations(range(4)), st.integers(min_value=2, max_value=5))
def test_bradley_terry_is_permutation_equivariant_and_scale_invariant(wins, perm, factor):
    p = quality.bradley_terry(wins, prior=0.5)
    idx = np.array(perm)
    assert np.allclose(quality.bradley_terry(wins[np.ix_(idx, idx)], prior=0.5), p[idx], atol=1e-6)
    assert np.allclose(quality.bradley_terry(wins * factor, prior=0.5 * factor), p, atol=1e-6)
    assert p.sum() == pytest.approx(1.0)


@relaxed
@given(st.lists(st.booleans(), min_size=6, max_size=6), st.integers(min_value=1, max_value=4))
def test_bradley_terry_on_a_round_robin_orders_items_by_their_wins(outcomes, games):
    # every pair plays ``games`` times; i beats j in all of them or loses all (outcomes per pair)
    wins = np.zeros((4, 4))
    for (i, j), i_wins in zip(itertools.combinations(range(4), 2), outcomes, strict=True):
        wins[i, j] += games * i_wins
        wins[j, i] += games * (not i_wins)
    p = quality.bradley_terry(wins, prior=0.5)
    total = wins.sum(axis=1)
    for i, j in itertools.permutations(range(4), 2):
        if total[i] > total[j]:
            assert p[i] > p[j]
        elif total[i] == total[j]:
            assert p[i] == pytest.approx(p[j], rel=1e-6)


# --- agreement -----------------------------------------------------------------------------------------


@relaxed
@given(
    st.lists(st.tuples(st.integers(-50, 50), st.integers(min_value=2, max_value=5)), min_size=2, max_size=15),
    st.sampled_from(["nominal", "interval"]),
)
def test_alpha_is_1_when_every_coder_agrees_and_values_vary(units, level):
    data = [[value] * coders for value, coders in units]
    alpha = quality.krippendorff_alpha(data, level)
    if len({value for value, _ in units}) < 2:
        assert alpha is None  # no variance
    else:
        assert alpha == pytest.approx(1.0)
        assert quality.pairwise_agreement(data) == 1.0


@relaxed
@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=3, max_size=3), min_size=2, max_size=12
    ),
    st.integers(min_value=-5, max_value=5).filter(bool),
    st.integers(-100, 100),
    st.randoms(),
)
def test_interval_alpha_is_invariant_to_affine_rescaling_and_to_unit_and_coder_order(
    units, scale, shift, rnd
):
    alpha = quality.krippendorff_alpha(units, "interval")
    rescaled = [[None if v is None else scale * v + shift for v in unit] for unit in units]
    shuffled = [rnd.sample(unit, len(unit)) for unit in units]
    rnd.shuffle(shuffled)
    for other in (rescaled, shuffled):
        beta = quality.krippendorff_alpha(other, "interval")
        assert (alpha is None and beta is None) or beta == pytest.approx(alpha, abs=1e-9)
