"""Annotator API: the work an annotator may choose from (``GET /api/v1/work/projects``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors, work_selectors


class StandingOut(serializers.Serializer):
    status = serializers.CharField(help_text="new (never served here), active, removed or suspended.")
    answers = serializers.IntegerField(help_text="Your accepted answers in this project.")
    gold_accuracy = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(allow_null=True)


class QualificationRefOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class AvailableProjectOut(serializers.Serializer):
    project = serializers.UUIDField(help_text='Pass it to POST /api/v1/work/next as {"project": …}.')
    rank = serializers.IntegerField(help_text="Position in the platform's serving order (1 is tried first).")
    task_type = serializers.CharField()
    task_type_label = serializers.CharField()
    domain = serializers.CharField()
    domain_label = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField(), help_text="The classes you pick from.")
    summary = serializers.CharField(help_text="The first line of the project's instructions.")
    currency = serializers.CharField()
    pay_per_answer = serializers.IntegerField(help_text="Minor units; the highest pay among waiting tasks.")
    pay_per_answer_min = serializers.IntegerField()
    tasks_waiting = serializers.IntegerField(help_text="Tasks you could be served, counted up to 1000.")
    tasks_waiting_capped = serializers.BooleanField(help_text="True when there are 1000 or more.")
    lease_seconds = serializers.IntegerField()
    required_qualifications = QualificationRefOut(many=True)
    standing = StandingOut()


class AvailableProjectsOut(serializers.Serializer):
    results = AvailableProjectOut(many=True)


class WorkProjectsView(APIView):
    @extend_schema(
        responses=AvailableProjectsOut,
        summary="Projects you may work on, with pay, tasks waiting and your standing",
        description=(
            "The projects a claim may serve you (the same eligibility rules as POST /work/next: an "
            "active project whose required qualifications you hold, and that has not removed or "
            "suspended you), in the platform's serving order. Choose one by passing its id as "
            "`project` to POST /work/next; without it the platform's order applies."
        ),
    )
    def get(self, request):
        annotator = selectors.annotator_for_user(user=request.user)
        return Response({"results": work_selectors.available_projects(annotator=annotator)})
