"""The Celery application. Messages are wake-ups carrying database ids (docs/architecture.md,
"Messages leave through an outbox")."""

import logging
import os

from celery import Celery
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)

app = Celery("quorum")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Celery 5.7 / kombu 5.7: when a worker loses Redis while it holds unacknowledged messages (acks_late),
# the consumer first collects the broken connection (which drops the transport's client) and then
# closes it; closing the channel tries to restore the unacked messages through that missing client,
# raises AttributeError, and the worker exits ("Unrecoverable error"), so a Redis restart stopped
# the webhooks worker (bench/chaos.py, redis_outage). Skipping the restore there loses nothing: the
# messages stay in Redis' unacked index, which kombu restores after the visibility timeout, and the
# relays re-send every wake-up from the database rows anyway.
_restore_unacked_once = kombu_redis.QoS.restore_unacked_once


def _restore_unacked_once_unless_collected(self, *args, **kwargs):
    if getattr(self.channel.connection, "client", None) is None:
        logger.warning(
            "broker connection already collected: unacked messages are left to the visibility timeout"
        )
        return None
    return _restore_unacked_once(self, *args, **kwargs)


kombu_redis.QoS.restore_unacked_once = _restore_unacked_once_unless_collected
