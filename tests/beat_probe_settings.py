"""Settings for the beat processes tests/test_beat_leader.py starts: the real settings, with the
schedule replaced by one probe job every second, routed to a private queue (``BEAT_PROBE_QUEUE``).
The probe task is never consumed: the test counts the messages in the queue."""

import os
from datetime import timedelta

from config.settings import *  # noqa: F403

CELERY_BEAT_SCHEDULE = {
    "beat-probe": {"task": "tests.beat_probe", "schedule": timedelta(seconds=1)},
}
CELERY_TASK_ROUTES = {"tests.beat_probe": {"queue": os.environ["BEAT_PROBE_QUEUE"]}}
QUORUM_BEAT_LEADER_POLL_SECONDS = 0.5
