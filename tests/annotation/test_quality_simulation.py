"""Issue 3's quality simulation, through the real services and the real claim path: 2,000 tasks,
30 simulated annotators with accuracies from 0.55 to 0.95 and 10 % spammers answering at random.

- Dawid-Skene's accuracy against the hidden truth beats majority vote's (same answers);
- the gold rule removes the spammers;
- dynamic overlap reaches the accuracy of fixed overlap 5 with at least 25 % fewer answers.

The test prints its figures (run pytest with ``-s``); the README quotes them. The crowd and its
answer model are in ``quality_simulation.py``.

Why these settings:

- 4 classes, so a spammer's expected gold accuracy is 0.25 and the weakest honest annotator's 0.55.
- ``gold_ratio`` 0.1: about one claim in ten is gold. ``gold_min_answers`` 10 and
  ``gold_accuracy_threshold`` 0.4: after 10 gold answers a spammer's accuracy has a standard
  deviation of 0.14 around 0.25 and the weakest honest annotator's 0.16 around 0.55; 0.4 sits
  between them, and the rule is checked again at every further gold answer, so a spammer's running
  accuracy settles towards 0.25 and crosses it (a lucky start only delays the removal), while an
  honest annotator's settles towards 0.55 or more. Binomial arithmetic: a spammer is removed
  within 40 gold answers with probability 0.995; over the 27 honest annotators about 1.4 removals
  are expected, mostly among the weakest (0.55-0.65). That is a price of any gold rule, so the
  test bounds it loosely (at most 4 of 27: P(more) is under 2 %) and prints who was removed; with
  this seed the figure is in the printed table. (An in-memory replay of the same decisions over
  seeds 1-12 removed 0 to 4 honest annotators and all 3 spammers every time.)
- 60 gold tasks: an annotator sees about 40 gold questions in the fixed-overlap run, and a
  gold task is served to each annotator at most once.
- Dynamic overlap: 3 answers to start, up to 7, Dawid-Skene at submit time (each answer weighed by
  its annotator's stored confusion counts), one more answer while the posterior of the winning
  class is below 0.95. Stored counts are pulled towards the default 0.7-diagonal matrix by four
  pseudo-answers per row (``consensus.PRIOR_WEIGHT``), so a threshold means what it says from the
  first answers on. Tuned on an in-memory replay of the same decisions: on this seed and seeds 1
  and 2 it used 72-74 % of fixed overlap 5's answers, with batch Dawid-Skene accuracy 0.7-1.2
  points above fixed overlap 5's (a threshold of 0.9 saves more answers but gives back the
  accuracy; a lower max overlap (5) misses the accuracy).
"""

from __future__ import annotations

import pytest

from annotation.models import Project
from tests.annotation import quality_simulation as sim
from tests.clients.factories import ClientFactory

SEED = 20261127
LIVE_TASKS = 2000
GOLD_TASKS = 60
HONEST, SPAMMERS = 27, 3  # 30 annotators, 10 % spammers
LOW, HIGH = 0.55, 0.95
GOLD_RULE = {"gold_ratio": 0.1, "gold_min_answers": 10, "gold_accuracy_threshold": 0.4}
MAX_HONEST_REMOVED = 4  # of 27; see above


