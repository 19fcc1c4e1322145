"""Dawid-Skene (1979): true labels and per-annotator confusion matrices by EM, in numpy.

Model: task t has an unknown true class z_t drawn from ``priors``; annotator w, shown a task of
class k, answers l with probability ``confusion[w, k, l]`` (rows = true class, columns = given
label), independently of the other answers. EM alternates:

- E-step: ``log P(z_t = k | answers) ∝ log priors[k] + Σ_{answers (w, l) of t} log confusion[w, k, l]``,
  normalised per task in log space (log-sum-exp), which is also the data's log-likelihood;
- M-step: ``confusion[w, k, l] ∝ Σ_{answers (w, l)} P(z_t = k) + smoothing + diagonal_prior·[k = l]``
  row by row, and ``priors[k] ∝ Σ_t P(z_t = k) + smoothing``.

Vectorised over answers: the answers are flattened to one index per (annotator, label) pair, so
the E-step gathers a row of a (W·K) × K log table per answer and sums per task with
``np.bincount``; the M-step sums the task posteriors per (annotator, label) with ``np.bincount``.
Arrays are laid out class-major (K × T, K × W·K) so every step works on contiguous rows and no
N × K × K intermediate is built. The only Python loops are over the K classes and the iterations.

``dawid_skene_single`` is the one-task version used at submit time: the posterior of one task from
its answers and each annotator's stored confusion matrix, without re-estimating anything.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from annotation.quality.categorical import Aggregate

DEFAULT_ACCURACY = 0.7  # diagonal of the matrix assumed for an annotator without a stored one
TIE_TOLERANCE = 1e-12  # posteriors this close count as a tie (goes to the class listed first)


@dataclass(frozen=True)
class DawidSkeneResult:
    posteriors: np.ndarray  # n_tasks × K, rows sum to 1 (the priors for a task without answers)
    labels: np.ndarray  # n_tasks, argmax of the posteriors; ties → the lowest class index
    confidence: np.ndarray  # n_tasks, the largest posterior
    confusion: np.ndarray  # n_workers × K × K, rows (true class) sum to 1
    priors: np.ndarray  # K, sums to 1
    iterations: int  # EM iterations run (M-step + E-step pairs)
    converged: bool  # the mean log-likelihood per task changed by less than ``tol``
    log_likelihood: float  # of the answers under the returned model (final E-step)


def confusion_from_counts(
    counts: np.ndarray, smoothing: float = 0.01, *, diagonal: float = 0.0
) -> np.ndarray:
    """Row-normalised confusion matrices from (soft) counts ``[..., true class, given label]``.

    ``smoothing`` is added to every cell first (additive, Laplace-style), so no probability is
    exactly 0 (a single unexpected answer could otherwise veto a class); ``diagonal`` is added to
    the diagonal cells on top (a prior belief that answers are right). A row without counts
    becomes uniform (``diagonal=0``) or leans to its diagonal; with both 0 it is uniform."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim < 2 or counts.shape[-1] != counts.shape[-2]:
        raise ValueError(f"counts must end in a square K × K matrix, got shape {counts.shape}")
    if smoothing < 0 or not np.isfinite(smoothing) or diagonal < 0 or not np.isfinite(diagonal):
        raise ValueError("smoothing and diagonal must be finite numbers ≥ 0")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("counts must be finite and non-negative")
    smoothed = counts + smoothing
    if diagonal:
        smoothed = smoothed + diagonal * np.eye(counts.shape[-1])
    totals = smoothed.sum(axis=-1, keepdims=True)
    k = counts.shape[-1]
    return np.divide(smoothed, totals, out=np.full_like(smoothed, 1.0 / k), where=totals > 0)


def accuracy_from_confusion(conf: np.ndarray, priors: np.ndarray | None = None) -> np.ndarray | float:
    """Probability that the annotator's answer is the true class: ``Σ_k priors[k] · conf[k, k]``.

    ``conf`` is one K × K matrix (returns a float) or a stack ``W × K × K`` (returns W floats);
    ``priors`` default to uniform."""
    conf = np.asarray(conf, dtype=float)
    if conf.ndim < 2 or conf.shape[-1] != conf.shape[-2]:
        raise ValueError(f"conf must end in a square K × K matrix, got shape {conf.shape}")
    k = conf.shape[-1]
    p = np.full(k, 1.0 / k) if priors is None else _check_priors(priors, k)
    acc = np.diagonal(conf, axis1=-2, axis2=-1) @ p
    return float(acc) if conf.ndim == 2 else acc


