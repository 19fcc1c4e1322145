"""``make run`` keeps its URLs and demo logins readable: the processes log warnings only (the
Procfile's levels are variables, INFO by default for production), and the logins are printed by
``config.devservices banner`` only once the web server answers."""

from __future__ import annotations

import http.server
import io
import re
import socket
import subprocess
import threading
from pathlib import Path

from django.conf import settings

from config import devservices

ROOT = Path(settings.BASE_DIR)
LOGINS = "  Portal:    http://127.0.0.1:1/portal/\n  pm@acme.local  client owner\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_the_logins_are_printed_only_once_the_web_server_answers():
    port = _free_port()
    out = io.StringIO()
    result = {}
    waiter = threading.Thread(
        target=lambda: result.update(ok=devservices.banner(port=port, text=LOGINS, out=out, timeout=120))
    )
    waiter.start()
    assert waiter.is_alive() and out.getvalue() == ""  # nothing listens yet: nothing printed
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        waiter.join(timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert not waiter.is_alive() and result == {"ok": True}
    assert out.getvalue() == LOGINS


def test_the_logins_are_printed_with_a_note_when_nothing_answers_in_time():
    out = io.StringIO()
    assert devservices.banner(port=_free_port(), text=LOGINS, out=out, timeout=0.3, interval=0.05) is False
    assert out.getvalue().startswith(LOGINS) and "nothing answered on port" in out.getvalue()


def _dry_run(*args: str) -> str:
    return subprocess.run(
        ["make", "-n", "run", "PORT=8123", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_make_run_logs_warnings_only_and_prints_the_logins_after_the_server_is_up():
    dry = _dry_run()
    for setting in ("LOG_LEVEL=WARNING", "CELERY_LOG_LEVEL=WARNING", "WEB_LOG_LEVEL=WARNING"):
        assert re.search(rf"(^|\s){setting}\s", dry), setting
    assert "WEB_ACCESS_LOG=off" in dry and 'CELERY_FLAGS="--quiet"' in dry
    # seed_demo's output is held, not printed: the banner step prints it once port 8123 answers.
    assert "| python -m config.devservices banner --port 8123 &" in dry
    assert dry.index("banner --port 8123") < dry.index("exec honcho start")
    verbose = _dry_run("RUN_LOG_LEVEL=INFO", "RUN_ACCESS_LOG=on", "RUN_CELERY_FLAGS=")
    assert (
        "CELERY_LOG_LEVEL=INFO" in verbose and "WEB_ACCESS_LOG=on" in verbose and 'CELERY_FLAGS=""' in verbose
    )


def test_every_procfile_process_takes_its_log_level_from_the_environment_info_by_default():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert "--log-level ${WEB_LOG_LEVEL:-info}" in lines["web"]
    assert "GRANIAN_LOG_ACCESS_ENABLED=${WEB_ACCESS_LOG:-on} " in lines["web"]
    for name in ("worker", "webhooks", "exports", "beat"):
        assert "--loglevel ${CELERY_LOG_LEVEL:-INFO}" in lines[name], name
        assert "celery -A config ${CELERY_FLAGS:-} " in lines[name], name
