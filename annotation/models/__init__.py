"""WORK: projects, batches, tasks, annotators, assignments, submissions and the event log.

A task's lifecycle columns (status, counters, locks) are written only by ``annotation.lifecycle``
(``tests/test_architecture.py`` checks it), through ``F()``, compare-and-set updates or its
PL/pgSQL functions.
Invariant kept by those modules: ``slots_taken`` equals the number of the task's assignments that
are ``active`` or ``submitted``, and never exceeds ``overlap``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper, F, Q
from django.utils import timezone

from clients.models import Client
from core.ids import uuid7


class TaskType(models.TextChoices):
    """Scale's type names; each has its module in ``annotation.tasktypes``."""

    CATEGORIZATION = "categorization"
    IMAGE_ANNOTATION = "imageannotation"
    LIDAR_ANNOTATION = "lidarannotation"
    VIDEO_ANNOTATION = "videoannotation"
    COMPARISON = "comparison"
    TEXT_COLLECTION = "textcollection"
    NAMED_ENTITY_RECOGNITION = "namedentityrecognition"


class Domain(models.TextChoices):
    AUTONOMOUS_DRIVING = "autonomous_driving"
    GENERATIVE_AI = "generative_ai", "Generative AI"
    OTHER = "other"


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        ARCHIVED = "archived"

    class Consensus(models.TextChoices):
        """How several answers become one (``annotation.services.consensus``). ``auto`` is the task
        type's own method (geometry fusion, Borda / Bradley-Terry, span vote, per-field votes);
        ``majority`` and ``dawid_skene`` are for single-choice categorization."""

        AUTO = "auto"
        MAJORITY = "majority"
        DAWID_SKENE = "dawid_skene"

    class ServingOrder(models.TextChoices):
        """Which open task an annotator is served next (``annotation.lifecycle``'s claim).
        ``started_first``: tasks that already have an answer or a lease are finished before new ones
        are opened (least-answered first among them), so results arrive from the first minutes;
        ``breadth_first``: least-answered first over all tasks, so every task gets its first answer
        before any gets its second."""

        STARTED_FIRST = "started_first"
        BREADTH_FIRST = "breadth_first"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    task_type = models.CharField(max_length=40, choices=TaskType.choices)
    domain = models.CharField(max_length=40, choices=Domain.choices, default=Domain.OTHER)
    params = models.JSONField(default=dict, blank=True)
    instructions = models.TextField(blank=True)
    overlap = models.PositiveSmallIntegerField(default=1)
    max_overlap = models.PositiveSmallIntegerField(default=1)
    consensus_method = models.CharField(max_length=20, choices=Consensus.choices, default=Consensus.AUTO)
    # Quality control (issue 3). Gold tasks are served at ``gold_ratio`` of each annotator's claims
    # in the project; after ``gold_min_answers`` gold answers an annotator whose gold accuracy is
    # below ``gold_accuracy_threshold`` is removed from the project (0 = never).
    gold_ratio = models.FloatField(default=0.0)
    gold_min_answers = models.PositiveSmallIntegerField(default=5)
    gold_accuracy_threshold = models.FloatField(default=0.0)
    # Dynamic overlap: a task whose consensus confidence is below this gets one more answer, up to
    # ``max_overlap``; 0 = never ask for more.
    confidence_threshold = models.FloatField(default=0.0)
    # Review: when enabled, ``review_share`` of the tasks and every low-confidence one wait for a
    # reviewer's verdict before they complete.
    review_enabled = models.BooleanField(default=False)
    review_share = models.FloatField(default=0.0)
    # Anti-fraud: answers faster than this are flagged and not counted; ``fraud_flag_limit`` flags
    # suspend the annotator from the project.
    min_answer_ms = models.PositiveIntegerField(default=0)
    fraud_flag_limit = models.PositiveSmallIntegerField(default=3)
    required_qualifications = models.ManyToManyField(
        "annotation.Qualification", blank=True, related_name="projects"
    )
    # Pre-labels (``Task.hypothesis``): drawn as the annotator's starting state when true; when
    # false annotators start from nothing (the hypothesis is still kept and measured).
    show_hypothesis = models.BooleanField(default=True, db_default=True)
    lease_seconds = models.PositiveIntegerField(default=900)
    priority = models.SmallIntegerField(default=0)
    # When the client wants the work done: shown to the client and on the ops queue. It does not
    # change the serving order (``priority`` does); null: none.
    deadline = models.DateTimeField(null=True, blank=True)
    serving_order = models.CharField(
        max_length=20, choices=ServingOrder.choices, default=ServingOrder.STARTED_FIRST
    )
    # Per-project overrides of the rate card (billing.RateCard), in minor units of the client's
    # currency: the price charged per completed live task and the pay per accepted answer. NULL =
    # use the client's (or the default) rate card for the task type. Tasks snapshot both figures
    # when they are created, so a change applies to work created after it.
    price_per_task = models.BigIntegerField(null=True, blank=True)
    pay_per_answer = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="project_client_name_uniq"),
            # The target of the task's (project, client) foreign key (migration 0020).
            models.UniqueConstraint(fields=["id", "client"], name="project_id_client_uniq"),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(
                condition=Q(max_overlap__gte=F("overlap")), name="project_max_overlap_gte"
            ),
            models.CheckConstraint(condition=Q(price_per_task__gte=0), name="project_price_nonneg"),
            models.CheckConstraint(condition=Q(pay_per_answer__gte=0), name="project_pay_nonneg"),
            models.CheckConstraint(
                condition=Q(gold_ratio__gte=0, gold_ratio__lte=1), name="project_gold_ratio_range"
            ),
            models.CheckConstraint(
                condition=Q(review_share__gte=0, review_share__lte=1), name="project_review_share_range"
            ),
        ]
        indexes = [models.Index(fields=["status", "-priority"], name="project_status_prio_idx")]

    def __str__(self) -> str:
        return self.name


