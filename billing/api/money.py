"""Money moves through the API: staff record top-ups, payments, credit limits and refunds;
annotators request payouts. Each POST needs an ``Idempotency-Key``."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors, services
from billing.idempotency import HEADER, idempotent
from billing.models import Payout
from billing.web import downloads
from clients.api.access import ADMIN, caller_client, caller_staff
from clients.auth import ClientPrincipal
from clients.models import Client
from core import strict
from core.errors import NotFound, PermissionDenied, ValidationFailed

MAX = services.MAX_AMOUNT
IDEMPOTENCY = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="A unique key per operation (e.g. a UUID); a retry with the same key replays the result.",
)


def _parse(serializer_class, request):
    return strict.validated(serializer_class, request.data)


def _client(client_id) -> Client:
    try:
        return Client.objects.get(pk=client_id)
    except (Client.DoesNotExist, ValueError) as exc:
        raise NotFound("Client not found.") from exc


class AmountIn(serializers.Serializer):
    amount = serializers.IntegerField(
        min_value=1, max_value=MAX, help_text="Minor units of the client's currency."
    )
    reference = serializers.CharField(max_length=200, allow_blank=True, default="")


class TransactionOut(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()


def _tx_out(ltx, amount: int, currency: str) -> dict:
    return TransactionOut(
        {"id": ltx.id, "kind": ltx.kind, "amount": amount, "currency": currency, "created_at": ltx.created_at}
    ).data


class BalanceOut(serializers.Serializer):
    currency = serializers.CharField()
    receivable = serializers.IntegerField(
        help_text="Owed for delivered work (charges less refunds and payments)."
    )
    funds = serializers.IntegerField(help_text="Deposited and not yet applied.")
    committed = serializers.IntegerField(
        help_text="Price of started live tasks: charged, or reserved while pending."
    )
    received = serializers.IntegerField(help_text="Top-ups, payments and refunds credited so far.")
    credit_limit = serializers.IntegerField(allow_null=True, help_text="null: no limit.")
    available = serializers.IntegerField(
        allow_null=True, help_text="What may still be committed; null: no limit."
    )


class StaffTopupView(APIView):
    @extend_schema(
        request=AmountIn,
        responses=TransactionOut,
        parameters=[IDEMPOTENCY],
        summary="Staff: record a client's top-up",
    )
    @idempotent(authorize=caller_staff)
    def post(self, request, client_id, idempotency_key):
        staff = caller_staff(request)
        data = _parse(AmountIn, request)
        client = _client(client_id)
        ltx = services.topup_record(
            client=client,
            amount=data["amount"],
            reference=data["reference"],
            key=f"topup:{idempotency_key}",
            actor=staff,
        )
        return Response(_tx_out(ltx, data["amount"], client.currency))


class StaffPaymentView(APIView):
    @extend_schema(
        request=AmountIn,
        responses=TransactionOut,
        parameters=[IDEMPOTENCY],
        summary="Staff: record a payment received from a client",
    )
    @idempotent(authorize=caller_staff)
    def post(self, request, client_id, idempotency_key):
        staff = caller_staff(request)
        data = _parse(AmountIn, request)
        client = _client(client_id)
        ltx = services.payment_record(
            client=client,
            amount=data["amount"],
            reference=data["reference"],
            key=f"payment:{idempotency_key}",
            actor=staff,
        )
        return Response(_tx_out(ltx, data["amount"], client.currency))


class RefundIn(serializers.Serializer):
    task_id = serializers.UUIDField()
    amount = serializers.IntegerField(min_value=1, max_value=MAX)
    reason = serializers.CharField(max_length=300, allow_blank=True, default="")


class StaffRefundView(APIView):
    @extend_schema(
        request=RefundIn,
        responses=TransactionOut,
        parameters=[IDEMPOTENCY],
        summary="Staff: refund all or part of a task's charge",
    )
    @idempotent(authorize=caller_staff)
    def post(self, request, client_id, idempotency_key):
        staff = caller_staff(request)
        data = _parse(RefundIn, request)
        client = _client(client_id)
        ltx = services.task_refund(
            client=client,
            task_id=data["task_id"],
            amount=data["amount"],
            reason=data["reason"],
            key=f"refund:{idempotency_key}",
            actor=staff,
        )
        return Response(_tx_out(ltx, data["amount"], client.currency))


class CreditIn(serializers.Serializer):
    credit_limit = serializers.IntegerField(min_value=0, max_value=MAX, allow_null=True)


class StaffCreditView(APIView):
    @extend_schema(
        request=CreditIn, responses=BalanceOut, summary="Staff: set a client's credit limit (null: none)"
    )
    def post(self, request, client_id):
        staff = caller_staff(request)
        data = _parse(CreditIn, request)
        client = _client(client_id)
        services.credit_limit_set(client=client, credit_limit=data["credit_limit"], actor=staff)
        return Response(selectors.client_balance(client=client))


class BalanceView(APIView):
    @extend_schema(responses=BalanceOut, summary="The client's money position, in minor units")
    def get(self, request):
        return Response(selectors.client_balance(client=caller_client(request, ADMIN)))


class BudgetListView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "ProjectBudget",
            {
                "project_id": serializers.UUIDField(),
                "budget": serializers.IntegerField(allow_null=True),
                "committed": serializers.IntegerField(),
            },
            many=True,
        ),
        summary="Budgets and committed spend of the client's projects",
    )
    def get(self, request):
        client = caller_client(request, ADMIN)
        return Response(selectors.client_project_budgets(client=client))


class PayoutIn(serializers.Serializer):
    amount = serializers.IntegerField(
        min_value=1,
        max_value=MAX,
        required=False,
        help_text="Minor units; absent: the whole payable balance.",
    )
    currency = serializers.CharField(min_length=3, max_length=3, default="USD")


class PayoutOut(serializers.ModelSerializer):
    class Meta:
        model = Payout
        fields = ["id", "amount", "currency", "status", "period_start", "period_end", "created_at"]


def _annotator_user(request):
    """The user behind a personal access token (or a session): never a client key."""
    user = request.user
    if isinstance(user, ClientPrincipal):
        raise PermissionDenied(
            "This endpoint is for annotators (a personal access token).", code="annotator_only"
        )
    return user


class MyPayoutsView(APIView):
    """An annotator's payouts (personal access token)."""

    @extend_schema(responses=PayoutOut(many=True), summary="Annotator: my payouts, newest first")
    def get(self, request):
        user = _annotator_user(request)
        return Response(
            PayoutOut(Payout.objects.filter(user=user).order_by("-created_at")[:100], many=True).data
        )

    @extend_schema(
        request=PayoutIn,
        responses=PayoutOut,
        parameters=[IDEMPOTENCY],
        summary="Annotator: pay out my payable balance (or part of it)",
    )
    @idempotent(authorize=_annotator_user)
    def post(self, request, idempotency_key):
        user = _annotator_user(request)
        data = _parse(PayoutIn, request)
        payout = services.payout_create(
            user_id=user.pk,
            currency=data["currency"],
            amount=data.get("amount"),
            key=f"payout:{idempotency_key}",
            actor=user,
        )
        return Response(PayoutOut(payout).data)


