"""Input and output serializers of the native API. Inputs only parse shapes; services decide."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from annotation import prelabels
from annotation.models import Assignment, Batch, Domain, Project, TaskType
from annotation.payloads import task_payload

MAX_PRICE = 10**12  # minor units; far above any real task price, well inside PostgreSQL's bigint


class ProjectQualitySettings(serializers.Serializer):
    """The quality-control settings a project takes at creation and in a PATCH (all optional)."""

    consensus_method = serializers.ChoiceField(
        choices=Project.Consensus.choices,
        required=False,
        help_text="auto: the task type's own method; majority or dawid_skene: categorization.",
    )
    gold_ratio = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Share of each annotator's claims served gold."
    )
    gold_min_answers = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    gold_accuracy_threshold = serializers.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        help_text="Below this gold accuracy, after gold_min_answers gold answers, an annotator is removed "
        "(0: never).",
    )
    confidence_threshold = serializers.FloatField(
        min_value=0,
        max_value=1,
        required=False,
        help_text="Dynamic overlap: below this consensus confidence a task gets one more answer, up to "
        "max_overlap.",
    )
    review_enabled = serializers.BooleanField(required=False)
    review_share = serializers.FloatField(min_value=0, max_value=1, required=False)
    min_answer_ms = serializers.IntegerField(
        min_value=0,
        max_value=3_600_000,
        required=False,
        help_text="Answers faster than this are flagged and not counted.",
    )
    fraud_flag_limit = serializers.IntegerField(min_value=0, max_value=1000, required=False)
    required_qualifications = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=50
    )
    serving_order = serializers.ChoiceField(
        choices=Project.ServingOrder.choices,
        required=False,
        help_text="started_first (default): tasks with an answer or a lease are finished before new ones are "
        "opened; breadth_first: every task gets its first answer before any gets its second.",
    )
    show_hypothesis = serializers.BooleanField(
        required=False,
        help_text="Annotators start from the task's hypothesis (pre-labels) when true (default).",
    )


class ProjectIn(ProjectQualitySettings):
    name = serializers.CharField(max_length=200)
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    domain = serializers.ChoiceField(choices=Domain.choices, default=Domain.OTHER)
    params = serializers.DictField(
        default=dict, help_text="Label schema shared by the project's tasks (e.g. categories, geometries)."
    )
    instructions = serializers.CharField(allow_blank=True, default="")
    overlap = serializers.IntegerField(min_value=1, max_value=50, default=1, help_text="Answers per task.")
    max_overlap = serializers.IntegerField(min_value=1, max_value=50, required=False)
    lease_seconds = serializers.IntegerField(min_value=30, max_value=86400, required=False)
    priority = serializers.IntegerField(min_value=-100, max_value=100, default=0)
    deadline = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the work should be done (ISO 8601, in the future); shown, not used for serving "
        "order.",
    )
    price_per_task = serializers.IntegerField(
        min_value=0,
        max_value=MAX_PRICE,
        required=False,
        allow_null=True,
        help_text="Price per completed task in minor units of the client's currency; null or absent: the "
        "rate card's.",
    )
    pay_per_answer = serializers.IntegerField(
        min_value=0,
        max_value=MAX_PRICE,
        required=False,
        allow_null=True,
        help_text=(
            "Pay per accepted answer in minor units; null or absent: the rate card's. The price must "
            "cover pay_per_answer × max_overlap and keep the platform's minimum margin (price_below_pay, "
            "margin_below_minimum)."
        ),
    )
    budget = serializers.IntegerField(
        min_value=0,
        max_value=MAX_PRICE,
        required=False,
        allow_null=True,
        help_text="Cap on the project's committed spend (minor units): tasks are not served once it would "
        "be passed.",
    )


class ProjectPatch(ProjectQualitySettings):
    name = serializers.CharField(max_length=200, required=False)
    domain = serializers.ChoiceField(choices=Domain.choices, required=False)
    params = serializers.DictField(required=False)
    instructions = serializers.CharField(allow_blank=True, required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=50, required=False)
    max_overlap = serializers.IntegerField(min_value=1, max_value=50, required=False)
    lease_seconds = serializers.IntegerField(min_value=30, max_value=86400, required=False)
    priority = serializers.IntegerField(min_value=-100, max_value=100, required=False)
    deadline = serializers.DateTimeField(required=False, allow_null=True)
    price_per_task = serializers.IntegerField(
        min_value=0, max_value=MAX_PRICE, required=False, allow_null=True
    )
    pay_per_answer = serializers.IntegerField(
        min_value=0, max_value=MAX_PRICE, required=False, allow_null=True
    )
    budget = serializers.IntegerField(min_value=0, max_value=MAX_PRICE, required=False, allow_null=True)


class ProjectOut(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "task_type",
            "domain",
            "params",
            "instructions",
            "overlap",
            "max_overlap",
            "consensus_method",
            "lease_seconds",
            "priority",
            "deadline",
            "price_per_task",
            "pay_per_answer",
            "status",
            "created_at",
            "updated_at",
            "gold_ratio",
            "gold_min_answers",
            "gold_accuracy_threshold",
            "confidence_threshold",
            "review_enabled",
            "review_share",
            "min_answer_ms",
            "fraud_flag_limit",
            "required_qualifications",
            "show_hypothesis",
            "serving_order",
        ]


class BatchIn(serializers.Serializer):
    project = serializers.UUIDField()
    name = serializers.CharField(max_length=200)
    callback_url = serializers.CharField(max_length=2000, allow_blank=True, default="")
    metadata = serializers.DictField(default=dict)


class BatchOut(serializers.ModelSerializer):
    project = serializers.UUIDField(source="project_id")

    class Meta:
        model = Batch
        fields = ["id", "name", "project", "status", "callback_url", "metadata", "created_at", "finalized_at"]


class TaskSpec(serializers.Serializer):
    """One task in a bulk create. Type-specific input goes in ``params``."""

    params = serializers.DictField(required=False)
    instruction = serializers.CharField(required=False, allow_blank=True)
    metadata = serializers.DictField(required=False)
    unique_id = serializers.CharField(required=False, max_length=200)
    callback_url = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    priority = serializers.IntegerField(required=False, min_value=-100, max_value=100)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    gold_answer = serializers.DictField(
        required=False,
        help_text="Makes this a gold task: its known answer (valid for the task type). Served at the "
        "project's gold ratio, never charged, never completed.",
    )
    hypothesis = serializers.DictField(
        required=False,
        help_text="Pre-labels (image, video, LiDAR and NER tasks): a model's annotations in the task type's "
        "answer shape, checked like an answer; the annotator starts from them when the project's "
        "show_hypothesis is on. Never counted as an answer.",
    )


@extend_schema_field(TaskSpec(many=True))
class TaskItemsField(serializers.ListField):
    """Items are validated one by one by the service, so an error names ``tasks[i].field``. The
    list is passed on as parsed (no per-item field: 10,000 of them cost more than the import)."""

    child = serializers.JSONField()

    def to_internal_value(self, data):
        if html.is_html_input(data):
            data = html.parse_html_list(data, default=[])
        if isinstance(data, str | Mapping) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not self.allow_empty and len(data) == 0:
            self.fail("empty")
        return list(data)


class TaskBulkIn(serializers.Serializer):
    project = serializers.UUIDField()
    batch = serializers.UUIDField(required=False, allow_null=True)
    tasks = TaskItemsField(min_length=1, help_text="Up to 10,000 tasks (more answers 400 too_many_tasks).")


class TaskOut(serializers.Serializer):
    """Scale's task object (docs/scale-compatibility.md §6), plus Quorum's counters."""

    task_id = serializers.UUIDField()
    type = serializers.CharField()
    status = serializers.CharField()
    project = serializers.CharField()
    project_id = serializers.UUIDField()
    batch = serializers.CharField(allow_null=True)
    batch_id = serializers.UUIDField(allow_null=True)
    instruction = serializers.CharField()
    params = serializers.DictField()
    metadata = serializers.DictField()
    tags = serializers.ListField(child=serializers.CharField())
    unique_id = serializers.CharField(required=False)
    callback_url = serializers.CharField()
    priority = serializers.IntegerField()
    overlap = serializers.IntegerField()
    answers_received = serializers.IntegerField()
    response = serializers.DictField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    is_test = serializers.BooleanField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    completed_at = serializers.CharField(allow_null=True)

    def to_representation(self, instance):
        return task_payload(instance)


class BulkResultItem(serializers.Serializer):
    task_id = serializers.UUIDField()
    unique_id = serializers.CharField(allow_null=True)
    created = serializers.BooleanField()


class BulkResultOut(serializers.Serializer):
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    tasks = BulkResultItem(many=True)


class CancelIn(serializers.Serializer):
    clear_unique_id = serializers.BooleanField(default=False)


class NextIn(serializers.Serializer):
    project = serializers.UUIDField(required=False, allow_null=True)
    resume = serializers.BooleanField(default=True, help_text="Return your live lease if you hold one.")


class ClaimIn(serializers.Serializer):
    claim_version = serializers.IntegerField(min_value=0, help_text="The fencing token from the claim.")


class SubmitIn(ClaimIn):
    answer = serializers.DictField(
        help_text='The answer, in the task type\'s shape (e.g. {"category": "car"}).'
    )


class WorkTaskOut(serializers.Serializer):
    """What an annotator sees of a task: what to label, never the client or other answers."""

    id = serializers.UUIDField()
    type = serializers.CharField()
    instruction = serializers.CharField()
    instructions = serializers.CharField(help_text="The project's instructions.")
    params = serializers.DictField()
    hypothesis = serializers.DictField(
        allow_null=True, help_text="Pre-labels to start from (when the project shows them), else null."
    )


_DATETIME = serializers.DateTimeField()


def _datetime(value):
    return None if value is None else _DATETIME.to_representation(value)


def assignment_data(obj: Assignment) -> dict:
    """``AssignmentOut``'s representation, built directly: the claim and every lease action answer
    with it, and DRF's per-instance field copying cost more CPU than the claim's SQL."""
    return {
        "id": str(obj.id),
        "status": obj.status,
        "claim_version": obj.claim_version,
        "leased_until": _datetime(obj.leased_until),
        "claimed_at": _datetime(obj.claimed_at),
        "task": {
            "id": str(obj.task_id),
            "type": obj.task.task_type,
            "instruction": obj.task.instruction,
            "instructions": obj.project.instructions,
            "params": obj.task.params,
            "hypothesis": prelabels.hypothesis_for_assignment(obj),
        },
    }


class AssignmentOut(serializers.ModelSerializer):
    """The schema of an assignment; the data comes from ``assignment_data``."""

    task = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = ["id", "status", "claim_version", "leased_until", "claimed_at", "task"]

    @extend_schema_field(WorkTaskOut)
    def get_task(self, obj):  # for the schema: to_representation builds the whole object
        return assignment_data(obj)["task"]

    def to_representation(self, instance):
        return assignment_data(instance)


class NextOut(serializers.Serializer):
    assignment = AssignmentOut(allow_null=True)
    resumed = serializers.BooleanField()


class SubmissionOut(serializers.Serializer):
    submission_id = serializers.UUIDField()
    assignment_id = serializers.UUIDField()
    task_status = serializers.CharField()
