"""Wiring-level views: the landing page, a health check, and JSON error pages for the API."""

from django.db import connection
from django.http import HttpResponse, JsonResponse

from config.exceptions import error_body

API_PREFIXES = ("/api/", "/v1/")


def home(request):
    return HttpResponse(
        "<!doctype html><title>Quorum</title><h1>Quorum</h1>"
        "<p>An open-source data-annotation marketplace.</p>"
        '<ul><li><a href="/api/docs/">API documentation</a></li>'
        '<li><a href="/api/schema/">OpenAPI schema</a></li>'
        '<li><a href="/admin/">Admin console</a></li></ul>'
    )


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _scale_error(status: int, message: str) -> JsonResponse:
    """The Scale-compatible API's error shape (SCALE_COMPAT.md §3): a JSON object the SDK reads."""
    return JsonResponse({"status_code": status, "error": message}, status=status)


def not_found(request, exception=None):
    if request.path.startswith("/v1/"):
        return _scale_error(404, f"No endpoint at {request.path}.")
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    return HttpResponse("<!doctype html><title>Not found</title><h1>Not found</h1>", status=404)


def server_error(request):
    if request.path.startswith("/v1/"):
        return _scale_error(500, "Internal server error; it has been logged.")
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(error_body("server_error", "Internal server error; it has been logged."), status=500)
    return HttpResponse("<!doctype html><title>Server error</title><h1>Server error</h1>", status=500)