class Batch(models.Model):
    class Status(models.TextChoices):
        STAGING = "staging"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        # Scale's v2 batch states (annotation/services/batch_control.py): paused = its pending tasks
        # are not served until resumed; cancelled = its pending tasks were canceled, for good.
        PAUSED = "paused"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="batches")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.STAGING)
    callback_url = models.CharField(max_length=2000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finalized_at = models.DateTimeField(null=True, blank=True)
    # When its last task finished (annotation.lifecycle.notify.batch_try_complete).
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "name"], name="batch_client_name_uniq")]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        CANCELED = "canceled"
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No single-column FK indexes: every update of a task row writes each index, and the
    # composite indexes below start with these columns already. No single-column FK constraints
    # either: one foreign key on (project_id, client_id) to the project's (id, client_id)
    # (migration 0020) says that the project exists and that the task's client is the project's
    # (which two separate keys did not), with one check per inserted row instead of two (a bulk
    # import inserts 10,000). The project's own key makes the client exist.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="tasks", db_index=False, db_constraint=False
    )
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="tasks", db_index=False, db_constraint=False
    )
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    task_type = models.CharField(max_length=40, choices=TaskType.choices)
    instruction = models.TextField(blank=True)
    params = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    unique_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL = none; unique when set
    callback_url = models.CharField(max_length=2000, blank=True)
    priority = models.SmallIntegerField(default=0)
    # The price and the pay per answer in force when the task was created (project override or
    # rate card): a later change applies to new tasks only.
    price = models.BigIntegerField(default=0)
    pay = models.BigIntegerField(default=0, db_default=0)  # db_default: raw loaders (bench/) need not know it
    # Set by the first claim of a live task: its price then counts as committed spend against the
    # client's credit and the project's budget (billing.ClientCredit / ProjectBudget), once.
    spend_reserved = models.BooleanField(default=False, db_default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Served to annotators: false while its batch is staging, and always for test-mode tasks.
    released = models.BooleanField(default=False)
    is_test = models.BooleanField(default=False)
    overlap = models.PositiveSmallIntegerField(default=1)
    slots_taken = models.PositiveSmallIntegerField(default=0)
    answers_received = models.PositiveSmallIntegerField(default=0)
    # Fencing counter: bumped on every claim; an assignment carries the value it was claimed at.
    claim_seq = models.PositiveIntegerField(default=0)
    response = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    # Gold: a task with a known answer, served to many annotators (``overlap`` = GOLD_OVERLAP) to
    # measure them; it never completes and is never charged; its answers are the platform's cost.
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(null=True, blank=True)
    # A model's pre-labels in the task type's answer shape (``annotation.prelabels``): the
    # annotator's starting state, never an answer (no Submission, never in consensus).
    hypothesis = models.JSONField(null=True, blank=True)
    # Waiting for a reviewer's verdict (``Review``): all answers are in, but it must not complete.
    in_review = models.BooleanField(default=False, db_default=False)
    # Client audit rejections send a completed task back for rework: each round has its own answers
    # (``Submission.round``); ``round_offset`` = answers received before the current round.
    rework_round = models.PositiveSmallIntegerField(default=0, db_default=0)
    round_offset = models.PositiveSmallIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Test-mode and live tasks are separate worlds: the same unique_id may exist in each.
            models.UniqueConstraint(
                fields=["client", "is_test", "unique_id"],
                condition=Q(unique_id__isnull=False),
                name="task_client_unique_id_uniq",
            ),
            models.CheckConstraint(
                condition=Q(slots_taken__lte=F("overlap")), name="task_slots_within_overlap"
            ),
            models.CheckConstraint(
                condition=Q(answers_received__lte=F("slots_taken")), name="task_answers_within_slots"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="task_price_nonneg"),
            models.CheckConstraint(condition=Q(pay__gte=0), name="task_pay_nonneg"),
        ]
        indexes = [
            # The claim path: open tasks of one project in serving order. Partial, so it holds
            # only open work and does not grow with finished tasks.
            models.Index(
                F("project"),
                F("priority").desc(),
                F("slots_taken"),
                F("created_at"),
                name="task_open_queue_idx",
                condition=Q(status="pending", released=True, slots_taken__lt=F("overlap")),
            ),
            # The same open work in the started-first order (the default serving order): tasks with
            # an answer or a lease first (``slots_taken = 0`` is false), least-answered first among
            # them, then new tasks. Gold is left out (gold has its own index and huge overlaps).
            models.Index(
                F("project"),
                F("priority").desc(),
                ExpressionWrapper(Q(slots_taken=0), output_field=models.BooleanField()),
                F("slots_taken"),
                F("created_at"),
                name="task_started_queue_idx",
                condition=Q(status="pending", released=True, is_gold=False, slots_taken__lt=F("overlap")),
            ),
            # Gold tasks of one project, for the claims that should get one (gold_ratio).
            models.Index(
                F("project"),
                F("slots_taken"),
                F("created_at"),
                name="task_gold_queue_idx",
                condition=Q(status="pending", released=True, is_gold=True),
            ),
            models.Index(fields=["client", "-created_at"], name="task_client_created_idx"),
            models.Index(fields=["project", "status"], name="task_project_status_idx"),
            # A batch's tasks, and whether any is still pending (batch completion asks after every
            # finished task of a batch: one index probe, however large the batch).
            models.Index(fields=["batch", "status"], name="task_batch_status_idx"),
            # Exports walk one project's tasks in id order in chunks (keyset pagination).
            models.Index(fields=["project", "id"], name="task_project_id_idx"),
            # Tasks with all their answers but not yet completed (e.g. a crash between steps).
            models.Index(
                fields=["id"],
                name="task_ready_idx",
                condition=Q(status="pending", in_review=False, answers_received__gte=F("overlap")),
            ),
        ]


