"""Reads that may lag go to a read replica; everything else stays on the primary (docs/scaleout.md).

With ``DATABASE_REPLICA_URL`` set, settings add a second database alias, ``replica`` (a streaming
replica of the primary), and install ``ReplicaRouter``. The router sends **nothing** to the replica
by default: only code inside ``replica_reads()`` reads from it, and only when all of these hold at
the moment the block is entered (checked once per block, on the replica's own connection):

- the replica answers (else: warning, primary, and no new attempt from this process for
  ``QUORUM_REPLICA_RETRY_SECONDS``);
- its replay lag is at most ``QUORUM_REPLICA_MAX_LAG_SECONDS`` (0 while it has replayed all it has
  received; else the age of the last transaction it replayed);
- it has replayed up to ``caught_up_to`` when given (a primary LSN; export jobs pass the primary's
  LSN when the attempt starts, so an export contains every write made before it ran), waiting up to
  ``wait`` seconds for it;
- the caller of the current request has not written recently (read-your-writes): after any request
  that is not GET/HEAD/OPTIONS/TRACE, ``ReadYourWritesMiddleware`` pins that caller (a signed-in
  user, or the client behind an API key) to the primary for ``QUORUM_REPLICA_STICKY_SECONDS``. The
  pin lives in the shared cache (Redis), so it holds on every web node; if the cache cannot be read
  the read goes to the primary.

Inside the block a read still goes to the primary while the default connection is in a transaction
(``atomic()``): whatever locks, claims, posts money or checks a balance does so in a transaction, and
sees only the primary even when a caller wrapped it in ``replica_reads()`` by mistake. Writes always go
to the primary; migrations run only there. Raw SQL on ``django.db.connection`` is the primary's; the
read-only aggregates of the reports and trends go through ``core.sqlrows.dict_rows``, which follows
the same rule (``read_alias``).

``replica_view`` wraps a read-only view (GET/HEAD only): it runs inside ``replica_reads()`` and, when
the replica fails in the middle, runs the view again on the primary. ``run_replica_reads`` does the same
for any function (the export build).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import Error as DbError  # OperationalError, InterfaceError, …

logger = logging.getLogger("quorum.replica")

REPLICA = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PIN_KEY = "replica-pin:{}"

T = TypeVar("T")

# The alias reads go to inside the current replica_reads() block (None: the primary).
_alias: ContextVar[str | None] = ContextVar("quorum_replica_alias", default=None)
# The request being served (set by ReadYourWritesMiddleware), for the read-your-writes pin.
_request: ContextVar[Any] = ContextVar("quorum_replica_request", default=None)

_down_lock = threading.Lock()
_down_until = 0.0  # monotonic time before which this process does not try the replica again


def configured() -> bool:
    return REPLICA in settings.DATABASES


def clock() -> float:
    """Wall-clock seconds (the pins' expiry is shared between nodes). Tests move it."""
    return time.time()


def read_alias() -> str:
    """The alias a read issued now goes to, by the rule above (for raw SQL read helpers such as
    ``core.sqlrows.dict_rows``, which have no model for the router to see)."""
    alias = _alias.get()
    if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    return alias


class ReplicaRouter:
    """Primary unless inside ``replica_reads()`` with a usable replica and no open transaction."""

    def db_for_read(self, model, **hints):
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one set of data: the replica is a copy of the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


# --- read-your-writes -----------------------------------------------------------------------------


def caller_key(request) -> str | None:
    """Who made ``request``, for the pin: a signed-in user, or the client behind an API key."""
    user = getattr(request, "user", None) if request is not None else None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    client = getattr(user, "client", None)
    if getattr(user, "api_key", None) is not None and client is not None:
        return f"client:{client.pk}"
    return f"user:{user.pk}"


def pin(request) -> None:
    """Keep the reads of ``request``'s caller on the primary for ``QUORUM_REPLICA_STICKY_SECONDS``."""
    key = caller_key(request)
    seconds = settings.QUORUM_REPLICA_STICKY_SECONDS
    if key is None or seconds <= 0:
        return
    try:
        cache.set(PIN_KEY.format(key), clock() + seconds, timeout=seconds + 1)
    except Exception:  # noqa: BLE001 - a cache outage must not fail the write that just succeeded
        logger.warning("replica: could not record a read-your-writes pin (cache unavailable)", exc_info=True)


def pinned(request) -> bool:
    key = caller_key(request)
    if key is None:
        return False
    try:
        until = cache.get(PIN_KEY.format(key))
    except Exception:  # noqa: BLE001 - unknown: the primary is always right
        logger.warning("replica: could not read a read-your-writes pin; reading from the primary")
        return True
    return until is not None and float(until) > clock()


class ReadYourWritesMiddleware:
    """Remembers the request (for ``replica_reads()``) and pins its caller after a write request.
    The caller is known after the view ran (DRF authenticates inside the view)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if request.method not in SAFE_METHODS and configured():
            pin(request)
        return response


# --- replica health -------------------------------------------------------------------------------


def mark_down(reason: str) -> None:
    global _down_until
    with _down_lock:
        _down_until = time.monotonic() + settings.QUORUM_REPLICA_RETRY_SECONDS
    logger.warning(
        "replica: unavailable (%s); reading from the primary for %ss",
        reason,
        settings.QUORUM_REPLICA_RETRY_SECONDS,
    )
    with contextlib.suppress(Exception):
        connections[REPLICA].close()


def reset() -> None:
    """Forget an earlier failure (tests; a process that knows the replica is back)."""
    global _down_until
    with _down_lock:
        _down_until = 0.0


STATUS_SQL = """
SELECT NOT pg_is_in_recovery() OR COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, false),
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END
"""


PROBE_SQL = "SELECT 1"


def _replica_status(caught_up_to: str | None) -> tuple[bool, float]:
    """(replayed up to ``caught_up_to``, lag in seconds), from the replica's own connection."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(STATUS_SQL, [caught_up_to or "0/0"])
        replayed, lag = cursor.fetchone()
    return bool(replayed), float(lag)


