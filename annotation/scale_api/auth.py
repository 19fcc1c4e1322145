"""Authentication for ``/v1/``: HTTP Basic with the API key as the user name and an empty
password, as the Scale SDK sends it (``Authorization: Basic base64("<key>:")``). ``Bearer <key>``
is accepted too. Only client API keys (``qk_live_…`` / ``qk_test_…``) are valid here."""

from __future__ import annotations

import base64
import binascii

from rest_framework import authentication, exceptions

from clients.auth import ClientPrincipal, authenticate_key


class ScaleKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from exc
            key = decoded.partition(":")[0]
        elif scheme.lower() == "bearer":
            key = credentials
        else:
            raise exceptions.AuthenticationFailed("Use HTTP Basic auth with your API key as the user name.")
        if not key:
            raise exceptions.AuthenticationFailed("Please provide a valid API key.")
        principal, api_key = authenticate_key(key)
        if not isinstance(principal, ClientPrincipal):
            raise exceptions.AuthenticationFailed("This API needs a client API key (qk_live_… or qk_test_…).")
        return principal, api_key

    def authenticate_header(self, request) -> str:
        return 'Basic realm="quorum"'
