"""Attachment URLs: an allow-list of schemes, checked wherever params hold a URL an annotator's
browser will open.

Allowed: ``http://`` and ``https://`` URLs with a host, and the platform's own relative paths under
``MEDIA_URL`` (uploaded attachments) and ``STATIC_URL`` (the demo images). Everything else is a 400
``invalid_params`` naming the field: ``javascript:``, ``data:``, ``file:``, ``ftp:``, protocol-relative
``//host`` and backslash tricks (``/\\host`` is ``//host`` to a browser), and URLs with control
characters or spaces.

Where a URL is expected: ``attachment`` (unless ``attachment_type`` is ``text``, where it is the
text itself; a categorization attachment without a type is text, as the workspace shows it),
``frames`` (strings or objects with ``url``) and
text collection ``attachments[i].content`` (unless its ``type`` is ``text``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from core.errors import ValidationFailed

_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
# The common case, an http(s) URL with a plain host name or address (and a port), taken without
# ``urlsplit``, which parses it into five parts (a bulk import checks 10,000 of them). Whatever
# this matches, the full check accepts too (tests/test_attachment_urls.py compares the two).
_PLAIN_HTTP = re.compile(r"(?i:https?)://[A-Za-z0-9._~-]+(?::[0-9]*)?(?:[/?#]|\Z)")


def url_refusal(url: str) -> str | None:
    """Why ``url`` may not be an attachment, or None when it may."""
    if not isinstance(url, str) or not url:
        return "must be a URL"
    if _BAD_CHARS.search(url):
        return "must not contain spaces, control characters or backslashes"
    if _PLAIN_HTTP.match(url):
        return None
    return _parsed_refusal(url)


def _parsed_refusal(url: str) -> str | None:
    """``url_refusal`` for a URL without bad characters, from ``urlsplit``'s parts."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced "[" (an IPv6 literal): once a 500 instead of this 400
        return "must be a valid URL"
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None if parts.hostname else "an http(s) URL needs a host"
    if scheme:
        return f"the scheme {scheme!r} is not allowed (use http, https or a path under {_own_paths()})"
    if url.startswith("//"):
        return "protocol-relative URLs are not allowed; write https://"
    if any(url.startswith(prefix) for prefix in _own_prefixes()):
        return None
    return f"a relative URL must be a path under {_own_paths()}"


def _own_prefixes() -> list[str]:
    return [p for p in (settings.MEDIA_URL, settings.STATIC_URL) if isinstance(p, str) and p.startswith("/")]


def _own_paths() -> str:
    return " or ".join(_own_prefixes()) or "the platform's media paths"


def _urls(task_type: str, params: dict) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    default_type = "text" if task_type == "categorization" else "image"
    if "attachment" in params and params.get("attachment_type", default_type) != "text":
        found.append(("attachment", params["attachment"]))
    frames = params.get("frames")
    if isinstance(frames, list):
        for i, frame in enumerate(frames):
            if isinstance(frame, str):
                found.append((f"frames[{i}]", frame))
            elif isinstance(frame, dict) and "url" in frame:
                found.append((f"frames[{i}].url", frame["url"]))
    attachments = params.get("attachments")
    if isinstance(attachments, list):
        for i, item in enumerate(attachments):
            if isinstance(item, dict) and item.get("type") != "text" and "content" in item:
                found.append((f"attachments[{i}].content", item["content"]))
    return found


def check_attachment_urls(
    task_type: str, params: Any, *, prefix: str = "params", partial: bool = False
) -> None:
    """Refuse params holding an attachment URL outside the allow-list. ``partial`` (a project's
    params, overlaid later by each task's): an ``attachment`` is only checked when the same params
    say it is not text."""
    if not isinstance(params, dict):
        return
    for field, url in _urls(task_type, params):
        reason = url_refusal(url)
        if reason:
            raise ValidationFailed(
                f"{prefix}.{field}: {reason}", code="invalid_params", details={"field": f"{prefix}.{field}"}
            )
