"""Response headers for API data, and a shorter middleware chain for API requests that carry a key.

``JsonPolicyMiddleware`` gives every JSON response the fixed policy a document that is only data
needs, ``default-src 'none'; frame-ancestors 'none'`` (nothing in it may load or run, and no page
may frame it), and marks it so that ``CSPMiddleware`` below (django-csp's, which builds the pages'
policy from settings at every response) skips it without building a policy it would not use. Pages
keep the policy of ``CONTENT_SECURITY_POLICY``. ``JsonPolicyMiddleware`` sits after
``CSPMiddleware`` in ``MIDDLEWARE``, so it sees the response first.

``ApiFastPathMiddleware``, first in ``MIDDLEWARE``, sends an API request that carries its own credentials in
the ``Authorization`` header through a chain without the middleware that only pages need (``PAGE_ONLY``). Such
a request is authenticated by its key alone: DRF never reaches session authentication for it
(``BearerTokenAuthentication`` answers or refuses a ``Bearer`` header, and the Scale API has no session
authentication at all), so a session, the session's user, CSRF (which DRF enforces only for session
authentication), messages, sign-in lockout (django-axes acts on ``authenticate()``, which keys never go
through), static files and the pages' domain-error page (it leaves API paths alone) do nothing for it but cost
CPU on every request. Everything else in ``MIDDLEWARE`` stays, in its order: the security headers, the slash
and 404 handling, clickjacking, both policies above, and the read-your-writes pin when a replica is
configured, so the responses are the same bytes (tests/security/test_api_fast_path.py compares them). Requests
that may render the browsable API (an HTML ``Accept`` or a ``format=`` query) and everything else take the
whole chain.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string

JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


class JsonPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("application/json"):
            response.headers.setdefault("Content-Security-Policy", JSON_POLICY)
            response._csp_exempt = True
            response._csp_exempt_ro = True
        return response


class CSPMiddleware(_CSPMiddleware):
    """django-csp's middleware, returning at once for a response exempt from both policies."""

    def process_response(self, request, response):
        if getattr(response, "_csp_exempt", False) and getattr(response, "_csp_exempt_ro", False):
            return response
        return super().process_response(request, response)


# What a request with its own credentials does not need (the module docstring says why, one by one).
PAGE_ONLY = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "clients.web.errors.DomainErrorPageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)
# Path prefix → the Authorization schemes its views authenticate without a session. The native API
# also takes session authentication (the portal's pages call it), which a Basic header would fall
# through to; the Scale-compatible API takes Basic or Bearer and nothing else.
KEY_SCHEMES = (("/api/v1/", ("bearer",)), ("/v1/", ("basic", "bearer")), ("/v2/", ("basic", "bearer")))


def carries_key(request) -> bool:
    """Whether ``request`` is an API request authenticated by its ``Authorization`` header alone."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if not header:
        return False
    path = request.path_info
    schemes = next((schemes for prefix, schemes in KEY_SCHEMES if path.startswith(prefix)), None)
    if schemes is None:
        return False
    # The schemes are matched as the authentication classes match them (case-insensitive, up to the
    # first space), so a request takes this path exactly when they will not look for a session.
    if header.partition(" ")[0].lower() not in schemes:
        return False
    # The browsable API is a page (forms with a CSRF token): it keeps the whole chain.
    return "html" not in request.META.get("HTTP_ACCEPT", "") and "format=" not in request.META.get(
        "QUERY_STRING", ""
    )


class _Chain(BaseHandler):
    """A middleware chain ending in Django's own view dispatch, loaded once as
    ``BaseHandler.load_middleware`` loads ``MIDDLEWARE`` (synchronous only, as the web server is
    WSGI). It has its own view, template-response and exception middleware lists."""

    def __init__(self, paths: list[str]) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(paths):
            middleware = import_string(path)
            if not getattr(middleware, "sync_capable", True):
                raise ImproperlyConfigured(f"{path} is not sync capable; the API fast path is synchronous")
            try:
                instance = middleware(handler)
            except MiddlewareNotUsed:
                continue
            if instance is None:
                raise ImproperlyConfigured(f"Middleware factory {path} returned None.")
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, self.adapt_method_mode(False, instance.process_view))
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(
                    self.adapt_method_mode(False, instance.process_template_response)
                )
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(self.adapt_method_mode(False, instance.process_exception))
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class ApiFastPathMiddleware:
    """First in ``MIDDLEWARE``: a request that ``carries_key`` goes through the middleware below this
    one less ``PAGE_ONLY``; every other request through all of them (the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        own = f"{type(self).__module__}.{type(self).__qualname__}"
        below = settings.MIDDLEWARE[settings.MIDDLEWARE.index(own) + 1 :]
        self.fast_paths = [path for path in below if path not in PAGE_ONLY]
        self._fast = _Chain(self.fast_paths)._middleware_chain

    def __call__(self, request):
        if carries_key(request):
            return self._fast(request)
        return self.get_response(request)
