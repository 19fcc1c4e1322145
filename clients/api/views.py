"""API keys and the delivery log (callbacks and webhooks) of the calling client."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from clients import selectors, services
from clients.api.access import caller_client
from clients.api.serializers import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut, DeliveryOut


class CreatedCursor(CursorPagination):
    ordering = "-created_at"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000


class ApiKeyListView(APIView):
    @extend_schema(responses=ApiKeyOut(many=True), summary="List the client's API keys (secrets are never shown again)")
    def get(self, request):
        keys = selectors.api_key_list_for_client(client=caller_client(request))
        return Response({"results": ApiKeyOut(keys, many=True).data})

    @extend_schema(request=ApiKeyIn, responses={201: ApiKeyCreatedOut}, summary="Create an API key (the key is shown once)")
    def post(self, request):
        client = caller_client(request)
        data = ApiKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        creator = None if getattr(request.user, "api_key", None) else request.user
        issued = services.api_key_create(client=client, created_by=creator, **data.validated_data)
        body = ApiKeyOut(issued.obj).data | {"key": issued.key}
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyRevokeView(APIView):
    @extend_schema(request=None, responses=ApiKeyOut, summary="Revoke an API key (401 from the next request on)")
    def post(self, request, key_id):
        api_key = services.api_key_revoke(client=caller_client(request), api_key_id=key_id)
        return Response(ApiKeyOut(api_key).data)


class DeliveryListView(APIView):
    @extend_schema(responses=DeliveryOut(many=True), summary="The delivery log: task callbacks and webhooks, newest first")
    def get(self, request):
        paginator = CreatedCursor()
        page = paginator.paginate_queryset(selectors.delivery_list_for_client(client=caller_client(request)), request, view=self)
        return paginator.get_paginated_response(DeliveryOut(page, many=True).data)
