"""Pure tests of Dawid-Skene: the batch EM, the one-task posterior and their helpers (no database)."""

import numpy as np
import pytest

from annotation import quality
from annotation.quality.dawid_skene import DEFAULT_ACCURACY


def arrays(rows):
    """(task, worker, label) rows → the three parallel int arrays."""
    t, w, lab = zip(*rows, strict=True)
    return np.array(t), np.array(w), np.array(lab)


# --- batch EM ----------------------------------------------------------------------------------------


def test_unanimous_answers_are_the_labels_with_consistent_shapes_and_sums():
    # given three annotators who agree on four tasks of three classes
    truth = [0, 2, 1, 2]
    tasks, workers, labels = arrays([(t, w, c) for t, c in enumerate(truth) for w in range(3)])

    # when
    result = quality.dawid_skene(tasks, workers, labels, n_tasks=4, n_workers=3, n_classes=3)

    # then
    assert result.labels.tolist() == truth
    assert (
        result.posteriors.shape == (4, 3)
        and result.confusion.shape == (3, 3, 3)
        and result.priors.shape == (3,)
    )
    assert np.allclose(result.posteriors.sum(axis=1), 1.0)
    assert np.allclose(result.confusion.sum(axis=2), 1.0)
    assert result.priors.sum() == pytest.approx(1.0)
    assert result.priors == pytest.approx([1 / 4, 1 / 4, 2 / 4], abs=0.01)
    assert np.array_equal(result.confidence, result.posteriors.max(axis=1))
    assert result.confidence.min() > 0.999
    assert result.converged and 1 <= result.iterations < 50


def test_an_exact_tie_goes_to_the_lowest_class_index_whoever_gave_which_label():
    # one task, two annotators who disagree: the model is symmetric, the posterior 1/2 : 1/2
    for labels in ([1, 0], [0, 1]):
        result = quality.dawid_skene(
            np.array([0, 0]), np.array([0, 1]), np.array(labels), n_tasks=1, n_workers=2, n_classes=2
        )
        assert result.posteriors[0].tolist() == [0.5, 0.5]
        assert result.labels.tolist() == [0]
        assert result.confidence.tolist() == [0.5]


def test_a_reliable_annotator_outvotes_two_who_are_often_wrong():
    # given an expert (always right) and four annotators right 70 % of the time, independently;
    # every task answered by the expert and two of the four (enough tasks for EM to tell them
    # apart: with a few dozen, EM can stop in a local maximum that trusts a lucky annotator)
    n = 1000
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 2, size=n)
    rows = []
    for t, c in enumerate(truth):
        rows.append((t, 0, c))
        for w in rng.choice([1, 2, 3, 4], size=2, replace=False):
            rows.append((t, int(w), c if rng.random() < 0.7 else 1 - c))
    tasks, workers, labels = arrays(rows)
    votes = np.bincount(labels * n + tasks, minlength=2 * n).reshape(2, n)
    outvoted = np.flatnonzero(votes[1 - truth, np.arange(n)] == 2)  # both others against the expert
    assert len(outvoted) == 89  # majority vote gets these wrong

    # when
    result = quality.dawid_skene(tasks, workers, labels, n_tasks=n, n_workers=5, n_classes=2)

    # then Dawid-Skene learns whom to trust
    assert result.labels.tolist() == truth.tolist()
    accuracy = quality.accuracy_from_confusion(result.confusion, result.priors)
    assert accuracy[0] > 0.95 and accuracy[1:].max() < 0.8


def test_a_task_without_answers_gets_the_priors_and_an_idle_annotator_the_diagonal_prior():
    tasks, workers, labels = arrays([(0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 1), (2, 0, 0), (2, 1, 0)])
    result = quality.dawid_skene(tasks, workers, labels, n_tasks=4, n_workers=3, n_classes=2)
    assert result.posteriors[3] == pytest.approx(result.priors)
    assert result.labels[3] == 1  # the more frequent class
    # one imaginary right answer per class (diagonal_prior=1) plus 0.01 in every cell
    assert result.confusion[2] == pytest.approx(np.array([[1.01, 0.01], [0.01, 1.01]]) / 1.02)
    flat = quality.dawid_skene(tasks, workers, labels, n_tasks=4, n_workers=3, n_classes=2, diagonal_prior=0)
    assert flat.confusion[2] == pytest.approx(np.full((2, 2), 0.5))


