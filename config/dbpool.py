"""Database settings for running behind a transaction-mode pooler (PgBouncer ``pool_mode=transaction``).

Such a pooler gives each transaction whichever server connection is free, so nothing may outlive a
transaction on the server: ``DATABASE_POOLER=pgbouncer`` applies ``for_transaction_pooler`` to the
default database (config/settings.py).

- ``DISABLE_SERVER_SIDE_CURSORS``: ``QuerySet.iterator()`` outside ``atomic()`` declares a cursor
  ``WITH HOLD`` and fetches from it in later statements, which may land on another server
  connection ("cursor … does not exist"). With the setting Django reads the result client-side
  (exports never use ``iterator()``: they page by keyset, one chunk in memory,
  annotation/exports/source.py).
- ``prepare_threshold = None``: psycopg prepares a query after that many runs with a server-binding
  cursor, and the statement exists only on the server connection that prepared it. Django already
  defaults it to None and its default cursors bind client-side (they never prepare); pooler mode
  forces None even when ``DATABASE_URL`` asks otherwise (``?prepare_threshold=5`` lands in
  ``OPTIONS``), so ``server_side_binding`` and raw psycopg cursors on Django's connection stay safe.
- ``CONN_MAX_AGE`` 0 unless ``DB_CONN_MAX_AGE`` says otherwise: the pooler keeps the server
  connections warm; a client connection to it is cheap.

Session-level features are not used by the application (advisory locks are transaction-scoped:
``pg_advisory_xact_lock``, ``pg_try_advisory_xact_lock``; no ``SET`` outside ``SET LOCAL``; no
``LISTEN``). Beat's leader lock is the one session lock, on its own direct connection
(config/beat.py, ``QUORUM_SCHEDULER_DATABASE_URL``).
"""

from __future__ import annotations


def for_transaction_pooler(db: dict, *, conn_max_age: int) -> dict:
    """A copy of the database settings ``db`` that is safe behind a transaction-mode pooler."""
    out = {**db, "OPTIONS": dict(db.get("OPTIONS") or {})}
    out["DISABLE_SERVER_SIDE_CURSORS"] = True
    out["OPTIONS"]["prepare_threshold"] = None
    out["CONN_MAX_AGE"] = conn_max_age
    return out
