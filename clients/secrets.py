"""Key material: API keys, personal access tokens and webhook secrets.

A key is ``<kind>_<prefix>.<secret>``: the prefix is public and indexed (it finds the row), the
secret has 256 bits of entropy, and only ``sha256(key)`` is stored. A fast hash is right for
random 256-bit secrets (no dictionary to attack); comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def new_key(kind: str) -> tuple[str, str, str]:
    """Return ``(key, prefix, key_hash)`` for a new secret of ``kind`` (e.g. ``qk_live``)."""
    prefix = secrets.token_hex(6)
    key = f"{kind}_{prefix}.{secrets.token_urlsafe(32)}"
    return key, prefix, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    """Return ``(kind, prefix)`` of a well-formed key, else None."""
    head, dot, secret = key.partition(".")
    if not dot or not secret or len(key) > 200:
        return None
    kind, _, prefix = head.rpartition("_")
    if not kind or len(prefix) != 12:
        return None
    return kind, prefix


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_callback_auth_key() -> str:
    return secrets.token_hex(24)
