"""A simulated crowd for issue 3's quality test (``test_quality_simulation.py``): annotators of
known accuracy answer categorization tasks whose truth only the simulation knows, through the
real claim path (``assignment_claim``) and the real submit (``assignment_submit``): gold scoring,
the gold rule, consensus, dynamic overlap. Nothing here decides anything the services decide;
it only plays the annotators and reads the outcome back.

The answer model: an honest annotator of accuracy ``p`` gives the true class with probability
``p``, otherwise one of the other classes uniformly (symmetric noise, no per-annotator bias, so
Dawid-Skene's edge over majority vote comes only from weighing annotators by their accuracy and
discounting spammers, never from learning a bias). A spammer picks one of the classes uniformly
(accuracy 1/K on average, whatever the truth). Each answer is drawn from its own generator seeded
by (seed, annotator, task), so an annotator answers a task the same way whatever the order in
which the claim path serves the work: the runs differ only by what the services decide.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from annotation.models import Annotator, Project, ProjectWorker, Submission, Task
from annotation.services import consensus, projects, tasks, work
from clients.models import Client, User

CLASSES = ["cat", "dog", "bird", "fish"]
ANSWER_SECONDS = 5  # each simulated answer takes this long (min_answer_ms stays 0: no anti-fraud flags)


@dataclass(frozen=True)
class Profile:
    """One simulated annotator: ``accuracy`` None = a spammer answering uniformly at random."""

    name: str
    accuracy: float | None

    @property
    def spammer(self) -> bool:
        return self.accuracy is None

    def answer(self, *, seed: int, task_key: str, truth: str) -> str:
        rng = random.Random(f"{seed}/{self.name}/{task_key}")
        if self.accuracy is None:
            return rng.choice(CLASSES)
        if rng.random() < self.accuracy:
            return truth
        return rng.choice([c for c in CLASSES if c != truth])


def crowd(*, honest: int, spammers: int, low: float, high: float) -> list[Profile]:
    """``honest`` accuracies evenly spread over [low, high], and ``spammers`` spread among them
    (so the round-robin does not serve all spammers first or last)."""
    people = [
        Profile(f"honest-{i:02d}", round(low + (high - low) * i / (honest - 1), 4)) for i in range(honest)
    ]
    step = len(people) // spammers if spammers else 0
    for j in range(spammers):
        people.insert(step // 2 + j * (step + 1), Profile(f"spammer-{j}", None))
    return people


def annotators_create(profiles: Sequence[Profile]) -> list[Annotator]:
    """Active annotators, created in bulk: the unusable password "!" skips argon2 (slow by design)."""
    users = User.objects.bulk_create(
        [User(email=f"sim-{p.name}@example.test", name=p.name, password="!") for p in profiles]
    )
    return Annotator.objects.bulk_create([Annotator(user=u, status=Annotator.Status.ACTIVE) for u in users])


def truths_draw(*, seed: int, n: int) -> list[str]:
    rng = random.Random(f"{seed}/truth")
    return [rng.choice(CLASSES) for _ in range(n)]


@dataclass
class Run:
    """One project's simulation: its tasks' hidden truth and what came out."""

    project: Project
    truth: dict = field(default_factory=dict)  # task id → true class (live and gold tasks)
    key: dict = field(default_factory=dict)  # task id → "live-17" / "gold-3" (the answer seed)
    live_ids: list = field(default_factory=list)
    answers_by_profile: dict = field(default_factory=dict)
    seconds: float = 0.0


def project_with_tasks(
    *, client: Client, name: str, live_truth: Sequence[str], gold_truth: Sequence[str], **settings
) -> Run:
    """A categorization project (no price, no pay: billing is not what is measured) with its live
    tasks and its gold tasks, created through ``task_bulk_create``; the truth stays here."""
    project = projects.project_create(
        client=client,
        actor=None,
        name=name,
        task_type="categorization",
        params={"categories": list(CLASSES)},
        price_per_task=0,
        pay_per_answer=0,
        **settings,
    )
    run = Run(project=project)
    items = [
        {"unique_id": f"{name}/live-{i}", "params": {"attachment": f"item {i}", "attachment_type": "text"}}
        for i in range(len(live_truth))
    ]
    items += [
        {
            "unique_id": f"{name}/gold-{i}",
            "params": {"attachment": f"gold item {i}", "attachment_type": "text"},
            "gold_answer": {"category": truth},
        }
        for i, truth in enumerate(gold_truth)
    ]
    created = tasks.task_bulk_create(client=client, actor=None, project=project, items=items)
    for result in created:
        kind, index = result.task.unique_id.rsplit("/", 1)[1].split("-")
        truth = (live_truth if kind == "live" else gold_truth)[int(index)]
        run.truth[result.task.pk] = truth
        run.key[result.task.pk] = f"{kind}-{index}"
        if kind == "live":
            run.live_ids.append(result.task.pk)
    return run


def drive(run: Run, *, annotators: Sequence[Annotator], profiles: Sequence[Profile], seed: int) -> None:
    """Round-robin over the annotators: each claims through the real claim path and submits its
    answer through the real submit, until a whole round serves nobody (every live task complete
    and no gold due; a removed annotator gets None, like one with nothing left)."""
    started = time.perf_counter()
    project_id = run.project.pk
    while True:
        served = 0
        for annotator, profile in zip(annotators, profiles, strict=True):
            claim = work.assignment_claim(annotator=annotator, project_id=project_id)
            if claim is None:
                continue
            assignment = claim.assignment
            label = profile.answer(
                seed=seed, task_key=run.key[assignment.task_id], truth=run.truth[assignment.task_id]
            )
            work.assignment_submit(
                annotator=annotator,
                assignment_id=assignment.pk,
                claim_version=assignment.claim_version,
                answer={"category": label},
                now=assignment.claimed_at + timedelta(seconds=ANSWER_SECONDS),
            )
            served += 1
        if not served:
            break
    run.seconds += time.perf_counter() - started


def accuracy(run: Run) -> float:
    """Share of the live tasks whose stored response is the hidden truth (an incomplete task
    counts as wrong)."""
    responses = Task.objects.filter(pk__in=run.live_ids, status=Task.Status.COMPLETED).values_list(
        "pk", "response"
    )
    right = sum(1 for pk, response in responses if response and response.get("category") == run.truth[pk])
    return right / len(run.live_ids)


def recompute(run: Run, method: str) -> float:
    """``project_consensus_recompute`` with ``method`` (replacing the stored responses), then the accuracy."""
    consensus.project_consensus_recompute(project=run.project, actor=None, method=method)
    return accuracy(run)


def live_answers(run: Run) -> int:
    """Answers given to live tasks (gold answers are the quality-control overhead, counted apart)."""
    return Submission.objects.filter(
        task__project=run.project, task__is_gold=False, status=Submission.Status.ACCEPTED
    ).count()


def gold_answers(run: Run) -> int:
    return Submission.objects.filter(task__project=run.project, task__is_gold=True).count()


def completed(run: Run) -> int:
    return Task.objects.filter(pk__in=run.live_ids, status=Task.Status.COMPLETED).count()


def removed(run: Run, annotators: Sequence[Annotator], profiles: Sequence[Profile]) -> dict[str, str]:
    """{profile name: reason} of the annotators the project removed."""
    by_id = {a.pk: p for a, p in zip(annotators, profiles, strict=True)}
    rows = ProjectWorker.objects.filter(project=run.project, status=ProjectWorker.Status.REMOVED).values_list(
        "annotator_id", "reason"
    )
    return {by_id[annotator_id].name: reason for annotator_id, reason in rows}