def primary_lsn() -> str:
    """The primary's current WAL position: a replica that has replayed it has every commit before."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def choose(*, caught_up_to: str | None = None, wait: float = 0.0) -> str | None:
    """The alias the reads of a ``replica_reads()`` block go to: ``REPLICA``, or None (the primary)."""
    if not configured() or pinned(_request.get()):
        return None
    if time.monotonic() < _down_until:
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            replayed, lag = _replica_status(caught_up_to)
        except DbError as exc:
            mark_down(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            return None
        if lag > settings.QUORUM_REPLICA_MAX_LAG_SECONDS:
            logger.info("replica: %.1fs behind; reading from the primary", lag)
            return None
        if replayed:
            return REPLICA
        if time.monotonic() >= deadline:
            logger.info("replica: has not replayed %s yet; reading from the primary", caught_up_to)
            return None
        time.sleep(0.05)


@contextlib.contextmanager
def replica_reads(*, caught_up_to: str | None = None, wait: float = 0.0) -> Iterator[str]:
    """Reads in the block may come from the replica (see the module docstring). Yields the alias
    chosen (``"replica"`` or ``"default"``)."""
    alias = choose(caught_up_to=caught_up_to, wait=wait)
    token = _alias.set(alias)
    try:
        yield alias or DEFAULT_DB_ALIAS
    finally:
        _alias.reset(token)


def _replica_failed() -> bool:
    """After a database error inside a replica block: was it the replica? (It no longer answers.)"""
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(PROBE_SQL)
    except DbError:
        return True
    return False


def run_replica_reads(fn: Callable[[], T], *, caught_up_to: str | None = None, wait: float = 0.0) -> T:
    """``fn()`` inside ``replica_reads()``; if the replica fails while it runs, ``fn()`` again on the
    primary (``fn`` must only read, or be safe to repeat)."""
    with replica_reads(caught_up_to=caught_up_to, wait=wait) as alias:
        if alias != REPLICA:
            return fn()
        try:
            return fn()
        except DbError as exc:
            if not _replica_failed():
                raise
            mark_down(f"failed during a read: {type(exc).__name__}")
    return fn()


def replica_view(view):
    """For a view (function, or a method of a class-based view) that only reads: its GET and HEAD
    requests read from the replica when one is usable (``run_replica_reads``)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        request = next((a for a in args if hasattr(a, "method") and hasattr(a, "META")), None)
        if request is None or request.method not in ("GET", "HEAD") or not configured():
            return view(*args, **kwargs)
        return run_replica_reads(lambda: view(*args, **kwargs))

    return wrapped
