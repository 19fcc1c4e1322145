"""A private streaming replica of the test PostgreSQL (``make test-replica``).

Usage (under the test launcher, which has already exported ``DATABASE_URL`` of the real server)::

    python -m config.devservices test -- python -m config.replica -- pytest tests/test_replica.py

It copies the whole cluster of ``DATABASE_URL`` with ``pg_basebackup -R -X stream`` (the binaries of
the server's major version: ``/usr/lib/postgresql/<major>/bin``, the embedded server's, else
``PATH``) into a temporary folder, starts it as a hot standby on a free loopback port (when run as
root, as the user the primary runs as: ``postgres``, or the owner of the embedded server's socket
directory; PostgreSQL refuses to run as root), waits until it streams from the primary, then runs
the command with:

- ``DATABASE_REPLICA_URL`` pointing at it (settings then add the ``replica`` alias, a test mirror
  of ``default``: config/settings.py, core/dbrouter.py);
- ``DATABASE_TEST_NAME=test_<name>_replica``: pytest-django creates it on the primary after the
  replica exists, and streaming replication brings it to the replica too (tests wait for replay).

The primary must allow replication connections from the user of ``DATABASE_URL`` (the user needs
the REPLICATION attribute, which superuser ``postgres`` has; pg_hba.conf needs a ``replication``
line such as ``host replication postgres 127.0.0.1/32 trust``, which .ci/run adds), and
``wal_level`` must be ``replica`` or ``logical`` (PostgreSQL's default). No replication slot is made
(a slot left behind by a killed run would keep WAL on the shared server forever). Anything missing is
an error (exit 2), never a skip. ``start()``/``running()`` are for other launchers too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
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

HOT_STANDBY_SETTINGS = (  # a hot standby must have at least the primary's values of these
    "max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions",
    "max_locks_per_transaction",
)  # fmt: skip
REPLICATION_HINT = (
    "the primary refused a replication connection: allow it in pg_hba.conf, e.g. "
    "`host replication postgres 127.0.0.1/32 trust` (.ci/run adds it), then reload PostgreSQL"
)


@dataclass
class Replica:
    port: int
    workdir: Path
    bindir: Path
    run_as: str | None

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    def url(self, base_url: str, database: str | None = None) -> str:
        """``base_url`` (a PostgreSQL URL) pointed at this replica, optionally at ``database``."""
        parts = urlsplit(base_url)
        user = parts.username or "postgres"
        path = "/" + quote(database, safe="") if database else parts.path
        return parts._replace(
            netloc=f"{quote(user, safe='')}@127.0.0.1:{self.port}", query="", path=path
        ).geturl()

    def log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return (self.workdir / "postgres.log").read_text(errors="replace")
        return ""

    def pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), *args]
        return _run(command, self.run_as, timeout=timeout)

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")
        shutil.rmtree(self.workdir, ignore_errors=True)


def _run(command: list[str], run_as: str | None, *, timeout: float) -> subprocess.CompletedProcess:
    if run_as:
        command = ["runuser", "-u", run_as, "--", *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd="/"
    )


def _bindir(major: int) -> Path:
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin")]
    with contextlib.suppress(ImportError):  # the embedded server's own binaries (config/devservices.py)
        from pgserver import _commands

        candidates.append(Path(_commands.POSTGRES_BIN_PATH))
    for candidate in candidates:
        if (candidate / "pg_basebackup").is_file() and _major(candidate) == major:
            return candidate
    found = shutil.which("pg_basebackup")
    if found:
        return Path(found).parent
    raise RuntimeError(
        f"pg_basebackup for PostgreSQL {major} not found (looked in /usr/lib/postgresql/{major}/bin, "
        f"the embedded server's and PATH): install postgresql-{major}"
    )


def _major(bindir: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(bindir / "pg_basebackup"), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
        return int(out.split()[-1].split(".")[0])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _run_as(host: str) -> str | None:
    """As root: the user PostgreSQL runs as (the owner of an embedded server's socket directory,
    else ``postgres``). pg_basebackup must reach that socket, and postgres refuses to run as root."""
    if os.geteuid() != 0:
        return None
    if host.startswith("/") and Path(host).is_dir():
        return Path(host).owner()
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise RuntimeError("running as root and there is no user postgres to run the replica as") from exc
    return "postgres"


def start(upstream_url: str, *, timeout: float = 60.0) -> Replica:
    """Make and start a streaming replica of the server of ``upstream_url``; wait until it streams."""
    with psycopg.connect(upstream_url, autocommit=True, connect_timeout=5) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        values = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in HOT_STANDBY_SETTINGS}
        wal_level = conn.execute("SHOW wal_level").fetchone()[0]
    if wal_level not in ("replica", "logical"):
        raise RuntimeError(f"the primary has wal_level={wal_level}: a streaming replica needs replica")
    bindir = _bindir(major)
    run_as = _run_as(server(upstream_url)[0])
    workdir = Path(tempfile.mkdtemp(prefix="quorum-replica-"))
    if run_as:
        shutil.chown(workdir, user=run_as, group=run_as)
    replica = Replica(port=free_port(), workdir=workdir, bindir=bindir, run_as=run_as)
    try:
        _basebackup(replica, upstream_url)
        _configure(replica, values)
        started = replica.pg_ctl("start", "-w", "-t", str(int(timeout)), "-l", str(workdir / "postgres.log"))
        if started.returncode != 0:
            raise RuntimeError(f"the replica did not start: {started.stderr.strip()}\n{replica.log()}")
        _wait_streaming(replica, upstream_url, timeout=timeout)
    except BaseException:
        replica.stop()
        raise
    return replica


def _basebackup(replica: Replica, upstream_url: str) -> None:
    host, port, user = server(upstream_url)
    command = [
        str(replica.bindir / "pg_basebackup"), "-h", host, "-p", str(port), "-U", user, "-w",
        "-D", str(replica.datadir), "-R", "-X", "stream", "-c", "fast", "--no-sync",
    ]  # fmt: skip
    done = _run(command, replica.run_as, timeout=600)
    if done.returncode != 0:
        error = done.stderr.strip()
        hint = f"\n{REPLICATION_HINT}" if "pg_hba.conf" in error or "replication" in error else ""
        raise RuntimeError(f"pg_basebackup failed: {error}{hint}")


def _configure(replica: Replica, values: dict[str, str]) -> None:
    """Its own postgresql.conf and pg_hba.conf (a Debian cluster keeps them in /etc, not copied;
    an embedded one's would name the primary's port and socket)."""
    lines = [f"{name} = '{value}'" for name, value in values.items()] + [
        f"port = {replica.port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{replica.workdir}'",
        "hot_standby = on",
        "hot_standby_feedback = on",  # no test query cancelled by the primary's vacuum
        "wal_receiver_status_interval = 1s",
        "fsync = off",
        "full_page_writes = off",
        "shared_buffers = 32MB",
        "ssl = off",
        "logging_collector = off",
        "log_min_messages = warning",
    ]
    files = {
        "postgresql.conf": "\n".join(lines) + "\n",
        "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        "pg_ident.conf": "",
    }
    for name, text in files.items():
        path = replica.datadir / name
        path.write_text(text)
        if replica.run_as:
            shutil.chown(path, user=replica.run_as, group=replica.run_as)


def _wait_streaming(replica: Replica, upstream_url: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = replica.url(upstream_url, "postgres")
    while True:
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
                row = conn.execute(
                    "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)"
                ).fetchone()
            if row == (True, "streaming"):
                return
            state = f"in recovery {row[0]}, receiver {row[1]}"
        except psycopg.Error as exc:
            state = str(exc).strip()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replica did not start streaming ({state}); its log:\n{replica.log()}")
        time.sleep(0.1)


@contextlib.contextmanager
def running(upstream_url: str, **kwargs) -> Iterator[Replica]:
    replica = start(upstream_url, **kwargs)
    try:
        yield replica
    finally:
        replica.stop()


def main(argv: list[str]) -> int:
    upstream = read_upstream(argv, "config.replica")
    if not upstream:
        return 2
    name = unquote(urlsplit(upstream).path.lstrip("/"))
    began = time.monotonic()
    try:
        replica = start(upstream)
    except (RuntimeError, psycopg.Error, OSError, subprocess.SubprocessError) as exc:
        say(f"replica: {exc}")
        return 2
    try:
        say(
            f"replica: streaming from {server(upstream)[:2]} on 127.0.0.1:{replica.port} "
            f"(made in {time.monotonic() - began:.1f}s)"
        )
        env = {
            **os.environ,
            "DATABASE_REPLICA_URL": replica.url(upstream),
            "DATABASE_TEST_NAME": f"test_{name}_replica"[:63],
        }
        return run_command(argv[1:], env)
    finally:
        replica.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