def test_a_warm_start_from_stored_matrices_escapes_the_majority_that_is_always_wrong():
    # given three annotators who, as their stored matrices say, swap classes 0 and 1
    truth = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    swapped = 1 - truth
    tasks, workers, labels = np.repeat(np.arange(8), 3), np.tile(np.arange(3), 8), np.repeat(swapped, 3)
    stored = np.tile(np.array([[0.1, 0.9], [0.9, 0.1]]), (3, 1, 1))

    # when started cold (from majority vote) or warm (from the stored matrices)
    cold = quality.dawid_skene(tasks, workers, labels, n_tasks=8, n_workers=3, n_classes=2)
    warm = quality.dawid_skene(
        tasks, workers, labels, n_tasks=8, n_workers=3, n_classes=2, init_confusion=stored
    )

    # then the cold start believes the answers, the warm start decodes them
    assert cold.labels.tolist() == swapped.tolist()
    assert warm.labels.tolist() == truth.tolist()
    assert (
        warm.confusion[:, 0, 1] > 0.75
    ).all()  # re-estimated: swaps (the diagonal prior pulls back a little)


def test_a_warm_start_takes_its_priors_from_init_priors():
    # one task, two annotators of the same default matrix who disagree: only the priors decide
    tasks, workers, labels = np.array([0, 0]), np.array([0, 1]), np.array([0, 1])
    stored = np.stack([quality.default_confusion(2)] * 2)
    flat = quality.dawid_skene(
        tasks, workers, labels, n_tasks=1, n_workers=2, n_classes=2, init_confusion=stored
    )
    skewed = quality.dawid_skene(
        tasks, workers, labels, n_tasks=1, n_workers=2, n_classes=2, init_confusion=stored, init_priors=[1, 9]
    )
    assert flat.labels.tolist() == [0]  # a tie: the lowest class
    assert skewed.labels.tolist() == [1]


def test_max_iter_bounds_the_iterations_and_reports_not_converged():
    rng = np.random.default_rng(7)
    tasks = np.repeat(np.arange(50), 3)
    workers = rng.integers(0, 10, size=150)
    labels = rng.integers(0, 3, size=150)
    result = quality.dawid_skene(
        tasks, workers, labels, n_tasks=50, n_workers=10, n_classes=3, max_iter=1, tol=0.0
    )
    assert result.iterations == 1 and result.converged is False


def test_the_batch_posterior_equals_the_single_task_posterior_from_the_fitted_matrices():
    rng = np.random.default_rng(3)
    tasks = np.repeat(np.arange(40), 4)
    workers = np.concatenate([rng.choice(8, size=4, replace=False) for _ in range(40)])
    labels = rng.integers(0, 3, size=160)
    result = quality.dawid_skene(tasks, workers, labels, n_tasks=40, n_workers=8, n_classes=3)
    classes = ["a", "b", "c"]
    confusion = {w: result.confusion[w] for w in range(8)}
    for t in range(40):
        votes = [
            (int(w), classes[lab]) for w, lab in zip(workers[tasks == t], labels[tasks == t], strict=True)
        ]
        single = quality.dawid_skene_single(votes, classes=classes, confusion=confusion, priors=result.priors)
        assert single.confidence == pytest.approx(result.confidence[t], rel=1e-9)
        assert single.response == {"category": classes[result.labels[t]]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": np.array([0, 3])}, "labels must be in"),
        ({"workers": np.array([0, -1])}, "workers must be in"),
        ({"tasks": np.array([0, 5])}, "tasks must be in"),
        ({"labels": np.array([0])}, "same length"),
        ({"labels": np.array([0.0, 1.0])}, "integers"),
        ({"n_classes": 0}, "n_classes"),
        ({"max_iter": 0}, "max_iter"),
        ({"smoothing": -1.0}, "smoothing"),
        ({"diagonal_prior": -1.0}, "diagonal_prior"),
        ({"init_confusion": np.ones((2, 3, 3))}, "init_confusion must have shape"),
        ({"init_confusion": -np.ones((3, 3, 3))}, "non-negative"),
        ({"init_priors": [0.5, 0.5]}, "priors"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(kwargs, message):
    args = {
        "tasks": np.array([0, 1]),
        "workers": np.array([0, 1]),
        "labels": np.array([0, 1]),
        "n_tasks": 2,
        "n_workers": 3,
        "n_classes": 3,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        quality.dawid_skene(args.pop("tasks"), args.pop("workers"), args.pop("labels"), **args)


def test_no_answers_at_all_gives_the_smoothed_uniform_priors():
    empty = np.array([], dtype=int)
    result = quality.dawid_skene(empty, empty, empty, n_tasks=2, n_workers=1, n_classes=2)
    assert result.posteriors.tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert result.labels.tolist() == [0, 0]


# --- one task at submit time ----------------------------------------------------------------------


CLASSES = ["cat", "dog"]


def test_an_unknown_annotator_gets_the_documented_default_matrix():
    one = quality.dawid_skene_single([("new", "dog")], classes=["cat", "dog", "bird", "fish"], confusion={})
    assert one.response == {"category": "dog"}
    assert one.confidence == pytest.approx(DEFAULT_ACCURACY)  # uniform priors, one vote: its diagonal
    assert quality.default_confusion(4) == pytest.approx(
        np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.1, 0.7]])
    )
    assert quality.default_confusion(1).tolist() == [[1.0]]