def default_confusion(n_classes: int, accuracy: float = DEFAULT_ACCURACY) -> np.ndarray:
    """The symmetric matrix assumed for an unknown annotator: ``accuracy`` on the diagonal, the
    rest spread evenly over the other classes (one class: the 1 × 1 matrix [[1]])."""
    if n_classes < 1:
        raise ValueError("n_classes must be at least 1")
    if n_classes == 1:
        return np.ones((1, 1))
    off = (1.0 - accuracy) / (n_classes - 1)
    return np.full((n_classes, n_classes), off) + np.eye(n_classes) * (accuracy - off)


def _check_priors(priors, k: int) -> np.ndarray:
    p = np.asarray(priors, dtype=float)
    if p.shape != (k,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"priors must be {k} finite non-negative numbers with a positive sum")
    return p / p.sum()


def _check_int_array(name: str, a, n: int, upper: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array of the same length as tasks ({n})")
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers")
    if n and (arr.min() < 0 or arr.max() >= upper):
        raise ValueError(f"{name} must be in [0, {upper})")
    return arr.astype(np.intp, copy=False)


def _log(x: np.ndarray) -> np.ndarray:
    """log that maps 0 to a large negative finite number, so a zero cell lowers a class a lot
    but two zero cells never make a 0/0 (−inf − −inf) posterior."""
    return np.log(np.maximum(x, 1e-300))


class _Answers:
    """Index arrays computed once per fit: answer → task, answer → (annotator, label) cell."""

    def __init__(self, tasks, workers, labels, n_tasks, n_workers, n_classes):
        self.n_tasks, self.n_workers, self.k = n_tasks, n_workers, n_classes
        self.tasks = tasks
        self.cells = workers * n_classes + labels  # row of the (W·K) × K tables
        self.n_cells = n_workers * n_classes

    def e_step(self, log_conf: np.ndarray, log_priors: np.ndarray) -> tuple[np.ndarray, float]:
        """Posteriors (K × T, class-major) and the log-likelihood of the answers."""
        k, t = self.k, self.n_tasks
        # table[c, w·K + l] = log confusion[w, c, l]: one contiguous row per true class c.
        table = np.ascontiguousarray(log_conf.transpose(1, 0, 2).reshape(k, self.n_cells))
        post = np.empty((k, t))
        for c in range(k):
            post[c] = np.bincount(self.tasks, weights=table[c].take(self.cells), minlength=t)
        post += log_priors[:, None]
        top = post.max(axis=0)
        post -= top
        np.exp(post, out=post)
        total = post.sum(axis=0)
        post /= total
        log_likelihood = float(np.sum(top) + np.sum(np.log(total)))
        return post, log_likelihood

    def m_step(self, post: np.ndarray, smoothing: float, diagonal: float) -> tuple[np.ndarray, np.ndarray]:
        """Confusion matrices (W × K × K) and priors (K) from class-major posteriors (K × T)."""
        k = self.k
        counts = np.empty((k, self.n_cells))
        for c in range(k):
            counts[c] = np.bincount(self.cells, weights=post[c].take(self.tasks), minlength=self.n_cells)
        # counts[c, w·K + l] → [w, c, l]
        conf = confusion_from_counts(
            counts.reshape(k, self.n_workers, k).transpose(1, 0, 2), smoothing, diagonal=diagonal
        )
        prior_counts = post.sum(axis=1) + smoothing
        return conf, prior_counts / prior_counts.sum()

    def majority_posteriors(self) -> np.ndarray:
        """Soft majority vote (each task's vote shares), class-major; uniform without answers."""
        k, t = self.k, self.n_tasks
        labels = self.cells % k
        votes = np.bincount(labels * t + self.tasks, minlength=k * t).reshape(k, t).astype(float)
        n = votes.sum(axis=0)
        return np.divide(votes, n, out=np.full_like(votes, 1.0 / k), where=n > 0)


def dawid_skene(
    tasks: np.ndarray,
    workers: np.ndarray,
    labels: np.ndarray,
    *,
    n_tasks: int,
    n_workers: int,
    n_classes: int,
    init_confusion: np.ndarray | None = None,
    init_priors=None,
    max_iter: int = 50,
    tol: float = 1e-5,
    smoothing: float = 0.01,
    diagonal_prior: float = 1.0,
) -> DawidSkeneResult:
    """Dawid-Skene EM over parallel integer arrays, one row per answer: ``tasks[i]`` in
    [0, n_tasks), ``workers[i]`` in [0, n_workers), ``labels[i]`` in [0, n_classes).

    Start: with ``init_confusion`` (W × K × K, e.g. the annotators' stored matrices: a warm start)
    the first step is an E-step from it and ``init_priors`` (default uniform); otherwise the
    first M-step starts from the soft majority vote (each task's vote shares). Then M-step and
    E-step alternate until the mean log-likelihood per task changes by less than ``tol`` or
    ``max_iter`` iterations have run.

    Each M-step adds ``smoothing`` to every cell of the soft counts (no probability is 0) and
    ``diagonal_prior`` to the diagonal (one imaginary right answer per class and annotator, so a
    class an annotator was never seen on does not explain any answer of theirs). A task without
    answers gets the priors; an annotator without answers gets the prior matrix alone.

    Limits (see annotation/quality.md): EM finds a local maximum; with few answers per annotator
    the matrices are noisy; answers are assumed independent given the true class; a class that
    most annotators systematically swap is learned swapped unless the start (warm) knows better."""
    if n_tasks < 0 or n_workers < 0 or n_classes < 1:
        raise ValueError("n_tasks and n_workers must be ≥ 0 and n_classes ≥ 1")
    if max_iter < 1 or tol < 0 or smoothing < 0 or diagonal_prior < 0:
        raise ValueError("max_iter must be ≥ 1, tol, smoothing and diagonal_prior ≥ 0")
    tasks_arr = np.asarray(tasks)
    if tasks_arr.ndim != 1:
        raise ValueError("tasks must be a 1-D array")
    n = tasks_arr.shape[0]
    answers = _Answers(
        _check_int_array("tasks", tasks_arr, n, n_tasks),
        _check_int_array("workers", workers, n, n_workers),
        _check_int_array("labels", labels, n, n_classes),
        n_tasks,
        n_workers,
        n_classes,
    )
    k = n_classes

    if init_confusion is not None:
        conf = np.asarray(init_confusion, dtype=float)
        if conf.shape != (n_workers, k, k):
            raise ValueError(f"init_confusion must have shape ({n_workers}, {k}, {k}), got {conf.shape}")
        conf = confusion_from_counts(conf, 0.0)  # validates and row-normalises
        priors = np.full(k, 1.0 / k) if init_priors is None else _check_priors(init_priors, k)
        post, ll = answers.e_step(_log(conf), _log(priors))
    else:
        if init_priors is not None:
            _check_priors(init_priors, k)  # the majority-vote start ignores them; still refuse bad ones
        post, ll = answers.majority_posteriors(), -np.inf

    converged = False
    iterations = 0
    scale = max(n_tasks, 1)
    while iterations < max_iter and not converged:
        conf, priors = answers.m_step(post, smoothing, diagonal_prior)
        post, new_ll = answers.e_step(_log(conf), _log(priors))
        iterations += 1
        converged = abs(new_ll - ll) / scale < tol
        ll = new_ll

    posteriors = np.ascontiguousarray(post.T)
    return DawidSkeneResult(
        posteriors=posteriors,
        labels=np.argmax(post, axis=0),
        confidence=post.max(axis=0),
        confusion=conf,
        priors=priors,
        iterations=iterations,
        converged=converged,
        log_likelihood=ll,
    )


def dawid_skene_single(
    votes: Sequence[tuple[Hashable, Hashable]],
    *,
    classes: Sequence[Hashable],
    confusion: Mapping[Hashable, np.ndarray | None],
    priors=None,
    key: str = "category",
) -> Aggregate:
    """One task's Dawid-Skene posterior from its ``(annotator, label)`` votes and each annotator's
    stored K × K confusion matrix (rows = true class, columns = given label, in the order of
    ``classes``). Nothing is re-estimated: this runs at submit time, the batch EM re-estimates the
    matrices.

    An annotator missing from ``confusion`` (or mapped to None) gets ``default_confusion``: 0.7 on
    the diagonal and 0.3 spread evenly over the other classes, i.e. "right 70 % of the time, no
    known bias". With only such annotators and uniform priors the result is the majority vote.
    Stored rows are normalised; a zero cell counts as 1e-300, not as an impossibility.

    Returns ``Aggregate({key: label}, confidence)`` with the largest posterior as confidence;
    ties (within 1e-12) go to the class listed first in ``classes``."""
    if not votes:
        raise ValueError("dawid_skene_single needs at least one vote")
    k = len(classes)
    if k == 0:
        raise ValueError("classes must not be empty")
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != k:
        raise ValueError("classes must be distinct")
    p = np.full(k, 1.0 / k) if priors is None else _check_priors(priors, k)
    default = default_confusion(k)
    log_post = _log(p)
    for worker, label in votes:
        if label not in index:
            raise ValueError(f"label {label!r} is not one of the classes")
        matrix = confusion.get(worker)
        if matrix is None:
            matrix = default
        else:
            matrix = np.asarray(matrix, dtype=float)
            if matrix.shape != (k, k):
                raise ValueError(f"confusion matrix of {worker!r} must be {k} × {k}, got {matrix.shape}")
            matrix = confusion_from_counts(matrix, 0.0)
        log_post = log_post + _log(matrix[:, index[label]])
    log_post -= log_post.max()
    post = np.exp(log_post)
    post /= post.sum()
    best = int(np.flatnonzero(post >= post.max() - TIE_TOLERANCE)[0])
    return Aggregate({key: classes[best]}, float(post[best]))
