"""WORKFORCE: qualifications (tests made of gold questions), each annotator's standing and
reliability per project, the confusion counts Dawid-Skene warm-starts from, and reviews.

Lock order (``annotation/lifecycle/README.md``): annotator row → project worker row → task rows
(claim); assignment row → task row → project worker rows in ascending annotator id (submit,
review).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from core.ids import uuid7


class Qualification(models.Model):
    """A test made of gold questions of one domain and task type, with a pass mark and a retry
    delay. ``client`` null = platform-wide (staff-managed); else the client's own, for its projects.
    Passing grants an ``AnnotatorQualification``; projects name the ones they require."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="qualifications"
    )
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=40, default="other")
    task_type = models.CharField(max_length=40)
    instructions = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)  # the label schema shared by its questions
    pass_mark = models.FloatField(default=0.8)
    retry_delay_seconds = models.PositiveIntegerField(default=86400)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "name"], name="qualification_client_name_uniq", nulls_distinct=False
            ),
            models.CheckConstraint(
                condition=Q(pass_mark__gte=0, pass_mark__lte=1), name="qualification_pass_mark_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class QualificationQuestion(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField()
    instruction = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    gold_answer = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["qualification", "position"], name="qualification_question_pos_uniq"
            )
        ]


class QualificationAttempt(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        PASSED = "passed"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="attempts")
    annotator = models.ForeignKey(
        "annotation.Annotator", on_delete=models.CASCADE, related_name="qualification_attempts"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    score = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One attempt in progress per annotator and test; concurrent starts meet here.
            models.UniqueConstraint(
                fields=["annotator", "qualification"],
                condition=Q(status="in_progress"),
                name="qualification_attempt_open_uniq",
            ),
        ]
        indexes = [
            models.Index(
                fields=["annotator", "qualification", "-started_at"], name="qual_attempt_annotator_idx"
            )
        ]


class QualificationAnswer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    attempt = models.ForeignKey(QualificationAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(QualificationQuestion, on_delete=models.CASCADE, related_name="+")
    answer = models.JSONField()
    score = models.FloatField(null=True, blank=True)  # None: not auto-scorable (free text)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="qualification_answer_uniq")
        ]


class AnnotatorQualification(models.Model):
    class Source(models.TextChoices):
        TEST = "test"
        STAFF = "staff"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    annotator = models.ForeignKey(
        "annotation.Annotator", on_delete=models.CASCADE, related_name="qualifications"
    )
    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="holders")
    source = models.CharField(max_length=8, choices=Source.choices)
    score = models.FloatField(null=True, blank=True)
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by = models.CharField(max_length=120, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "qualification"], name="annotator_qualification_uniq"
            )
        ]


class ProjectWorker(models.Model):
    """One annotator in one project: standing (served, removed by the gold rule or by staff,
    suspended for fraud), the counters the gold ratio and the rules read, and agreement with
    consensus. Created on the first claim; every change of ``status`` is an event with its reason."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        REMOVED = "removed"  # gold accuracy below the project's threshold, or staff
        SUSPENDED = "suspended"  # repeated too-fast answers (anti-fraud)

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="workers")
    annotator = models.ForeignKey(
        "annotation.Annotator", on_delete=models.CASCADE, related_name="project_standings"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    reason = models.CharField(max_length=300, blank=True)
    served_total = models.PositiveIntegerField(default=0)
    served_gold = models.PositiveIntegerField(default=0)
    gold_answers = models.PositiveIntegerField(default=0)
    gold_score = models.FloatField(default=0.0)  # sum of gold scores; accuracy = gold_score / gold_answers
    consensus_answers = models.PositiveIntegerField(default=0)
    consensus_score = models.FloatField(default=0.0)  # sum of agreement with the consensus answer
    flags = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotator", "project"], name="project_worker_uniq")]
        indexes = [models.Index(fields=["project", "status"], name="project_worker_status_idx")]

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_score / self.gold_answers if self.gold_answers else None

    @property
    def agreement(self) -> float | None:
        return self.consensus_score / self.consensus_answers if self.consensus_answers else None


class ConfusionCount(models.Model):
    """How often an annotator gave label ``given`` when the truth was ``true_label`` (from gold
    answers and consensus), per project: the warm start of Dawid-Skene. Soft counts after a batch
    recompute (which replaces the project's rows)."""

    project = models.ForeignKey(
        "annotation.Project", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    annotator = models.ForeignKey("annotation.Annotator", on_delete=models.CASCADE, related_name="+")
    true_label = models.CharField(max_length=200)
    given = models.CharField(max_length=200)
    count = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "annotator", "true_label", "given"], name="confusion_count_uniq"
            )
        ]


class Review(models.Model):
    """A task held for a reviewer's verdict before it completes: a sample (``review_share``) or a
    low-confidence consensus. ``response``/``confidence`` are the provisional consensus."""

    class Status(models.TextChoices):
        OPEN = "open"
        ASSIGNED = "assigned"
        DECIDED = "decided"

    class Reason(models.TextChoices):
        SAMPLE = "sample"
        LOW_CONFIDENCE = "low_confidence"

    class Verdict(models.TextChoices):
        ACCEPT = "accept"
        FIX = "fix"
        REJECT = "reject"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    task = models.ForeignKey("annotation.Task", on_delete=models.CASCADE, related_name="reviews")
    project = models.ForeignKey("annotation.Project", on_delete=models.CASCADE, related_name="+")
    round = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    response = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    reviewer = models.ForeignKey(
        "annotation.Annotator", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    leased_until = models.DateTimeField(null=True, blank=True)
    verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    corrected_answer = models.JSONField(null=True, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One undecided review per task.
            models.UniqueConstraint(
                fields=["task"], condition=~Q(status="decided"), name="review_task_open_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="review_queue_idx", condition=~Q(status="decided"))
        ]
