"""What every ``/v1/`` view shares: authentication, parsing, the error shape, and the caller."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import tasktypes
from annotation.models import TaskType
from annotation.scale_api.auth import ScaleKeyAuthentication
from annotation.scale_api.errors import scale_exception_handler
from clients.api.access import READ, caller_client, caller_is_test_mode
from core.errors import DomainError, NotFound
from core.parsers import StrictJSONParser


def supported_task_types() -> list[str]:
    """The task types Quorum runs: those of ``TaskType`` that ``annotation.tasktypes`` has a spec
    for. A type added there appears here (and stops answering 402) with no change to this API."""
    supported = []
    for value in TaskType.values:
        try:
            tasktypes.spec_for(value)
        except DomainError:
            continue
        supported.append(value)
    return sorted(supported)


@extend_schema(exclude=True)
class ScaleView(APIView):
    """Base of every ``/v1/`` view. Success is always 200 with a JSON body (the SDK treats 201
    and 204 as errors). Left out of the native OpenAPI schema: docs/scale-compatibility.md documents it."""

    authentication_classes = [ScaleKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return scale_exception_handler

    def client(self, access: str = READ):
        return caller_client(self.request, access)

    @property
    def is_test(self) -> bool:
        return caller_is_test_mode(self.request)

    @staticmethod
    def ok(body) -> Response:
        return Response(body, status=200)


@extend_schema(exclude=True)
class UnknownRouteView(APIView):
    """Any other path under ``/v1/``: a Scale-shaped 404 for every method, before authentication,
    so nothing under ``/v1/`` ever falls through to an HTML page or a slash redirect."""

    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return scale_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound(f"No endpoint at {request.path}.")
