"""After-commit hooks that cannot turn a committed request into an error.

The rule: once a transaction has committed, the caller is told the committed result. Work queued
with ``after_commit`` (a Celery wake-up, a follow-up rule in its own transaction) runs after COMMIT;
if it fails, the failure is logged and the request still answers with what committed. Every such
hook is a hint or a follow-up that a periodic relay repeats from the database rows (the webhook
dispatcher, the export relay, the completion and test-mode relays), so nothing is lost.

Django's own ``on_commit(..., robust=True)`` is not enough: its error logger reads the hook's
``__qualname__``, which a ``functools.partial`` lacks, so the AttributeError escapes after COMMIT
and skips the transaction's later hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def hook_name(func: Callable) -> str:
    """A readable name for any callable (functions, partials, bound methods, lambdas)."""
    inner = getattr(func, "func", func)  # functools.partial
    return getattr(inner, "__qualname__", None) or getattr(inner, "__name__", None) or repr(inner)


def after_commit(func: Callable[..., Any], *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Run ``func(*args, **kwargs)`` once the current transaction commits (at once, outside one).

    Exceptions from ``func`` are logged and swallowed; later hooks of the transaction still run.
    """
    name = hook_name(func)

    def hook() -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            logger.exception(
                "after-commit hook %s failed; the committed work stands and the relays repeat it", name
            )

    hook.__qualname__ = f"after_commit({name})"
    transaction.on_commit(hook, using=using)
