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
from functools import wraps
from typing import Any

from django.db import OperationalError, connection, transaction

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


# SQLSTATEs after which PostgreSQL has rolled the whole transaction back and running it again is
# the documented remedy: deadlock_detected, serialization_failure.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})


def retry_on_deadlock(
    func: Callable[..., Any], *, attempts: int = 3, sqlstates: frozenset[str] = RETRY_SQLSTATES
) -> Callable[..., Any]:
    """``func`` (which runs its own transaction) run again when PostgreSQL aborted it as a deadlock
    victim or a serialization failure (or another of ``sqlstates`` after which the whole statement
    was rolled back, e.g. a lock_timeout), up to ``attempts`` times in all. Nothing of an aborted
    attempt remains, so the retry is safe; each one is logged. Inside a caller's transaction
    (``atomic``) there is no retry: that transaction is aborted as a whole and the error goes up."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        if connection.in_atomic_block:
            return func(*args, **kwargs)
        attempt = 1
        while True:
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                state = getattr(exc.__cause__, "sqlstate", None)
                if state not in sqlstates or attempt >= attempts:
                    raise
                logger.warning(
                    "%s: transaction aborted by PostgreSQL (%s), attempt %d of %d; running it again",
                    hook_name(func),
                    state,
                    attempt,
                    attempts,
                )
                attempt += 1

    return run
