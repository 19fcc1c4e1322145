"""What the private-server test launchers (config/pgbouncer.py, config/replica.py) share: reading
``python -m config.<name> -- COMMAND [ARGS...]`` and the real server's ``DATABASE_URL``, a free
loopback port, the server a URL names, and running the command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from urllib.parse import unquote, urlsplit


def say(message: str) -> None:
    print(f"quorum: {message}", file=sys.stderr, flush=True)


def read_upstream(argv: list[str], module: str) -> str | None:
    """``DATABASE_URL`` if ``argv`` is ``-- COMMAND [ARGS...]`` and it is set; else None, said why."""
    if len(argv) < 2 or argv[0] != "--":
        print(f"usage: python -m {module} -- COMMAND [ARGS...]", file=sys.stderr)
        return None
    upstream = os.environ.get("DATABASE_URL")
    if not upstream:
        say("DATABASE_URL is not set: run this under `python -m config.devservices test --`")
    return upstream or None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server(url: str) -> tuple[str, int, str]:
    """The host (or unix socket directory), port and user of the server ``url`` names."""
    parts = urlsplit(url)
    host = unquote(parts.hostname or "127.0.0.1")
    if parts.netloc.split("@")[-1].startswith("%2F"):  # a unix socket directory (the embedded server)
        host = unquote(parts.netloc.split("@")[-1].split(":")[0])
    return host, parts.port or 5432, parts.username or "postgres"


def run_command(command: list[str], env: dict[str, str]) -> int:
    """Run ``command`` with ``env``; its exit code (130 on Ctrl-C)."""
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
