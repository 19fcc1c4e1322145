"""Quality and workforce API: onboarding, qualification tests, review, client audit, project
quality figures, consensus recompute, and the staff routes that vet and restore annotators."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import quality_selectors, selectors, services
from annotation.models import Annotator, Project, Qualification, Review
from annotation.services import workforce
from clients.api.access import WRITE, caller_client, caller_is_test_mode, caller_staff
from core import strict
from core.dbrouter import replica_view
from core.errors import PermissionDenied, ValidationFailed


def _parse(serializer_class, data):
    return strict.validated(serializer_class, data)


ANY = OpenApiTypes.OBJECT

# --- serializers ---------------------------------------------------------------------------------------


class ApplyIn(serializers.Serializer):
    skills = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=50)
    domains = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=50)
    locales = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=50)


class AnnotatorOut(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Annotator
        fields = ["id", "email", "status", "is_reviewer", "skills", "domains", "locales", "created_at"]


class QuestionIn(serializers.Serializer):
    params = serializers.DictField(required=False)
    instruction = serializers.CharField(required=False, allow_blank=True)
    gold_answer = serializers.DictField()


class QualificationIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    task_type = serializers.CharField(max_length=40)
    domain = serializers.CharField(max_length=40, default="other")
    instructions = serializers.CharField(allow_blank=True, default="")
    params = serializers.DictField(default=dict, help_text="Label schema shared by the questions.")
    pass_mark = serializers.FloatField(min_value=0, max_value=1, default=0.8)
    retry_delay_seconds = serializers.IntegerField(min_value=0, max_value=90 * 86400, default=86400)
    questions = QuestionIn(many=True, required=False)
    gold_task_ids = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        max_length=200,
        help_text="Your gold tasks to copy as questions (client qualifications).",
    )


class QualificationOut(serializers.ModelSerializer):
    questions = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()

    class Meta:
        model = Qualification
        fields = [
            "id",
            "name",
            "domain",
            "task_type",
            "instructions",
            "params",
            "pass_mark",
            "retry_delay_seconds",
            "is_active",
            "questions",
            "scope",
            "created_at",
        ]

    def get_questions(self, obj) -> int:
        return getattr(obj, "n", None) if getattr(obj, "n", None) is not None else obj.questions.count()

    def get_scope(self, obj) -> str:
        return "platform" if obj.client_id is None else "client"


def _attempt_body(attempt) -> dict:
    question = workforce.attempt_next_question(attempt=attempt)
    q = attempt.qualification
    return {
        "id": str(attempt.pk),
        "qualification": str(q.pk),
        "status": attempt.status,
        "score": attempt.score,
        "pass_mark": q.pass_mark,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "answered": attempt.answers.count(),
        "questions": q.questions.count(),
        "next_question": None
        if question is None
        else {
            "id": str(question.pk),
            "type": q.task_type,
            "instruction": question.instruction,
            "instructions": q.instructions,
            "params": {**(q.params or {}), **(question.params or {})},
        },
    }


AttemptOut = inline_serializer(
    "QualificationAttempt",
    {
        "id": serializers.UUIDField(),
        "qualification": serializers.UUIDField(),
        "status": serializers.CharField(),
        "score": serializers.FloatField(allow_null=True),
        "pass_mark": serializers.FloatField(),
        "started_at": serializers.DateTimeField(),
        "finished_at": serializers.DateTimeField(allow_null=True),
        "answered": serializers.IntegerField(),
        "questions": serializers.IntegerField(),
        "next_question": serializers.JSONField(
            allow_null=True, help_text="id, type, instruction, instructions, params; null when over"
        ),
    },
)


class AttemptAnswerIn(serializers.Serializer):
    question_id = serializers.CharField()
    answer = serializers.DictField()


class VerdictIn(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices)
    corrected_answer = serializers.DictField(required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


def _review_body(review) -> dict:
    task = review.task
    return {
        "id": str(review.pk),
        "reason": review.reason,
        "status": review.status,
        "leased_until": review.leased_until,
        "task": {
            "id": str(task.pk),
            "type": task.task_type,
            "instruction": task.instruction,
            "instructions": review.project.instructions,
            "params": task.params,
        },
        "response": review.response,
        "confidence": review.confidence,
        "answers": services.review_answers(review=review),
    }


ReviewOut = inline_serializer(
    "ReviewItem",
    {
        "id": serializers.UUIDField(),
        "reason": serializers.CharField(),
        "status": serializers.CharField(),
        "leased_until": serializers.DateTimeField(),
        "task": serializers.JSONField(),
        "response": serializers.JSONField(),
        "confidence": serializers.FloatField(allow_null=True),
        "answers": serializers.JSONField(),
    },
)


class AuditIn(serializers.Serializer):
    accepted = serializers.BooleanField()
    comments = serializers.CharField(required=False, allow_blank=True, max_length=5000, allow_null=True)


class RecomputeIn(serializers.Serializer):
    method = serializers.ChoiceField(choices=Project.Consensus.choices, required=False)


class StatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=Annotator.Status.choices)
    reason = serializers.CharField(max_length=300)
    is_reviewer = serializers.BooleanField(required=False)


class StaffReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class GrantIn(StaffReasonIn):
    qualification = serializers.UUIDField()


# --- annotators ------------------------------------------------------------------------------------------


class ApplyView(APIView):
    @extend_schema(
        request=ApplyIn,
        responses={201: AnnotatorOut},
        summary="Apply to annotate (skills, domains, languages)",
    )
    def post(self, request):
        if (
            not getattr(request.user, "is_authenticated", False)
            or getattr(request.user, "api_key", None) is not None
        ):
            raise PermissionDenied("Sign in, or use a personal access token, to apply.", code="user_required")
        annotator = services.annotator_apply(user=request.user, **_parse(ApplyIn, request.data or {}))
        return Response(AnnotatorOut(annotator).data, status=status.HTTP_201_CREATED)


class ProfileView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "AnnotatorProfile",
            {
                "annotator": AnnotatorOut(),
                "projects": serializers.JSONField(),
                "qualifications": serializers.JSONField(),
            },
        ),
        summary="Your status, your figures per project and your qualifications",
    )
    def get(self, request):
        annotator = selectors.annotator_for_user(user=request.user)
        return Response(
            {
                "annotator": AnnotatorOut(annotator).data,
                "projects": quality_selectors.annotator_stats(annotator=annotator),
                "qualifications": [
                    q
                    for q in quality_selectors.qualifications_for_annotator(annotator=annotator)
                    if q["state"] == "held"
                ],
            }
        )


class MyQualificationsView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Qualification tests and your state in each")
    def get(self, request):
        annotator = selectors.annotator_for_user(user=request.user)
        return Response({"results": quality_selectors.qualifications_for_annotator(annotator=annotator)})


class AttemptStartView(APIView):
    @extend_schema(
        request=None, responses={201: AttemptOut}, summary="Start (or resume) a qualification test"
    )
    def post(self, request, qualification_id):
        annotator = selectors.annotator_for_user(user=request.user)
        attempt = services.qualification_attempt_start(annotator=annotator, qualification_id=qualification_id)
        return Response(_attempt_body(attempt), status=status.HTTP_201_CREATED)


class AttemptView(APIView):
    @extend_schema(responses=AttemptOut, summary="A test attempt and its next question")
    def get(self, request, attempt_id):
        annotator = selectors.annotator_for_user(user=request.user)
        return Response(_attempt_body(workforce.attempt_get(annotator=annotator, attempt_id=attempt_id)))


class AttemptAnswerView(APIView):
    @extend_schema(request=AttemptAnswerIn, responses=AttemptOut, summary="Answer one question of a test")
    def post(self, request, attempt_id):
        annotator = selectors.annotator_for_user(user=request.user)
        data = _parse(AttemptAnswerIn, request.data)
        attempt = services.qualification_attempt_answer(annotator=annotator, attempt_id=attempt_id, **data)
        return Response(_attempt_body(workforce.attempt_get(annotator=annotator, attempt_id=attempt.pk)))


class ReviewNextView(APIView):
    @extend_schema(
        request=None,
        responses=inline_serializer("ReviewNext", {"review": ReviewOut}),
        summary="Reviewers: your review in progress, or the next one (null when the queue is empty)",
    )
    def post(self, request):
        annotator = selectors.annotator_for_user(user=request.user)
        review = services.review_next(reviewer=annotator)
        return Response({"review": None if review is None else _review_body(review)})


class ReviewVerdictView(APIView):
    @extend_schema(
        request=VerdictIn,
        responses=ReviewOut,
        summary="Reviewers: accept, fix (with corrected_answer) or reject",
    )
    def post(self, request, review_id):
        annotator = selectors.annotator_for_user(user=request.user)
        review = services.review_decide(
            reviewer=annotator, review_id=review_id, **_parse(VerdictIn, request.data)
        )
        return Response(_review_body(review))


# --- clients ---------------------------------------------------------------------------------------------


class ProjectQualityView(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Quality figures: agreement (Krippendorff's alpha), review, "
        "per-annotator gold accuracy and agreement (pseudonymous)",
    )
    @replica_view
    def get(self, request, project_id):
        project = selectors.project_get_for_client(client=caller_client(request), project_id=project_id)
        return Response(quality_selectors.project_quality(project=project))


class ProjectRecomputeView(APIView):
    @extend_schema(
        request=RecomputeIn,
        responses=OpenApiTypes.OBJECT,
        summary="Recompute the consensus of every completed task (replaces stored responses)",
    )
    def post(self, request, project_id):
        project = selectors.project_get_for_client(
            client=caller_client(request, WRITE), project_id=project_id
        )
        data = _parse(RecomputeIn, request.data or {})
        return Response(
            services.project_consensus_recompute(
                project=project, actor=request.user, method=data.get("method")
            )
        )


class TaskAuditView(APIView):
    @extend_schema(
        request=AuditIn,
        responses=OpenApiTypes.OBJECT,
        summary="Audit a completed task: accept, or reject to send it back for rework at the platform's cost",
    )
    def post(self, request, task_id):
        client = caller_client(request, WRITE)
        data = _parse(AuditIn, request.data)
        audit = services.task_audit(
            client=client,
            actor=request.user,
            task_id=task_id,
            accepted=data["accepted"],
            comments=data.get("comments"),
            is_test=caller_is_test_mode(request),
        )
        task = audit.task
        return Response(
            {
                "audit_id": str(audit.pk),
                "accepted": audit.accepted,
                "task_status": task.status,
                "rework_round": task.rework_round,
            },
            status=status.HTTP_201_CREATED,
        )


class QualificationListView(APIView):
    @extend_schema(
        responses=QualificationOut(many=True), summary="Your qualification tests and the platform-wide ones"
    )
    def get(self, request):
        rows = quality_selectors.qualification_list_for_client(client=caller_client(request))
        return Response({"results": QualificationOut(rows, many=True).data})

    @extend_schema(
        request=QualificationIn, responses={201: QualificationOut}, summary="Create a qualification test"
    )
    def post(self, request):
        client = caller_client(request, WRITE)
        qualification = services.qualification_create(
            client=client, actor=request.user, **_parse(QualificationIn, request.data)
        )
        return Response(QualificationOut(qualification).data, status=status.HTTP_201_CREATED)


# --- staff -------------------------------------------------------------------------------------------------


class StaffAnnotatorListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Annotator.Status.values)],
        responses=AnnotatorOut(many=True),
        summary="Annotators, optionally by status (e.g. applicants to vet)",
    )
    def get(self, request):
        caller_staff(request)
        wanted = request.query_params.get("status")
        if wanted and wanted not in Annotator.Status.values:
            raise ValidationFailed(
                f"status: must be one of {', '.join(Annotator.Status.values)}", code="invalid_status"
            )
        return Response(
            {"results": AnnotatorOut(quality_selectors.annotator_list(status=wanted), many=True).data}
        )


class StaffAnnotatorStatusView(APIView):
    @extend_schema(
        request=StatusIn,
        responses=AnnotatorOut,
        summary="Vet, suspend, ban or restore an annotator, with a reason",
    )
    def post(self, request, annotator_id):
        staff = caller_staff(request)
        data = _parse(StatusIn, request.data)
        annotator = services.annotator_set_status(
            annotator_id=annotator_id,
            status=data["status"],
            reason=data["reason"],
            actor=staff,
            is_reviewer=data.get("is_reviewer"),
        )
        return Response(AnnotatorOut(annotator).data)


class StaffGrantView(APIView):
    @extend_schema(
        request=GrantIn, responses=OpenApiTypes.OBJECT, summary="Grant a qualification without the test"
    )
    def post(self, request, annotator_id):
        staff = caller_staff(request)
        data = _parse(GrantIn, request.data)
        held = services.qualification_grant(
            annotator_id=annotator_id,
            qualification_id=data["qualification"],
            reason=data["reason"],
            actor=staff,
        )
        return Response(
            {
                "annotator": str(held.annotator_id),
                "qualification": str(held.qualification_id),
                "source": held.source,
            },
            status=status.HTTP_201_CREATED,
        )


class StaffRevokeView(APIView):
    @extend_schema(request=StaffReasonIn, responses=OpenApiTypes.OBJECT, summary="Revoke a qualification")
    def post(self, request, annotator_id, qualification_id):
        staff = caller_staff(request)
        data = _parse(StaffReasonIn, request.data)
        held = services.qualification_revoke(
            annotator_id=annotator_id, qualification_id=qualification_id, reason=data["reason"], actor=staff
        )
        return Response(
            {
                "annotator": str(held.annotator_id),
                "qualification": str(held.qualification_id),
                "revoked_at": held.revoked_at,
            }
        )


class StaffQualificationView(APIView):
    @extend_schema(
        request=QualificationIn,
        responses={201: QualificationOut},
        summary="Create a platform-wide qualification test",
    )
    def post(self, request):
        staff = caller_staff(request)
        qualification = services.qualification_create(
            client=None, actor=staff, **_parse(QualificationIn, request.data)
        )
        return Response(QualificationOut(qualification).data, status=status.HTTP_201_CREATED)


class StaffProjectQualityView(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="A project's quality figures with annotator ids and reasons"
    )
    def get(self, request, project_id):
        caller_staff(request)
        project = quality_selectors.project_for_staff(project_id=project_id)
        return Response(quality_selectors.project_quality(project=project, reveal_annotators=True))


def _worker_view(service, summary: str):
    class WorkerView(APIView):
        @extend_schema(request=StaffReasonIn, responses=OpenApiTypes.OBJECT, summary=summary)
        def post(self, request, project_id, annotator_id):
            staff = caller_staff(request)
            data = _parse(StaffReasonIn, request.data)
            worker = service(
                project_id=project_id, annotator_id=annotator_id, reason=data["reason"], actor=staff
            )
            return Response(
                {
                    "project": str(worker.project_id),
                    "annotator": str(worker.annotator_id),
                    "status": worker.status,
                    "reason": worker.reason,
                }
            )

    WorkerView.__name__ = service.__name__.title().replace("_", "") + "View"
    return WorkerView


StaffWorkerRemoveView = _worker_view(
    services.worker_remove, "Remove an annotator from a project, with a reason"
)
StaffWorkerRestoreView = _worker_view(
    services.worker_restore, "Restore an annotator removed or suspended from a project (appeal)"
)
