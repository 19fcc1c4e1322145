"""OpenAPI description of Quorum's bearer keys (loaded by ClientsConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "clients.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A client API key (qk_live_… / qk_test_…) or an annotator's personal access "
            "token (qp_…).",
        }
