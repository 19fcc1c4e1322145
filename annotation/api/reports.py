"""Staff: each annotator's effective hourly earnings, flagged against the fair-pay floor.

Mounted by ``config/urls.py`` at ``/api/v1/staff/reports/annotator-pay`` (this module is its own
URLconf: billing routes cannot point into annotation)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import reports
from billing import reports as billing_reports
from clients.api.access import caller_staff
from core.dbrouter import replica_view

PARAMETERS = [
    OpenApiParameter("from", str, required=True, description="First month, YYYY-MM (UTC)."),
    OpenApiParameter("to", str, required=True, description="Last month, YYYY-MM, included."),
    OpenApiParameter("currency", str, required=False, description="ISO 4217 code (default USD)."),
]


class AnnotatorPayReportView(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        summary="Staff: annotators' pay per active hour, flagged below the fair-pay floor",
    )
    @replica_view
    def get(self, request):
        caller_staff(request)
        period = billing_reports.period_parse(
            first=request.query_params.get("from"), last=request.query_params.get("to")
        )
        currency = billing_reports.currency_parse(request.query_params.get("currency"))
        return Response(reports.annotator_hourly_pay(period=period, currency=currency))


urlpatterns = [path("", AnnotatorPayReportView.as_view(), name="staff-report-annotator-pay")]
