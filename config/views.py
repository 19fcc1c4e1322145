"""Wiring-level views: the home redirect by role, a health check, and error pages (JSON for the
API, ``web/error.html`` for pages)."""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from clients.web.errors import error_page
from config import health
from config.exceptions import error_body

API_PREFIXES = ("/api/", "/v1/")


def home(request):
    """Each person to their area: staff → /ops/, client members → /portal/, annotators → /work/."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "web/landing.html")
    if user.is_staff:
        return redirect("/ops/")
    if user.memberships.filter(client__is_active=True).exists():
        return redirect("/portal/")
    if hasattr(user, "annotator"):
        return redirect("/work/")
    return error_page(
        request,
        status=403,
        title="No access yet",
        code="no_role",
        message="Your account is not a member of any client, an annotator or staff. Ask an administrator "
        "for access.",
    )


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _scale_error(status: int, message: str) -> JsonResponse:
    """The Scale-compatible API's error shape (docs/scale-compatibility.md §3): a JSON object the
    SDK reads."""
    return JsonResponse({"status_code": status, "error": message}, status=status)


def not_found(request, exception=None):
    if request.path.startswith("/v1/"):
        return _scale_error(404, f"No endpoint at {request.path}.")
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    return error_page(
        request,
        status=404,
        message="There is nothing at this address, or it is not yours to see.",
        code="not_found",
    )


def server_error(request):
    if health.current_exception_is_database_unavailable():  # 503 + Retry-After, not 500
        if request.path.startswith("/v1/"):
            return health.unavailable_api_response({"status_code": 503, "error": health.MESSAGE})
        if request.path.startswith(API_PREFIXES):
            return health.unavailable_api_response(error_body("database_unavailable", health.MESSAGE))
        return health.unavailable_page()
    if request.path.startswith("/v1/"):
        return _scale_error(500, "Internal server error; it has been logged.")
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(
            error_body("server_error", "Internal server error; it has been logged."), status=500
        )
    return HttpResponse("<!doctype html><title>Server error</title><h1>Server error</h1>", status=500)