class MyEarningsView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Payable", {"currency": serializers.CharField(), "payable": serializers.IntegerField()}
        ),
        summary="Annotator: what the platform owes me",
    )
    def get(self, request):
        user = _annotator_user(request)
        currency = request.query_params.get("currency", "USD")
        if len(currency) != 3:
            raise ValidationFailed(
                "currency: an ISO 4217 code", code="invalid_currency", details={"field": "currency"}
            )
        return Response(
            {"currency": currency, "payable": selectors.payable_balance(user_id=user.pk, currency=currency)}
        )


class StaffPayoutCsvView(APIView):
    """The payouts of a period as CSV, for a payment provider's bulk upload."""

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="first day, YYYY-MM-DD (UTC)", required=True),
            OpenApiParameter("to", str, description="day after the last, YYYY-MM-DD (UTC)", required=True),
        ],
        responses={(200, "text/csv"): str},
        summary="Staff: payouts made in [from, to) as CSV",
    )
    def get(self, request):
        caller_staff(request)
        start, end = _day(request, "from"), _day(request, "to")
        if end <= start:
            raise ValidationFailed("to: must be after from", code="invalid_period", details={"field": "to"})
        return downloads.csv_response(
            f"payouts-{start}-{end}.csv",
            [
                "payout_id",
                "created_at",
                "payee_email",
                "payee_id",
                "amount_minor",
                "amount",
                "currency",
                "status",
                "period_start",
                "period_end",
            ],
            (
                [
                    p.id,
                    p.created_at.isoformat(),
                    p.user.email,
                    p.user_id,
                    p.amount,
                    downloads.money_decimal(p.amount, p.currency),
                    p.currency,
                    p.status,
                    p.period_start or "",
                    p.period_end or "",
                ]
                for p in selectors.payouts_between(start=start, end=end)
            ),
        )


def _day(request, name: str) -> date:
    raw = request.query_params.get(name, "")
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationFailed(
            f"{name}: a date as YYYY-MM-DD", code="invalid_period", details={"field": name}
        ) from exc
