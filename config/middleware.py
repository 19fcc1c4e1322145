"""Response headers for API data.

``JsonPolicyMiddleware`` gives every JSON response the fixed policy a document that is only data
needs, ``default-src 'none'; frame-ancestors 'none'`` (nothing in it may load or run, and no page
may frame it), and marks it so that ``CSPMiddleware`` below (django-csp's, which builds the pages'
policy from settings at every response) skips it without building a policy it would not use. Pages
keep the policy of ``CONTENT_SECURITY_POLICY``. ``JsonPolicyMiddleware`` sits after
``CSPMiddleware`` in ``MIDDLEWARE``, so it sees the response first.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware as _CSPMiddleware

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
