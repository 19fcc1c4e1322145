"""Scale's categorization ``taxonomies``: several category questions about one attachment, with
nested choices (``subchoices``) and conditional questions (``condition``). Pure functions.

A taxonomy is ``{type: "category", description?, choices: [str | {choice, subchoices?}],
allow_multiple?, condition?: {taxonomy, choices}}``. An answer (and the consensus response) is
``{"taxonomies": {key: [label, …]}}``:

- a value is always a list (one label for a single-choice question), so a receiver reads every
  question the same way, whatever ``allow_multiple`` says;
- a label is a *leaf* of the choice tree: a choice with subchoices is a heading, and the annotator
  goes on to one of its subchoices, as Scale's workers do. Labels are unique within a taxonomy, so
  a leaf names its whole path (``path_of``);
- a conditional question is answered exactly when it is shown: when the question it depends on
  has a selected label — the leaf or any of its ancestors — among ``condition.choices``.

Consensus is per question, in dependency order (a question's condition is decided on the consensus
of the question it depends on): single choice by a vote (majority, or a caller's method such as
Dawid-Skene per question), multiple choice label by label (more than half of the answers). The
confidence is the lowest of the questions' confidences: the least settled question decides whether
a task needs another answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from annotation.quality.categorical import (
    Aggregate,
    majority_vote,
    majority_vote_multi,
    score_exact,
    score_jaccard,
)

MAX_DEPTH = 5


@dataclass(frozen=True)
class Question:
    key: str
    leaves: tuple[str, ...]  # what may be answered, in the order given
    parents: Mapping[str, tuple[str, ...]]  # label → its ancestors (root first)
    multiple: bool
    condition_on: str | None
    condition_choices: frozenset[str]


def walk(choices: Iterable, ancestors: tuple[str, ...] = ()) -> Iterable[tuple[str, tuple[str, ...], bool]]:
    """Every node of a choice tree: (label, ancestors, is_leaf), depth first in the given order."""
    for choice in choices:
        if isinstance(choice, str):
            yield choice, ancestors, True
        else:
            subchoices = choice.get("subchoices") or []
            yield choice["choice"], ancestors, not subchoices
            yield from walk(subchoices, (*ancestors, choice["choice"]))


def questions(taxonomies: Mapping[str, Mapping]) -> list[Question]:
    """The questions in dependency order (a question after the one its condition names).
    Precondition: ``taxonomies`` passed ``problems`` (no cycle, known keys)."""
    built = {}
    for key, spec in taxonomies.items():
        nodes = list(walk(spec["choices"]))
        condition = spec.get("condition") or {}
        built[key] = Question(
            key=key,
            leaves=tuple(label for label, _, leaf in nodes if leaf),
            parents={label: ancestors for label, ancestors, _ in nodes},
            multiple=bool(spec.get("allow_multiple")),
            condition_on=condition.get("taxonomy"),
            condition_choices=frozenset(condition.get("choices") or ()),
        )
    ordered: list[Question] = []
    placed: set[str] = set()
    while len(ordered) < len(built):
        progressed = False
        for key, question in built.items():
            if key not in placed and (question.condition_on is None or question.condition_on in placed):
                ordered.append(question)
                placed.add(key)
                progressed = True
        if not progressed:  # a cycle: ``problems`` refuses these
            raise ValueError("taxonomy conditions form a cycle")
    return ordered


def problems(taxonomies: Mapping[str, Mapping]) -> list[tuple[str, str]]:
    """What a schema cannot say, as ``(field under taxonomies, message)``: duplicate labels in a
    tree, trees deeper than ``MAX_DEPTH``, a condition on an unknown question, on itself, on a
    label its question does not have, and conditions that form a cycle."""
    out: list[tuple[str, str]] = []
    labels: dict[str, set[str]] = {}
    for key, spec in taxonomies.items():
        seen: set[str] = set()
        for label, ancestors, _ in walk(spec["choices"]):
            if label in seen:
                out.append((f"{key}.choices", f"the label {label!r} appears twice (labels must be unique)"))
            if len(ancestors) >= MAX_DEPTH:
                out.append((f"{key}.choices", f"subchoices nest deeper than {MAX_DEPTH} levels"))
            seen.add(label)
        labels[key] = seen
    for key, spec in taxonomies.items():
        condition = spec.get("condition")
        if not condition:
            continue
        target = condition["taxonomy"]
        if target == key:
            out.append((f"{key}.condition.taxonomy", "a question cannot depend on itself"))
        elif target not in taxonomies:
            out.append((f"{key}.condition.taxonomy", f"{target!r} is not one of the taxonomies"))
        else:
            for i, choice in enumerate(condition["choices"]):
                if choice not in labels[target]:
                    out.append((f"{key}.condition.choices[{i}]", f"{choice!r} is not a choice of {target!r}"))
    if not out:
        try:
            questions(taxonomies)
        except ValueError:
            out.append(("condition", "the conditions form a cycle"))
    return out


def selected(question: Question, values: Sequence[str]) -> set[str]:
    """The labels a question's answer selects: the chosen leaves and all their ancestors."""
    out: set[str] = set()
    for value in values:
        out.add(value)
        out.update(question.parents.get(value, ()))
    return out


