"""The container's health probe (Dockerfile ``HEALTHCHECK``): ``GET /readyz`` of the web process in it.

Exit 0 when it answers 200 (``ok`` or ``degraded``: docs/operations.md), 1 otherwise. The request
says it came over HTTPS (``X-Forwarded-Proto``, trusted by production settings behind a proxy), so
``SECURE_SSL_REDIRECT`` does not answer it with a redirect; the host is ``127.0.0.1``, which
``DJANGO_ALLOWED_HOSTS`` must list (compose.yaml does). Standard library only: the slim image has
no curl.
"""

import os
import sys
import urllib.request


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/readyz"
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:  # URLError, HTTPError (503), timeouts
        print(f"readyz: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
