"""Staff reports over the ledger: revenue per client per month, concentration, gross margin.

Query: ``from`` and ``to`` months (``YYYY-MM``, both included) and ``currency`` (default USD).
Money in minor units; shares and the HHI as exact fractions beside their roundings."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import reports
from clients.api.access import caller_staff
from core.dbrouter import replica_view

PARAMETERS = [
    OpenApiParameter("from", str, required=True, description="First month, YYYY-MM (UTC)."),
    OpenApiParameter("to", str, required=True, description="Last month, YYYY-MM, included."),
    OpenApiParameter("currency", str, required=False, description="ISO 4217 code (default USD)."),
]


def report_query(request) -> tuple[reports.Period, str]:
    """The period and currency of a report request; a bad one is a 400 that names the field."""
    caller_staff(request)
    period = reports.period_parse(first=request.query_params.get("from"), last=request.query_params.get("to"))
    return period, reports.currency_parse(request.query_params.get("currency"))


class RevenueReportView(APIView):
    @extend_schema(
        parameters=PARAMETERS, responses=OpenApiTypes.OBJECT, summary="Staff: revenue per client per month"
    )
    @replica_view
    def get(self, request):
        period, currency = report_query(request)
        return Response(
            {
                **period.as_dict(),
                "currency": currency,
                "rows": reports.revenue_by_client_month(period=period, currency=currency),
            }
        )


class ConcentrationReportView(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        summary="Staff: client shares of revenue, the largest share and the Herfindahl-Hirschman index",
    )
    @replica_view
    def get(self, request):
        period, currency = report_query(request)
        return Response(reports.concentration(period=period, currency=currency))


class MarginReportView(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses=OpenApiTypes.OBJECT,
        summary="Staff: gross margin per month (revenue, labor cost, platform cost, margin, basis points)",
    )
    @replica_view
    def get(self, request):
        period, currency = report_query(request)
        return Response(
            {
                **period.as_dict(),
                "currency": currency,
                "rows": reports.margin_by_month(period=period, currency=currency),
            }
        )