class Annotator(models.Model):
    class Status(models.TextChoices):
        APPLICANT = "applicant"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        BANNED = "banned"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPLICANT)
    is_reviewer = models.BooleanField(default=False)
    skills = models.JSONField(default=list, blank=True)
    domains = models.JSONField(default=list, blank=True)
    locales = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.user)


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        EXPIRED = "expired"
        SKIPPED = "skipped"
        RELEASED = "released"
        # The answer was not counted (flagged as too fast, or rejected by a reviewer); the slot went
        # back to the pool, and UNIQUE(task, annotator) keeps this annotator off the task.
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )  # UNIQUE(task, annotator) leads with it
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    claim_version = models.PositiveIntegerField()
    leased_until = models.DateTimeField()
    claimed_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="assignment_task_annotator_uniq")
        ]
        indexes = [
            models.Index(
                fields=["annotator", "leased_until"], name="assignment_live_idx", condition=Q(status="active")
            ),
            models.Index(fields=["leased_until"], name="assignment_expiry_idx", condition=Q(status="active")),
        ]


class Submission(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="submission")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="submissions")
    annotator = models.ForeignKey(Annotator, on_delete=models.CASCADE, related_name="submissions")
    answer = models.JSONField()
    # Accepted at submit unless flagged (too fast: not counted, not paid); a reviewer's reject
    # moves an accepted answer to rejected and takes its pay back.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACCEPTED)
    duration_ms = models.PositiveIntegerField(default=0)
    flagged = models.BooleanField(default=False, db_default=False)
    round = models.PositiveSmallIntegerField(default=0, db_default=0)  # Task.rework_round when submitted
    gold_score = models.FloatField(null=True, blank=True)  # gold tasks: the score against the gold answer
    created_at = models.DateTimeField(default=timezone.now)