def is_shown(
    question: Question, answered: Mapping[str, Sequence[str]], by_key: Mapping[str, Question]
) -> bool:
    """Whether ``question`` is asked, given the answers so far (in dependency order)."""
    if question.condition_on is None:
        return True
    if question.condition_on not in answered:
        return False
    parent = by_key[question.condition_on]
    return bool(selected(parent, answered[question.condition_on]) & question.condition_choices)


def answer_problems(taxonomies: Mapping[str, Mapping], answer: Any) -> list[tuple[str, str]]:
    """An answer's problems as ``(field, message)``; empty when it is valid."""
    if (
        not isinstance(answer, dict)
        or set(answer) != {"taxonomies"}
        or not isinstance(answer["taxonomies"], dict)
    ):
        return [("answer", 'must be {"taxonomies": {key: [label, …]}}')]
    given = answer["taxonomies"]
    for key in given:
        if key not in taxonomies:
            return [(f"taxonomies.{key}", f"unknown taxonomy; known: {sorted(taxonomies)}")]
    qs = questions(taxonomies)
    by_key = {q.key: q for q in qs}
    answered: dict[str, Sequence[str]] = {}
    for q in qs:
        where = f"taxonomies.{q.key}"
        shown = is_shown(q, answered, by_key)
        if not shown:
            if q.key in given:
                return [
                    (
                        where,
                        f"not asked: it applies only when {q.condition_on!r} is one of "
                        f"{sorted(q.condition_choices)}",
                    )
                ]
            continue
        if q.key not in given:
            return [(where, "required")]
        values = given[q.key]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return [(where, "must be a list of labels")]
        if not values:
            return [(where, "pick at least one label")]
        if not q.multiple and len(values) != 1:
            return [(where, "pick exactly one label (allow_multiple is off)")]
        if len(set(values)) != len(values):
            return [(where, "a label is repeated")]
        for i, value in enumerate(values):
            if value not in q.leaves:
                hint = " (it has subchoices: pick one of them)" if value in q.parents else ""
                shown_leaves = list(q.leaves[:20]) + (["…"] if len(q.leaves) > 20 else [])
                return [(f"{where}[{i}]", f"{value!r} is not one of {shown_leaves}{hint}")]
        answered[q.key] = values
    return []


SingleVote = Callable[[Question, list[tuple[Any, str]]], Aggregate | None]


def consensus(
    taxonomies: Mapping[str, Mapping],
    answers: Sequence[tuple[Any, Mapping]],
    *,
    single: SingleVote | None = None,
) -> Aggregate:
    """One response from ``(annotator, answer)`` pairs. ``single(question, [(annotator, label)])``
    may decide a single-choice question (e.g. Dawid-Skene with stored confusion matrices) and
    return ``Aggregate({key: label}, confidence)``; None (or no ``single``) means a majority vote.
    A shown question nobody answered (possible only when ``single`` picks a label no one chose)
    is left out with confidence 0."""
    qs = questions(taxonomies)
    by_key = {q.key: q for q in qs}
    response: dict[str, list[str]] = {}
    confidences: list[float] = []
    for q in qs:
        if not is_shown(q, response, by_key):
            continue
        votes = [
            (a, ans["taxonomies"][q.key]) for a, ans in answers if q.key in (ans.get("taxonomies") or {})
        ]
        if not votes:
            confidences.append(0.0)
            continue
        if q.multiple:
            result = majority_vote_multi([v for _, v in votes], order=q.leaves, key=q.key)
            response[q.key] = list(result.response[q.key])
        else:
            result = single(q, [(a, v[0]) for a, v in votes]) if single else None
            if result is None:
                result = majority_vote([v[0] for _, v in votes], order=q.leaves, key=q.key)
            response[q.key] = [result.response[q.key]]
        confidences.append(1.0 if result.confidence is None else float(result.confidence))
    return Aggregate({"taxonomies": response}, min(confidences) if confidences else 1.0)


def score(taxonomies: Mapping[str, Mapping], answer: Mapping, gold: Mapping) -> float:
    """Agreement of ``answer`` with ``gold`` in [0, 1]: the mean over the questions either of them
    answered of exact match (single choice) or Jaccard similarity (multiple choice); a question
    only one of them answered scores 0 (the answer took a different branch)."""
    a, g = answer.get("taxonomies") or {}, gold.get("taxonomies") or {}
    keys = [k for k in taxonomies if k in a or k in g]
    if not keys:
        return 1.0
    total = 0.0
    for key in keys:
        if key not in a or key not in g:
            continue
        if taxonomies[key].get("allow_multiple"):
            total += score_jaccard(a[key], g[key])
        else:
            total += score_exact(a[key][0] if a[key] else None, g[key][0] if g[key] else None)
    return total / len(keys)


def example(taxonomies: Mapping[str, Mapping]) -> dict:
    """A valid answer: the first leaf of every question shown."""
    qs = questions(taxonomies)
    by_key = {q.key: q for q in qs}
    out: dict[str, list[str]] = {}
    for q in qs:
        if is_shown(q, out, by_key):
            out[q.key] = [q.leaves[0]]
    return {"taxonomies": out}


def path_of(question: Question, label: str) -> list[str]:
    """The labels from the top of the tree down to ``label`` (for display and exports)."""
    return [*question.parents.get(label, ()), label]
