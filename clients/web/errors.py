"""Readable errors on pages.

Services raise ``core.errors.DomainError``; the API renders it as JSON. On pages:

- ``form_error(form, error)``: a refused form submission is shown on the same form, with what the
  person typed kept. The error goes on the field it names (``details["field"]``) when the form has
  that field, else above the form.
- ``refused(request, error)``: a refused button (a POST that redirects back) shows the reason as an
  error message on the page it returns to; a missing object (404) stays an error page.
- ``DomainErrorPageMiddleware``: any other domain error raised by a page view (a missing or other
  tenant's object → 404, a role that may not → 403, …) becomes ``web/error.html`` with the error's
  status and message, never a stack trace or a JSON body.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.shortcuts import render

from core.errors import DomainError

API_PREFIXES = ("/api/", "/v1/")
TITLES = {
    400: "Request refused",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported file",
    429: "Too many requests",
}


# A message whose text after the field starts with one of these reads on as a sentence.
_VERBS = frozenset({"must", "is", "are", "cannot", "can", "should", "already"})
# A Python list of strings (``['car', 'bus']``) and a quoted string (``'x'``) in a message; index
# brackets (``box[0]``) are left alone.
PY_LIST = re.compile(r"""\[((?:'[^']*'|"[^"]*")(?:, (?:'[^']*'|"[^"]*"))*)\]""")
# Quotes that open after a non-word character and close before one: apostrophes (card's,
# annotators') are not quotes.
PY_QUOTED = re.compile(r"(?<!\w)'([^'\s][^']*?)'(?!\w)")


def plain(message: str) -> str:
    """Python reprs in a message as plain text: ``'x' is not one of ['car', 'bus']`` → ``“x” is not
    one of car, bus``."""
    message = PY_LIST.sub(lambda m: ", ".join(part.strip("'\"") for part in m.group(1).split(", ")), message)
    return PY_QUOTED.sub(lambda m: f"“{m.group(1)}”", message)


def readable(message: str, field: str | None = None) -> str:
    """A service message for a page. The API's messages start with the field they are about
    (``verdict: must be one of …``): on that field's own error the prefix is dropped (``Must be
    one of …``); elsewhere the field becomes words (``Verdict must be one of …``, or ``Price per
    task: the price …`` when the text does not read on); Python reprs become plain text (``plain``)."""
    message = plain(message)
    name, sep, rest = message.partition(": ")
    if (
        not sep
        or not name
        or " " in name
        or not name.replace("_", "").replace(".", "").replace("[", "").replace("]", "").isalnum()
    ):
        return message
    if field is not None and name == field:
        return rest[:1].upper() + rest[1:]
    words = name.replace("_", " ").replace(".", " ")
    words = words[:1].upper() + words[1:]
    verb = rest.split(" ", 1)[0]
    return f"{words} {rest}" if verb in _VERBS else f"{words}: {rest}"


def form_error(form: forms.Form, error: DomainError) -> forms.Form:
    field = error.details.get("field") if isinstance(error.details, dict) else None
    if field in form.fields:
        form.add_error(field, readable(error.message, field))
    else:
        form.add_error(None, readable(error.message))
    return form


def refused(request, error: DomainError) -> None:
    """A refused button (a POST that redirects back): the reason as an error message on the page
    it returns to. A missing object (404) stays an error page (re-raised for the middleware)."""
    if error.status_code == 404:
        raise error
    messages.error(request, readable(error.message))


def error_page(request, *, status: int, message: str, code: str = "", title: str | None = None):
    context = {"title": title or TITLES.get(status, "Error"), "message": message, "code": code}
    return render(request, "web/error.html", context, status=status)


class DomainErrorPageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DomainError) or request.path.startswith(API_PREFIXES):
            return None
        return error_page(
            request, status=exception.status_code, message=readable(exception.message), code=exception.code
        )


def csrf_failure(request, reason: str = ""):
    """A form sent without a valid CSRF token (typically a page left open past sign-out)."""
    return error_page(
        request,
        status=403,
        title="Form expired",
        code="csrf_failed",
        message="This form is out of date (your session may have ended). Reload the page and send it again.",
    )


def permission_denied(request, exception=None):
    """Django's own refusals on pages (the API renders its own)."""
    return error_page(
        request, status=403, message="You are not allowed to do this.", code="permission_denied"
    )
