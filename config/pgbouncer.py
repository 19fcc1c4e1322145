"""A private PgBouncer in transaction mode in front of the test PostgreSQL (``make test-pgbouncer``).

Usage (under the test launcher, which has already exported ``DATABASE_URL`` of the real server)::

    python -m config.devservices test -- python -m config.pgbouncer -- pytest --reuse-db ...

It starts ``pgbouncer`` (from ``PATH`` or ``/usr/sbin``; install Debian's ``pgbouncer`` package)
on a free loopback port with ``pool_mode = transaction`` and ``auth_type = trust``, routing every
database name to the server of ``DATABASE_URL`` (a ``*`` entry, so pytest-django's ``test_<name>``
is routed too), then runs the command with:

- ``DATABASE_URL`` pointing at PgBouncer and ``DATABASE_POOLER=pgbouncer`` (settings then disable
  server-side cursors and prepared statements: config/dbpool.py);
- ``QUORUM_SCHEDULER_DATABASE_URL`` pointing at the server itself (beat's session lock);
- ``DATABASE_TEST_NAME=test_<name>_pgbouncer``, dropped directly on the server before and after.

pytest-django must run with ``--reuse-db``: dropping the test database at the end would fail while
PgBouncer still holds server connections to it; this launcher drops it once PgBouncer has stopped.
A missing ``pgbouncer`` binary is an error (exit 2), never a skip. ``start()`` is also used by
tests/test_pgbouncer.py for a PgBouncer of its own.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg

from config.launcher import free_port, read_upstream, run_command, say, server

MISSING = (
    "pgbouncer is not installed (looked in PATH and /usr/sbin): install it, e.g. "
    "`apt-get install -y pgbouncer` (.ci/run does this)"
)


def binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError(MISSING)
    return found


@dataclass
class PgBouncer:
    process: subprocess.Popen
    port: int
    workdir: Path

    def url(self, base_url: str, database: str | None = None) -> str:
        """``base_url`` (a PostgreSQL URL) pointed at this PgBouncer, optionally at ``database``."""
        parts = urlsplit(base_url)
        user = parts.username or "postgres"
        path = "/" + quote(database, safe="") if database else parts.path
        return parts._replace(netloc=f"{quote(user, safe='')}@127.0.0.1:{self.port}", path=path).geturl()

    def log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return (self.workdir / "pgbouncer.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # immediate shutdown: close every connection
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(upstream_url: str, *, pool_size: int = 20, timeout: float = 20.0) -> PgBouncer:
    """Start a PgBouncer (transaction mode) in front of the server of ``upstream_url``."""
    exe = binary()
    host, port, user = server(upstream_url)
    workdir = Path(tempfile.mkdtemp(prefix="quorum-pgbouncer-"))
    listen = free_port()
    (workdir / "userlist.txt").write_text(f'"{user}" ""\n')
    run_as = ""
    if os.geteuid() == 0:  # pgbouncer refuses to run as root: it drops to this user
        run_as = "postgres" if _user_exists("postgres") else "nobody"
        os.chmod(workdir, 0o777)
    ini = f"""\
[databases]
* = host={host} port={port} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
server_idle_timeout = 2
server_lifetime = 3600
ignore_startup_parameters = extra_float_digits,options
logfile = {workdir}/pgbouncer.log
pidfile = {workdir}/pgbouncer.pid
{f"user = {run_as}" if run_as else ""}
"""
    (workdir / "pgbouncer.ini").write_text(ini)
    for path in workdir.iterdir():
        os.chmod(path, 0o666)
    process = subprocess.Popen(
        [exe, str(workdir / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    bouncer = PgBouncer(process=process, port=listen, workdir=workdir)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(
                bouncer.url(upstream_url, "postgres"), connect_timeout=2, autocommit=True
            ) as c:
                c.execute("SELECT 1")
            return bouncer
        except psycopg.Error as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                log = bouncer.log()
                bouncer.stop()
                raise RuntimeError(f"pgbouncer did not start ({exc}); its log:\n{log}") from exc
            time.sleep(0.1)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def running(upstream_url: str, **kwargs) -> Iterator[PgBouncer]:
    bouncer = start(upstream_url, **kwargs)
    try:
        yield bouncer
    finally:
        bouncer.stop()


def _drop_database(upstream_url: str, name: str) -> None:
    admin = urlsplit(upstream_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str]) -> int:
    upstream = read_upstream(argv, "config.pgbouncer")
    if not upstream:
        return 2
    try:
        binary()
    except RuntimeError as exc:
        say(str(exc))
        return 2
    name = unquote(urlsplit(upstream).path.lstrip("/"))
    test_name = f"test_{name}_pgbouncer"[:63]
    _drop_database(upstream, test_name)  # a fresh test database (pytest runs with --reuse-db)
    with running(upstream) as bouncer:
        say(f"PgBouncer: transaction mode on 127.0.0.1:{bouncer.port} in front of {server(upstream)[:2]}")
        env = {
            **os.environ,
            "DATABASE_URL": bouncer.url(upstream),
            "DATABASE_POOLER": "pgbouncer",
            "QUORUM_SCHEDULER_DATABASE_URL": urlsplit(upstream)._replace(path="/" + test_name).geturl(),
            "DATABASE_TEST_NAME": test_name,
        }
        code = run_command(argv[1:], env)
    _drop_database(upstream, test_name)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
