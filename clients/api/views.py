"""API keys and the delivery log (callbacks and webhooks) of the calling client."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from clients import selectors, services
from clients.api.access import ADMIN, caller_client, caller_is_test_mode
from clients.api.serializers import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut, ClientCredentialsOut, DeliveryOut
from core import strict
from core.pagination import NewestFirstCursor, paginated_response


class ApiKeyListView(APIView):
    pagination_class = NewestFirstCursor

    @extend_schema(
        responses=ApiKeyOut(many=True), summary="List the client's API keys (secrets are never shown again)"
    )
    def get(self, request):
        keys = selectors.api_key_list_for_client(client=caller_client(request, ADMIN))
        return paginated_response(request=request, view=self, queryset=keys, serializer_class=ApiKeyOut)

    @extend_schema(
        request=ApiKeyIn,
        responses={201: ApiKeyCreatedOut},
        summary="Create an API key (the key is shown once)",
    )
    def post(self, request):
        client = caller_client(request, ADMIN)
        data = strict.validated(ApiKeyIn, request.data)
        creator = None if getattr(request.user, "api_key", None) else request.user
        issued = services.api_key_create(client=client, created_by=creator, actor=request.user, **data)
        body = ApiKeyOut(issued.obj).data | {"key": issued.key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeView(APIView):
    @extend_schema(
        request=None, responses=ApiKeyOut, summary="Revoke an API key (401 from the next request on)"
    )
    def post(self, request, key_id):
        api_key = services.api_key_revoke(
            client=caller_client(request, ADMIN), actor=request.user, api_key_id=key_id
        )
        return Response(ApiKeyOut(api_key).data)


class DeliveryListView(APIView):
    pagination_class = NewestFirstCursor

    @extend_schema(
        responses=DeliveryOut(many=True),
        summary="The delivery log: task callbacks and webhooks, newest first",
    )
    def get(self, request):
        deliveries = selectors.delivery_list_for_client(
            client=caller_client(request), is_test=caller_is_test_mode(request)
        )
        return paginated_response(
            request=request, view=self, queryset=deliveries, serializer_class=DeliveryOut
        )


class ClientCredentialsView(APIView):
    @extend_schema(
        responses=ClientCredentialsOut,
        summary="The calling client and its callback credentials (live keys, owners and admins)",
        description=(
            "`callback_signing_secret` verifies the Standard Webhooks signature of task callbacks; "
            "`callback_auth_key` is sent as the `scale-callback-auth` header."
        ),
    )
    def get(self, request):
        return Response(ClientCredentialsOut(caller_client(request, ADMIN)).data)