class ProjectParamVersion(models.Model):
    """One version of a project's label schema and instructions (Scale's ``param_history``):
    version 0 at creation, one more each time params or instructions change."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="param_versions")
    version = models.PositiveIntegerField()
    params = models.JSONField(default=dict, blank=True)
    instructions = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="param_version_project_uniq")
        ]


class TaskAudit(models.Model):
    """A client's audit of a completed task (Scale's ``audits``): accepted or rejected, with a
    comment. Recorded and exposed; what a rejection does to billing and rework is not decided here."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="audits")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    accepted = models.BooleanField()
    comments = models.TextField(blank=True)
    audited_by = models.CharField(max_length=120)  # the actor label, as on events
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["task", "created_at"], name="task_audit_task_idx")]


class ExportJob(models.Model):
    """One export of a project's tasks to a file (COCO, YOLO, JSON Lines, preference JSON Lines,
    CSV), built by a Celery worker in constant memory (``annotation.exports``).

    The row is the outbox: it is written with status ``queued`` and the worker is woken on commit;
    the beat relay re-sends queued jobs whose wake-up was lost and re-queues running jobs whose
    lease ran out (a worker died). ``attempts`` fences the outcome of an attempt that overran its
    lease. ``anon_salt`` keys the anonymous annotator ids of this export (never shown).
    """

    class Format(models.TextChoices):
        COCO = "coco"
        YOLO = "yolo"
        JSONL = "jsonl"
        PREFERENCE_JSONL = "preference_jsonl"
        CSV = "csv"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="exports")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    is_test = models.BooleanField(default=False)  # exports the test-mode tasks; visible to test keys only
    format = models.CharField(max_length=20, choices=Format.choices)
    options = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL = none
    anon_salt = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(max_length=500, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    task_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    created_by = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="export_client_idem_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="export_project_created_idx"),
            # The relay's scan: only unfinished jobs, so it does not grow with finished exports.
            models.Index(
                fields=["created_at"],
                name="export_unfinished_idx",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]


from annotation.models.imports import ScaleImport  # noqa: E402 - refers to Task
from annotation.models.workforce import (  # noqa: E402 - defined after the models they refer to
    AnnotatorQualification,
    ConfusionCount,
    ProjectWorker,
    Qualification,
    QualificationAnswer,
    QualificationAttempt,
    QualificationQuestion,
    Review,
)

__all__ = [
    "Annotator",
    "AnnotatorQualification",
    "Assignment",
    "Batch",
    "ConfusionCount",
    "Domain",
    "ExportJob",
    "Project",
    "ProjectParamVersion",
    "ProjectWorker",
    "Qualification",
    "QualificationAnswer",
    "QualificationAttempt",
    "QualificationQuestion",
    "Review",
    "ScaleImport",
    "Submission",
    "Task",
    "TaskAudit",
    "TaskType",
]
