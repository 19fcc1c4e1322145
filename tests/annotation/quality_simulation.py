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
from tests.clients.factories import ClientFactory

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


def annotators_create(profiles: Sequence[Profile], *, tag: str = "") -> list[Annotator]:
    """Active annotators, created in bulk: the unusable password "!" skips argon2 (slow by design).
    ``tag`` keeps the e-mails of several crowds in one database apart."""
    users = User.objects.bulk_create(
        [User(email=f"sim-{tag}{p.name}@example.test", name=p.name, password="!") for p in profiles]
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


# --- the experiment: two runs over the same tasks and crowd -------------------------------------


@dataclass(frozen=True)
class Config:
    """The size of one experiment. ``FULL`` is issue 3's; the test runs ``CI`` (see its docstring)."""

    live_tasks: int
    gold_tasks: int
    honest: int
    spammers: int
    gold_ratio: float
    max_honest_removed: int  # the bound the test allows on honest annotators removed by the gold rule
    low: float = 0.55
    high: float = 0.95
    gold_min_answers: int = 10
    gold_accuracy_threshold: float = 0.4
    confidence_threshold: float = 0.95  # the dynamic run's

    @property
    def gold_rule(self) -> dict:
        return {
            "gold_ratio": self.gold_ratio,
            "gold_min_answers": self.gold_min_answers,
            "gold_accuracy_threshold": self.gold_accuracy_threshold,
        }


FULL = Config(live_tasks=2000, gold_tasks=60, honest=27, spammers=3, gold_ratio=0.1, max_honest_removed=4)
CI = Config(
    live_tasks=450,
    gold_tasks=60,
    honest=9,
    spammers=1,
    gold_ratio=0.15,
    max_honest_removed=2,
    confidence_threshold=0.9,
)


@dataclass
class RunFigures:
    name: str
    completed: int
    answers: int  # live answers
    gold: int  # gold answers
    majority: float  # accuracy of majority vote over the run's answers
    dawid_skene: float  # accuracy of batch Dawid-Skene over the run's answers
    online: float | None  # accuracy of the responses stored at completion (dynamic run only)
    removed: dict  # profile name -> reason
    seconds: float


@dataclass
class Figures:
    config: Config
    seed: int
    spammers: set
    fixed: RunFigures
    dynamic: RunFigures

    def failures(self) -> list[str]:
        """What the test asserts, as messages; empty when every claim holds."""
        c, f, d = self.config, self.fixed, self.dynamic
        checks = [
            (
                f.completed == c.live_tasks and d.completed == c.live_tasks,
                "every live task completed in both runs",
            ),
            (f.answers == 5 * c.live_tasks, "fixed overlap 5 took exactly 5 answers per task"),
            (f.dawid_skene > f.majority, "Dawid-Skene beats majority vote on the same answers"),
            (self.spammers <= set(f.removed), "the gold rule removed every spammer (fixed run)"),
            (self.spammers <= set(d.removed), "the gold rule removed every spammer (dynamic run)"),
            (len(set(f.removed) - self.spammers) <= c.max_honest_removed, "few honest removed (fixed run)"),
            (len(set(d.removed) - self.spammers) <= c.max_honest_removed, "few honest removed (dynamic run)"),
            (d.dawid_skene >= f.dawid_skene, "dynamic overlap reaches fixed overlap 5's accuracy"),
            (d.answers <= 0.75 * f.answers, "dynamic overlap uses at least 25 % fewer answers"),
        ]
        return [message for ok, message in checks if not ok]

    def table(self) -> str:
        c = self.config
        lines = [
            f"Quality simulation (seed {self.seed}): {c.live_tasks} live tasks + {c.gold_tasks} gold, "
            f"{c.honest} honest annotators (accuracy {c.low}-{c.high}) + {c.spammers} spammers, 4 classes, "
            f"gold rule {c.gold_rule}",
            f"{'run':<20} {'completed':>9} {'answers':>8} {'per task':>8} {'gold ans':>8} "
            f"{'majority':>8} {'D-S batch':>9} {'D-S live':>8} {'spammers removed':>16} "
            f"{'honest removed':>14} {'seconds':>7}",
        ]
        for r in (self.fixed, self.dynamic):
            honest_removed = [n for n in r.removed if n not in self.spammers]
            online = "" if r.online is None else f"{r.online:.4f}"
            caught = f"{len(self.spammers & set(r.removed))}/{len(self.spammers)}"
            lines.append(
                f"{r.name:<20} {r.completed:>9} {r.answers:>8} {r.answers / c.live_tasks:>8.2f} "
                f"{r.gold:>8} {r.majority:>8.4f} {r.dawid_skene:>9.4f} {online:>8} {caught:>16} "
                f"{len(honest_removed):>14} {r.seconds:>7.1f}"
            )
        for r in (self.fixed, self.dynamic):
            for who, reason in sorted(r.removed.items()):
                kind = "spammer" if who in self.spammers else "honest"
                lines.append(f"  {r.name}: removed {who} ({kind}): {reason}")
        lines.append(f"dynamic / fixed answers: {self.dynamic.answers / self.fixed.answers:.3f}")
        return "\n".join(lines)


def experiment(config: Config, seed: int) -> Figures:
    """Issue 3's experiment at ``config``'s size: run 1, fixed overlap 5 with majority vote; run 2,
    dynamic overlap (3 to 7 answers, Dawid-Skene at submit time, threshold 0.95) on a fresh project
    with the same tasks and the same crowd; each read back with both batch methods."""
    profiles = crowd(honest=config.honest, spammers=config.spammers, low=config.low, high=config.high)
    annotators = annotators_create(profiles, tag=f"{seed}-")
    client = ClientFactory()
    live_truth = truths_draw(seed=seed, n=config.live_tasks)
    gold_truth = truths_draw(seed=seed + 1, n=config.gold_tasks)
    spammers = {p.name for p in profiles if p.spammer}

    fixed = project_with_tasks(
        client=client,
        name=f"fixed-overlap-5-{seed}",
        live_truth=live_truth,
        gold_truth=gold_truth,
        overlap=5,
        max_overlap=5,
        consensus_method=Project.Consensus.MAJORITY,
        **config.gold_rule,
    )
    drive(fixed, annotators=annotators, profiles=profiles, seed=seed)
    fixed_figures = RunFigures(
        name="fixed overlap 5",
        completed=completed(fixed),
        answers=live_answers(fixed),
        gold=gold_answers(fixed),
        majority=accuracy(fixed),  # the responses stored at completion: majority vote
        dawid_skene=recompute(fixed, Project.Consensus.DAWID_SKENE),
        online=None,
        removed=removed(fixed, annotators, profiles),
        seconds=fixed.seconds,
    )

    dynamic = project_with_tasks(
        client=client,
        name=f"dynamic-overlap-{seed}",
        live_truth=live_truth,
        gold_truth=gold_truth,
        overlap=3,
        max_overlap=7,
        consensus_method=Project.Consensus.DAWID_SKENE,
        confidence_threshold=config.confidence_threshold,
        **config.gold_rule,
    )
    drive(dynamic, annotators=annotators, profiles=profiles, seed=seed)
    online = accuracy(dynamic)  # the responses stored at completion: Dawid-Skene per task
    dynamic_figures = RunFigures(
        name="dynamic overlap 3-7",
        completed=completed(dynamic),
        answers=live_answers(dynamic),
        gold=gold_answers(dynamic),
        majority=recompute(dynamic, Project.Consensus.MAJORITY),
        dawid_skene=recompute(dynamic, Project.Consensus.DAWID_SKENE),
        online=online,
        removed=removed(dynamic, annotators, profiles),
        seconds=dynamic.seconds,
    )
    return Figures(config=config, seed=seed, spammers=spammers, fixed=fixed_figures, dynamic=dynamic_figures)
