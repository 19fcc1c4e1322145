"""Billing reads for the calling client (the billing issue adds usage and invoices)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.selectors import client_balance
from clients.api.access import ADMIN, caller_client


class BalanceView(APIView):
    @extend_schema(
        responses=inline_serializer("Balance", {"currency": serializers.CharField(), "receivable": serializers.IntegerField()}),
        summary="What the client owes for completed live tasks, in minor units",
    )
    def get(self, request):
        return Response(client_balance(client=caller_client(request, ADMIN)))