def test_a_stored_expert_matrix_outweighs_two_unknown_annotators():
    expert = np.array([[0.99, 0.01], [0.01, 0.99]])
    votes = [("expert", "cat"), ("u1", "dog"), ("u2", "dog")]
    result = quality.dawid_skene_single(
        votes, classes=CLASSES, confusion={"expert": expert, "u1": None}, key="animal"
    )
    # cat: 0.99 · 0.3 · 0.3 = 0.0891, dog: 0.01 · 0.7 · 0.7 = 0.0049
    assert result.response == {"animal": "cat"}
    assert result.confidence == pytest.approx(0.0891 / (0.0891 + 0.0049))


def test_a_stored_matrix_that_always_swaps_is_decoded_and_rows_are_normalised():
    swapper = [[1.0, 9.0], [9.0, 1.0]]  # counts, as stored (JSON lists): said dog when it was a cat
    result = quality.dawid_skene_single([("s", "dog")], classes=CLASSES, confusion={"s": swapper})
    assert result.response == {"category": "cat"}
    assert result.confidence == pytest.approx(0.9)


def test_priors_shift_the_posterior_and_a_tie_goes_to_the_class_listed_first():
    votes = [("a", "cat"), ("b", "dog")]
    assert quality.dawid_skene_single(votes, classes=CLASSES, confusion={}).response == {"category": "cat"}
    assert quality.dawid_skene_single(votes, classes=["dog", "cat"], confusion={}).response == {
        "category": "dog"
    }
    skewed = quality.dawid_skene_single(votes, classes=CLASSES, confusion={}, priors=[1, 3])
    assert skewed.response == {"category": "dog"}
    assert skewed.confidence == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("votes", "kwargs", "message"),
    [
        ([], {}, "at least one vote"),
        ([("a", "cow")], {}, "not one of the classes"),
        ([("a", "cat")], {"confusion": {"a": np.eye(3)}}, "must be 2 × 2"),
        ([("a", "cat")], {"confusion": {"a": -np.eye(2)}}, "non-negative"),
        ([("a", "cat")], {"priors": [1.0]}, "priors"),
        ([("a", "cat")], {"classes": []}, "classes"),
        ([("a", "cat")], {"classes": ["cat", "cat"]}, "distinct"),
    ],
)
def test_single_task_bad_input_is_refused(votes, kwargs, message):
    args = {"classes": CLASSES, "confusion": {}} | kwargs
    with pytest.raises(ValueError, match=message):
        quality.dawid_skene_single(votes, **args)


# --- helpers ---------------------------------------------------------------------------------------


def test_confusion_from_counts_smooths_and_normalises_rows():
    counts = np.array([[[8.0, 2.0], [0.0, 0.0]]])
    assert quality.confusion_from_counts(counts, smoothing=0.0).tolist() == [[[0.8, 0.2], [0.5, 0.5]]]
    assert quality.confusion_from_counts(counts, smoothing=1.0).tolist() == [[[0.75, 0.25], [0.5, 0.5]]]
    assert quality.confusion_from_counts(counts, smoothing=0.0, diagonal=2.0).tolist() == [
        [[10 / 12, 2 / 12], [0.0, 1.0]]
    ]
    with pytest.raises(ValueError, match="square"):
        quality.confusion_from_counts(np.ones((2, 3)))
    with pytest.raises(ValueError, match="smoothing"):
        quality.confusion_from_counts(np.ones((2, 2)), smoothing=-0.1)


def test_accuracy_from_confusion_weights_the_diagonal_by_the_priors():
    conf = np.array([[0.9, 0.1], [0.4, 0.6]])
    assert quality.accuracy_from_confusion(conf) == pytest.approx(0.75)
    assert quality.accuracy_from_confusion(conf, [0.8, 0.2]) == pytest.approx(0.84)
    stack = np.stack([conf, np.eye(2)])
    assert quality.accuracy_from_confusion(stack).tolist() == pytest.approx([0.75, 1.0])
    with pytest.raises(ValueError, match="priors"):
        quality.accuracy_from_confusion(conf, [1, 2, 3])
