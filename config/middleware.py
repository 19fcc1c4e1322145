"""Response headers for API data.

``JsonPolicyMiddleware`` gives every JSON response the fixed policy a document that is only data
needs, ``default-src 'none'; frame-ancestors 'none'`` (nothing in it may load or run, and no page
may frame it), and marks it so that django-csp's middleware, which builds the pages' policy from
settings at every response, skips it. Pages keep the policy of ``CONTENT_SECURITY_POLICY``. It sits
after ``csp.middleware.CSPMiddleware`` in ``MIDDLEWARE``, so it sees the response first.
"""

from __future__ import annotations

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