@pytest.mark.django_db
@pytest.mark.timeout(3600)  # about 19,000 claims and submits through the real services
def test_dawid_skene_beats_majority_gold_rule_removes_spammers_and_dynamic_overlap_saves_answers():
    # Given 2,000 live tasks and 60 gold tasks with hidden truth, and 30 annotators (27 honest
    # with accuracies evenly spread over [0.55, 0.95], 3 spammers)
    profiles = sim.crowd(honest=HONEST, spammers=SPAMMERS, low=LOW, high=HIGH)
    assert len(profiles) == 30 and sum(p.spammer for p in profiles) == 3
    assert (
        min(p.accuracy for p in profiles if not p.spammer) == LOW
        and max(p.accuracy for p in profiles if not p.spammer) == HIGH
    )
    annotators = sim.annotators_create(profiles)
    client = ClientFactory()
    live_truth = sim.truths_draw(seed=SEED, n=LIVE_TASKS)
    gold_truth = sim.truths_draw(seed=SEED + 1, n=GOLD_TASKS)

    # When run 1 (fixed overlap 5, majority vote) is worked through the claim path
    fixed = sim.project_with_tasks(
        client=client,
        name="fixed-overlap-5",
        live_truth=live_truth,
        gold_truth=gold_truth,
        overlap=5,
        max_overlap=5,
        consensus_method=Project.Consensus.MAJORITY,
        **GOLD_RULE,
    )
    sim.drive(fixed, annotators=annotators, profiles=profiles, seed=SEED)
    fixed_completed, fixed_answers, fixed_gold = (
        sim.completed(fixed),
        sim.live_answers(fixed),
        sim.gold_answers(fixed),
    )
    fixed_mv = sim.accuracy(fixed)  # the responses stored at completion: majority vote
    fixed_ds = sim.recompute(fixed, Project.Consensus.DAWID_SKENE)
    fixed_removed = sim.removed(fixed, annotators, profiles)

    # And run 2 (dynamic overlap: 3 to 7 answers, Dawid-Skene at submit time) on a fresh project
    # with the same tasks and the same crowd
    dynamic = sim.project_with_tasks(
        client=client,
        name="dynamic-overlap",
        live_truth=live_truth,
        gold_truth=gold_truth,
        overlap=3,
        max_overlap=7,
        consensus_method=Project.Consensus.DAWID_SKENE,
        confidence_threshold=0.95,
        **GOLD_RULE,
    )
    sim.drive(dynamic, annotators=annotators, profiles=profiles, seed=SEED)
    dynamic_completed, dynamic_answers, dynamic_gold = (
        sim.completed(dynamic),
        sim.live_answers(dynamic),
        sim.gold_answers(dynamic),
    )
    dynamic_online = sim.accuracy(
        dynamic
    )  # the responses stored at completion: Dawid-Skene per task, stored matrices
    dynamic_mv = sim.recompute(dynamic, Project.Consensus.MAJORITY)
    dynamic_ds = sim.recompute(dynamic, Project.Consensus.DAWID_SKENE)
    dynamic_removed = sim.removed(dynamic, annotators, profiles)

    spammers = {p.name for p in profiles if p.spammer}
    rows = [
        (
            "fixed overlap 5",
            fixed_completed,
            fixed_answers,
            fixed_gold,
            fixed_mv,
            fixed_ds,
            None,
            fixed_removed,
            fixed.seconds,
        ),
        (
            "dynamic overlap 3-7",
            dynamic_completed,
            dynamic_answers,
            dynamic_gold,
            dynamic_mv,
            dynamic_ds,
            dynamic_online,
            dynamic_removed,
            dynamic.seconds,
        ),
    ]
    print(
        f"\nQuality simulation (seed {SEED}): {LIVE_TASKS} live tasks + {GOLD_TASKS} gold, {HONEST} honest annotators "
        f"(accuracy {LOW}-{HIGH}) + {SPAMMERS} spammers, 4 classes, gold rule {GOLD_RULE}"
    )
    print(
        f"{'run':<20} {'completed':>9} {'answers':>8} {'per task':>8} {'gold ans':>8} {'majority':>8} "
        f"{'D-S batch':>9} {'D-S live':>8} {'spammers removed':>16} {'honest removed':>14} {'seconds':>7}"
    )
    for name, done, answers, gold, mv, ds, online, removed, seconds in rows:
        honest_removed = sorted(n for n in removed if n not in spammers)
        print(
            f"{name:<20} {done:>9} {answers:>8} {answers / LIVE_TASKS:>8.2f} {gold:>8} {mv:>8.4f} {ds:>9.4f} "
            f"{'' if online is None else f'{online:.4f}':>8} {f'{len(spammers & set(removed))}/{len(spammers)}':>16} "
            f"{len(honest_removed):>14} {seconds:>7.1f}"
        )
    for name, *_, removed, _ in rows:
        for who, reason in sorted(removed.items()):
            print(f"  {name}: removed {who} ({'spammer' if who in spammers else 'honest'}): {reason}")
    print(f"dynamic / fixed answers: {dynamic_answers / fixed_answers:.3f}")

    # Then every live task completed in both runs
    assert fixed_completed == LIVE_TASKS and dynamic_completed == LIVE_TASKS
    assert fixed_answers == 5 * LIVE_TASKS
    # Dawid-Skene beats majority vote on the same answers
    assert fixed_ds > fixed_mv
    # The gold rule removed every spammer, in each run, and few honest annotators
    assert spammers <= set(fixed_removed) and spammers <= set(dynamic_removed)
    assert len(set(fixed_removed) - spammers) <= MAX_HONEST_REMOVED
    assert len(set(dynamic_removed) - spammers) <= MAX_HONEST_REMOVED
    # Dynamic overlap reaches fixed overlap 5's accuracy (the same method: batch Dawid-Skene on
    # each run's answers) with at least 25 % fewer answers
    assert dynamic_ds >= fixed_ds
    assert dynamic_answers <= 0.75 * fixed_answers
