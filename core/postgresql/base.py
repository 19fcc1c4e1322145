"""Django's PostgreSQL backend (psycopg 3) whose health check costs no round trip on a quiet
connection. ``ENGINE = "core.postgresql"`` (config/settings.py); everything else is Django's.

With ``CONN_HEALTH_CHECKS`` Django checks a persistent connection at the start of each request with
``SELECT 1``: a round trip, and on the work loop's two requests per cycle two extra statements and
about a tenth of the web process's CPU. A connection the server has closed (a restart, a
terminated backend, an idle timeout) is readable while the client is idle: PostgreSQL sends its
``FATAL`` message and then end-of-file, while a healthy idle connection has nothing to read. So:

- psycopg already knows it is closed or broken: unusable;
- nothing to read on the socket (``poll`` with a zero timeout): usable, no statement sent;
- something to read: Django's ``SELECT 1`` decides, as before.

What this does not see is a peer that vanished without closing (a host lost on the network):
``SELECT 1`` would wait out the TCP timeout there too; the request's own query fails instead and is
answered as a database outage (``core.health``), and the next request reconnects.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            pending = poller.poll(0)
        except (OSError, ValueError):  # the socket is gone
            return False
        if not pending:
            return True
        return super().is_usable()
