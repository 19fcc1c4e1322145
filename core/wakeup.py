"""Wake-ups: Celery messages that only say "look at this row now".

Every wake-up is a hint. The row it names (a webhook delivery, an export job, a test-mode task)
is already committed, and a periodic relay (the webhook dispatcher, the export relay, the
test-mode relay) sends it again if it is lost. So a wake-up is published with a short retry
policy: one immediate retry (which repairs a pooled connection that went stale when Redis
restarted) and no back-off. Celery's default policy (three retries, 0.2 s apart) made each
request that queued a wake-up while the broker was down wait ~0.6 s before giving up; with
this policy the request pays one refused connection attempt (about a millisecond on loopback,
at most ``socket_connect_timeout`` for a host that does not answer).

Call it after COMMIT: ``after_commit(wake, some_task, row_id)``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def retry_policy() -> dict[str, float]:
    return {
        "max_retries": settings.QUORUM_WAKEUP_PUBLISH_RETRIES,
        "interval_start": 0,
        "interval_step": 0,
        "interval_max": 0,
    }


def wake(task: Any, *args: Any) -> None:
    """Publish ``task(*args)`` with the wake-up retry policy. Raises when the broker cannot be
    reached (``after_commit`` logs it; the relays repeat the wake-up from the rows)."""
    task.apply_async(args=args, retry=True, retry_policy=retry_policy())
