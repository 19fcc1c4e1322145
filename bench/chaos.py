"""The chaos suite: the real processes on private PostgreSQL and Redis, each fault injected, one
figure per line.

    make chaos                       # the whole suite (under 10 minutes on a 2-core machine)
    make chaos CHAOS_ARGS=--quick    # the short tier (about a minute; make test runs it too)
    .venv/bin/python bench/chaos.py --only ssrf,hostile

What it starts, all on loopback and all its own: a PostgreSQL cluster (``initdb``/``pg_ctl`` from
``/usr/lib/postgresql/*/bin``, run as the ``postgres`` user when started as root) in a temporary
folder on a free port, a ``redis-server`` on a free port, and the Procfile's processes (granian,
the default, webhooks and exports Celery workers, beat), each in its own process group, from a
temporary working folder (so beat's ``var/`` is its own). Callbacks go to a receiver in this
process; SSRF payloads aim at a canary listener that counts connections.

Faults and figures (the names printed are the keys of ``figures`` in the JSON result):

- ``contention``: 16 annotators claim and submit over HTTP at once (overlap 3): over-assignment,
  duplicate (task, annotator) pairs and 5xx must be 0.
- ``redis_outage``: Redis stopped (30 s; 5 s in --quick) under claim/submit load: 5xx must be 0
  (committed work answers its result); every callback arrives once Redis is back (lost 0);
  seconds from Redis back to the last callback. Redis runs without persistence, so the restart
  loses every queued and unacknowledged message (the worst case): those wake-ups come back through
  the dispatcher after ``QUORUM_WEBHOOK_REDISPATCH_SECONDS`` (60 s; the short tier sets 10 s).
- ``pg_restart``: PostgreSQL fast stop and immediate restart under load: completed tasks not
  charged exactly once (0), the ledger's sum (0), unbalanced transactions (0), seconds from the
  restart until submits succeed again, and the 503s answered meanwhile.
- ``kill_webhooks`` / ``kill_exports`` / ``kill_default``: ``kill -9`` of that worker's process
  group mid-work, restarted at once (as a supervisor would): callbacks lost (0) and duplicated (at
  least once: a delivery in flight when killed is sent again), seconds to recover; for exports
  the attempts and the temporary folders left behind (0).
- ``lease``: a lease runs out (30 s) and the sweep frees the task; the stale holder's submit is
  refused (409) and the new holder's accepted.
- ``ssrf``: callback URLs aimed at loopback, private, link-local and metadata addresses in many
  spellings, through the API of a web process with outbound loopback refused, then sent directly
  through the outbound guard, and a redirect to the canary: refused counts and canary connections (0).
- ``hostile``: a corpus of malformed, oversized and hostile requests: 5xx (0), accepted but wrong (0),
  rows changed by refused requests (0).
- ``brute_force``: wrong passwords as fast as possible at ``/login/`` and ``/admin/login/``: attempts
  evaluated per minute (the lockout's limit), and the right password refused once locked.

The JSON result (``bench/results/chaos-<time>.json``, or ``--json PATH``) holds the command, the
commit, wall and CPU seconds (this process, and the servers and processes it started) and every figure.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import pwd
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402 - after the path is set

from bench.procs import ProcessSet, http_ok, read_procfile, wait_until  # noqa: E402
from config.launcher import free_port  # noqa: E402

PHASES_FULL = [
    "lease_start",
    "contention",
    "ssrf",
    "hostile",
    "brute_force",
    "kill_webhooks",
    "kill_default",
    "kill_exports",
    "redis_outage",
    "pg_restart",
    "lease_check",
]
PHASES_QUICK = ["contention", "ssrf", "hostile", "brute_force", "redis_outage"]
FIGURES: dict[str, object] = {}
NOTES: dict[str, str] = {}
PHASE_SECONDS: dict[str, float] = {}
T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def figure(name: str, value: object, note: str = "") -> None:
    FIGURES[name] = value
    if note:
        NOTES[name] = note
    print(f"{name}: {value}" + (f"  ({note})" if note else ""), flush=True)


# --- private servers ---------------------------------------------------------------------------------


def _pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).resolve().parent
    sys.exit("chaos: PostgreSQL server binaries not found (apt-get install postgresql)")


class Postgres:
    def __init__(self, root: Path) -> None:
        self.bindir = _pg_bindir()
        self.dir = root / "pg"
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "postgres.log"
        self.as_user: list[str] = []
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                sys.exit("chaos: running as root needs a 'postgres' user (apt-get install postgresql)")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            os.chmod(root, 0o755)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
            check=check, timeout=120,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/quorum"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as f:
            f.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "max_connections = 120\nshared_buffers = 64MB\nfsync = on\nsynchronous_commit = on\n"
            )
        self.start()
        subprocess.run(
            [*self.as_user, str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", "quorum"], check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None


class Redis:
    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server") or sys.exit(
            "chaos: redis-server not found (apt-get install redis-server)"
        )
        self.process = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--maxmemory-policy", "noeviction"],
            stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
        )  # fmt: skip
        assert wait_until(self.ping, timeout=30), "redis-server did not start"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


# --- a callback receiver and a canary ----------------------------------------------------------------


class Receiver:
    """Records every POST (webhook-id, task id) and answers 200, after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.received: list[tuple[str, str, float]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)  # a slow receiver: deliveries are in flight when a worker dies
                try:
                    task_id = json.loads(body).get("task_id") or ""
                except ValueError:
                    task_id = ""
                with receiver.lock:
                    receiver.received.append((self.headers.get("webhook-id", ""), task_id, time.monotonic()))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"

    def task_ids(self) -> Counter:
        with self.lock:
            return Counter(task_id for _, task_id, _ in self.received)

    def last_at(self) -> float:
        with self.lock:
            return max((at for _, _, at in self.received), default=0.0)


class Canary:
    """Counts every connection made to it (SSRF payloads aim here)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


class Redirector:
    """Answers every request with a 302 to the canary."""

    def __init__(self, target: str) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(302)
                self.send_header("Location", target)
                self.end_headers()

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


# --- the stack -----------------------------------------------------------------------------------------


class Stack:
    def __init__(self, args) -> None:
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="quorum-chaos-"))
        self.pg = Postgres(self.root)
        self.redis = Redis(self.root)
        self.port = free_port()
        self.strict_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workdir = self.root / "work"
        self.workdir.mkdir()
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("QUORUM_", "DATABASE_", "CELERY_", "REDIS_"))
            },
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "test",
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "QUORUM_OUTBOUND_ALLOW_LOOPBACK": "1",  # the callback receiver is on loopback
            "QUORUM_MEDIA_ROOT": str(self.root / "media"),
            "QUORUM_EXPORT_TMP_DIR": str(self.root / "export-tmp"),
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "3",
            "CELERY_CONCURRENCY": "2",
            "WEBHOOK_CONCURRENCY": "4",
            "EXPORT_CONCURRENCY": "1",
            # The short tier re-dispatches a webhook wake-up lost with the broker after 10 s, not 60.
            **({"QUORUM_WEBHOOK_REDISPATCH_SECONDS": "10"} if args.quick else {}),
        }
        self.procs = ProcessSet(
            procfile=ROOT / "Procfile", cwd=self.workdir, env=self.env, log_dir=self.root / "logs"
        )
        self.strict: subprocess.Popen | None = None
        self.phase = "start"
        self.exits: list[str] = []  # processes that exited by themselves (a supervisor restarted them)
        self.lock = threading.Lock()
        self.supervising = threading.Event()

    def _supervise(self) -> None:
        """What systemd or Kubernetes does: restart a process that exited. Each exit is reported."""
        while self.supervising.is_set():
            with self.lock:
                for name in self.procs.dead():
                    code = self.procs.procs[name].process.returncode
                    self.exits.append(f"{name} exited ({code}) during {self.phase}")
                    tail = "\n".join(self.procs.procs[name].log().splitlines()[-30:])
                    say(f"{name} exited by itself ({code}); the end of its log:\n{tail}\nrestarting it")
                    self.procs.start(name)
            time.sleep(0.5)

    def kill_and_restart(self, name: str) -> None:
        """``kill -9`` of the process group, then a restart (as a supervisor would)."""
        with self.lock:
            self.procs.kill(name)
            self.procs.start(name)

    # servers and processes
    def start(self, names: list[str]) -> None:
        say(f"initdb + PostgreSQL on :{self.pg.port}, redis-server on :{self.redis.port} (in {self.root})")
        self.pg.init()
        self.redis.start()
        os.environ.update({k: v for k, v in self.env.items() if k not in ("PATH", "PORT")})
        for key in [k for k in os.environ if k.startswith("CELERY_") or k in ("QUORUM_REDIS_PREFIX",)]:
            os.environ.pop(key, None)
        import django

        django.setup()
        from django.core.management import call_command

        say("migrate")
        call_command("migrate", verbosity=0)
        from django.db import connections

        connections.close_all()
        say(f"starting {', '.join(names)}")
        for name in names:
            self.procs.start(name)
        assert wait_until(lambda: http_ok(f"{self.base}/healthz") or self.procs.dead(), timeout=120)
        assert not self.procs.dead(), self.logs()
        for name in names:
            if name in ("worker", "webhooks", "exports"):
                assert self.procs.wait_log(name, r"ready\.", timeout=120), self.logs()
        self.supervising.set()
        threading.Thread(target=self._supervise, daemon=True).start()

    def start_strict_web(self) -> str:
        """A second web process with the production outbound rule (loopback refused)."""
        env = {k: v for k, v in self.env.items() if k != "QUORUM_OUTBOUND_ALLOW_LOOPBACK"}
        env.update(PORT=str(self.strict_port), WEB_CONCURRENCY="1")
        self.strict = subprocess.Popen(
            ["sh", "-c", "exec " + read_procfile(ROOT / "Procfile")["web"]],
            cwd=self.workdir, env=env,
            stdout=open(self.root / "logs" / "web-strict.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{self.strict_port}"
        assert wait_until(lambda: http_ok(f"{url}/healthz"), timeout=90), "strict web did not start"
        return url

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.log()[-1500:]}" for n, p in self.procs.procs.items() if p.process)

    def stop(self) -> None:
        self.supervising.clear()
        with self.lock:
            self.procs.stop_all()
        if self.strict and self.strict.poll() is None:
            os.killpg(self.strict.pid, signal.SIGTERM)
            self.strict.wait(timeout=20)
        self.redis.stop()
        self.pg.stop("fast")

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.pg.url, connect_timeout=5, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


# --- seeding (in this process, through the services) -------------------------------------------------


class World:
    """A client with live and test keys, annotators with tokens, and helpers for HTTP calls."""

    def __init__(self, stack: Stack) -> None:
        from annotation import services as annotation_services
        from clients import services as client_services
        from clients.models import ApiKey

        self.stack = stack
        self.client = client_services.client_create(name=f"Chaos {uuid.uuid4().hex[:6]}")
        self.live_key = client_services.api_key_create(
            client=self.client, name="live", mode=ApiKey.Mode.LIVE
        ).key
        self.test_key = client_services.api_key_create(
            client=self.client, name="test", mode=ApiKey.Mode.TEST
        ).key
        self.tokens: list[str] = []
        for i in range(18):  # 16 for the load, 2 for the lease phase
            user = client_services.user_create(email=f"chaos-{uuid.uuid4().hex[:8]}-{i}@example.test")
            annotation_services.annotator_create(user=user, actor="system:chaos", active=True)
            self.tokens.append(client_services.access_token_create(user=user, name="chaos").key)
        self.password = "chaos-password-" + uuid.uuid4().hex
        self.victim = client_services.user_create(
            email=f"victim-{uuid.uuid4().hex[:6]}@example.test", password=self.password, is_staff=True
        )
        from django.db import connections

        connections.close_all()

    def call(self, method: str, path: str, key: str, body=None, base: str | None = None, **kw):
        return requests.request(
            method, (base or self.stack.base) + path, json=body, timeout=60,
            headers={"Authorization": f"Bearer {key}", **kw.pop("headers", {})}, **kw,
        )  # fmt: skip

    def project(self, **fields) -> str:
        body = {
            "name": f"chaos {uuid.uuid4().hex[:8]}", "task_type": "categorization",
            "params": {"categories": ["car", "bike", "bus"], "attachment_type": "image"}, "overlap": 1,
            "price_per_task": 25, **fields,
        }  # fmt: skip
        r = self.call("POST", "/api/v1/projects", self.live_key, body)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def tasks(self, project: str, n: int, *, callback: str = "", key: str | None = None) -> list[str]:
        ids: list[str] = []
        for start in range(0, n, 5000):
            items = [
                {"params": {"attachment": f"https://images.example.com/{uuid.uuid4().hex}.jpg"},
                 **({"callback_url": callback} if callback else {})}
                for _ in range(min(5000, n - start))
            ]  # fmt: skip
            r = self.call(
                "POST", "/api/v1/tasks/bulk", key or self.live_key, {"project": project, "tasks": items}
            )
            assert r.status_code == 201, r.text
            ids += [t["task_id"] for t in r.json()["tasks"]]
        return ids


class Load:
    """Annotators claiming and submitting in threads until stopped (or the queue is empty)."""

    def __init__(
        self, world: World, project: str, tokens: list[str], *, stop_when_empty: bool = False
    ) -> None:
        self.world, self.project, self.tokens = world, project, tokens
        self.stop = threading.Event()
        self.stop_when_empty = stop_when_empty
        self.lock = threading.Lock()
        self.status = Counter()
        self.submit_5xx_committed = 0
        self.submits_ok = 0
        self.first_ok_after: dict[str, float] = {}
        self.errors: list[str] = []
        self.submit_times: list[tuple[float, float]] = []  # (when, seconds) of each submit answered
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True) for t in tokens]

    def start(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout: float = 300) -> None:
        for t in self.threads:
            t.join(timeout=timeout)

    def finish(self) -> None:
        self.stop.set()
        self.join()

    def _note(self, what: str, code: int) -> None:
        with self.lock:
            self.status[f"{what}:{code}"] += 1
            if what == "submit" and code == 200:
                self.submits_ok += 1

    def _run(self, token: str) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        base = self.world.stack.base
        empty = 0
        while not self.stop.is_set():
            try:
                r = session.post(
                    f"{base}/api/v1/work/next", json={"project": self.project, "resume": False}, timeout=60
                )
            except requests.RequestException as exc:
                self._note("claim", 0)
                self.errors.append(f"claim: {exc}")
                time.sleep(0.2)
                continue
            self._note("claim", r.status_code)
            if r.status_code != 200:
                time.sleep(0.2)
                continue
            assignment = r.json().get("assignment")
            if assignment is None:
                empty += 1
                if self.stop_when_empty and empty >= 3:
                    return
                time.sleep(0.2)
                continue
            empty = 0
            body = {
                "claim_version": assignment["claim_version"],
                "answer": {"category": random.choice(["car", "bike"])},
            }
            sent = time.monotonic()
            try:
                s = session.post(
                    f"{base}/api/v1/work/assignments/{assignment['id']}/submit", json=body, timeout=60
                )
                code = s.status_code
            except requests.RequestException as exc:
                code = 0
                self.errors.append(f"submit: {exc}")
            self._note("submit", code)
            with self.lock:
                self.submit_times.append((sent, time.monotonic() - sent))
            if code >= 500 or code == 0:
                # Did the work commit anyway? (the failure: 500 on a committed submit)
                try:
                    rows = self.world.stack.sql(
                        "SELECT count(*) FROM annotation_submission WHERE assignment_id = %s",
                        (assignment["id"],),
                    )
                    if rows[0][0]:
                        with self.lock:
                            self.submit_5xx_committed += 1
                except Exception:  # the database itself is down: nothing committed during the outage
                    pass

    def count(self, prefix: str = "", low: int = 0, high: int = 999) -> int:
        with self.lock:
            return sum(
                n
                for key, n in self.status.items()
                if key.startswith(prefix) and low <= int(key.split(":")[1]) <= high
            )


# --- phases ---------------------------------------------------------------------------------------------


def phase_contention(stack: Stack, world: World, quick: bool) -> None:
    n = 30 if quick else 200
    project = world.project(overlap=3)
    world.tasks(project, n)
    started = time.monotonic()
    load = Load(world, project, world.tokens[:16], stop_when_empty=True).start()
    load.join(timeout=300)
    seconds = time.monotonic() - started
    over = stack.sql(
        """SELECT count(*) FROM (SELECT a.task_id FROM annotation_assignment a
            JOIN annotation_task t ON t.id = a.task_id
            WHERE t.project_id = %s AND a.status IN ('active', 'submitted') GROUP BY a.task_id, t.overlap
            HAVING count(*) > t.overlap) x""",
        (project,),
    )[0][0]
    pairs = stack.sql(
        """SELECT count(*) FROM (SELECT task_id, annotator_id FROM annotation_assignment a
            JOIN annotation_task t ON t.id = a.task_id
            WHERE t.project_id = %s GROUP BY 1, 2 HAVING count(*) > 1) x""",
        (project,),
    )[0][0]
    completed = stack.sql(
        "SELECT count(*) FROM annotation_task WHERE project_id = %s AND status = 'completed'", (project,)
    )[0][0]
    figure("contention.annotators", 16)
    figure(
        "contention.over_assignment", over, "tasks holding more live or submitted assignments than overlap 3"
    )
    figure("contention.duplicate_pairs", pairs)
    figure("contention.http_5xx", load.count("", 500, 599) + load.count("", 0, 0))
    figure("contention.completed", f"{completed}/{n}")
    figure("contention.submits_per_second", round(load.submits_ok / seconds, 1))


def phase_redis_outage(stack: Stack, world: World, quick: bool) -> None:
    outage = 5 if quick else 30
    receiver = Receiver()
    project = world.project()
    ids = world.tasks(project, 3000 if not quick else 600, callback=receiver.url)
    load = Load(world, project, world.tokens[:8]).start()
    wait_until(lambda: load.submits_ok >= 20, timeout=60)
    before = load.submits_ok
    say(f"stopping Redis for {outage} s under load")
    stack.redis.stop()
    stopped = time.monotonic()
    wait_until(lambda: False, timeout=outage, interval=0.5)  # the outage itself
    during = load.submits_ok - before
    stack.redis.start()
    back = time.monotonic()
    say("Redis is back")
    wait_until(lambda: load.submits_ok >= during + before + 20, timeout=60)
    load.finish()
    completed = {
        str(r[0])
        for r in stack.sql(
            "SELECT id FROM annotation_task WHERE project_id = %s AND status = 'completed'", (project,)
        )
    }
    delivered = wait_until(lambda: completed <= set(receiver.task_ids()), timeout=150, interval=0.5)
    got = receiver.task_ids()
    lost = len(completed - set(got))
    figure("redis_outage.seconds", round(back - stopped, 1))

    def median_ms(low: float, high: float) -> float | str:
        times = sorted(dt for at, dt in load.submit_times if low <= at < high)
        return round(times[len(times) // 2] * 1000, 1) if times else "none"

    figure(
        "redis_outage.submit_ms_before",
        median_ms(0, stopped),
        "median; each submit queues a callback wake-up",
    )
    figure("redis_outage.submit_ms_during", median_ms(stopped + 1, back), "median; the wake-up fails fast")
    figure("redis_outage.submits_during_outage", during)
    figure("redis_outage.http_5xx", load.count("", 500, 599) + load.count("", 0, 0))
    figure(
        "redis_outage.committed_5xx", load.submit_5xx_committed, "5xx answers to submits that had committed"
    )
    figure("redis_outage.callbacks_lost", lost, f"of {len(completed)} completed tasks")
    figure(
        "redis_outage.callbacks_duplicated", sum(n - 1 for t, n in got.items() if t in completed and n > 1)
    )
    figure(
        "redis_outage.recovery_seconds", round(receiver.last_at() - back, 1) if delivered else "not recovered"
    )
    del ids


def phase_pg_restart(stack: Stack, world: World, quick: bool) -> None:
    project = world.project()
    world.tasks(project, 3000)
    load = Load(world, project, world.tokens[:8]).start()
    wait_until(lambda: load.submits_ok >= 20, timeout=60)
    say("PostgreSQL fast stop and immediate restart under load")
    stopped = time.monotonic()
    stack.pg.stop("fast")
    stack.pg.start()
    restarted = time.monotonic()
    mark = load.submits_ok
    recovered = wait_until(lambda: load.submits_ok > mark + 5, timeout=120, interval=0.1)
    recovery = time.monotonic() - restarted
    wait_until(lambda: load.submits_ok > mark + 40, timeout=60)
    load.finish()
    not_once = stack.sql(
        """SELECT count(*) FROM annotation_task t WHERE t.project_id = %s AND t.status = 'completed'
            AND (SELECT count(*) FROM billing_ledgertransaction x WHERE x.kind = 'task_charge'
                 AND x.idempotency_key = 'task:' || t.id || ':charge') <> 1""",
        (project,),
    )[0][0]
    completed = stack.sql(
        "SELECT count(*) FROM annotation_task WHERE project_id = %s AND status = 'completed'", (project,)
    )[0][0]
    ledger_sum = stack.sql("SELECT coalesce(sum(amount), 0) FROM billing_ledgerentry")[0][0]
    unbalanced = stack.sql(
        "SELECT count(*) FROM (SELECT transaction_id FROM billing_ledgerentry "
        "GROUP BY 1 HAVING sum(amount) <> 0) x"
    )[0][0]
    figure("pg_restart.down_seconds", round(restarted - stopped, 1))
    figure("pg_restart.completed_tasks", completed)
    figure("pg_restart.charges_not_one", not_once, "completed tasks not charged exactly once")
    figure("pg_restart.ledger_sum", ledger_sum)
    figure("pg_restart.unbalanced_transactions", unbalanced)
    figure("pg_restart.http_503", load.count("", 503, 503))
    figure("pg_restart.http_500", load.count("", 500, 500))
    figure("pg_restart.committed_5xx", load.submit_5xx_committed)
    figure("pg_restart.recovery_seconds", round(recovery, 1) if recovered else "not recovered")


SETTLE_AFTER_KILL = 65.0  # seconds: past the delivery lease (15 s deadline + 30 s) and a dispatcher run


def _kill_and_count(stack: Stack, name: str, receiver: Receiver, expected: set[str], kill_after: int) -> None:
    assert wait_until(lambda: len(receiver.task_ids()) >= kill_after, timeout=120), (
        f"{name}: no callbacks before the kill"
    )
    say(f"kill -9 {name}")
    killed = time.monotonic()
    pending = len(expected - set(receiver.task_ids()))
    stack.kill_and_restart(name)
    delivered = wait_until(lambda: expected <= set(receiver.task_ids()), timeout=240, interval=0.5)
    last = receiver.last_at()
    # Deliveries in flight at the kill may have reached the receiver already; they are sent again when
    # their lease ends (the send deadline + 30 s). Keep listening past that, so duplicates are counted.
    wait_until(
        lambda: time.monotonic() > killed + SETTLE_AFTER_KILL, timeout=SETTLE_AFTER_KILL + 5, interval=0.5
    )
    got = receiver.task_ids()
    figure(f"kill_{name}.callbacks_expected", len(expected))
    figure(f"kill_{name}.callbacks_pending_at_kill", pending, "the kill landed mid-work")
    figure(f"kill_{name}.callbacks_lost", len(expected - set(got)))
    figure(
        f"kill_{name}.callbacks_duplicated",
        sum(n - 1 for t, n in got.items() if n > 1),
        "at least once: re-sent after the kill",
    )
    recovery = round(max(0.0, last - killed), 1)
    figure(
        f"kill_{name}.recovery_seconds",
        recovery if delivered else "not recovered",
        "kill to the last callback",
    )


def phase_kill_webhooks(stack: Stack, world: World, quick: bool) -> None:
    receiver = Receiver(
        delay=1.0
    )  # 4 deliveries a second with WEBHOOK_CONCURRENCY=4: the kill lands mid-work
    project = world.project()
    ids = world.tasks(project, 80, callback=receiver.url)
    load = Load(world, project, world.tokens[:8], stop_when_empty=True).start()
    _kill_and_count(stack, "webhooks", receiver, set(ids), kill_after=10)
    load.join(timeout=120)


def phase_kill_default(stack: Stack, world: World, quick: bool) -> None:
    """Test-mode tasks are completed by the simulator on the default worker, which also runs the
    relays that beat schedules; kill it mid-simulation."""
    receiver = Receiver(delay=0.05)
    project = world.project()
    ids = world.tasks(project, 200, callback=receiver.url, key=world.test_key)
    _kill_and_count(stack, "worker", receiver, set(ids), kill_after=5)


def phase_kill_exports(stack: Stack, world: World, quick: bool) -> None:
    project = world.project()
    world.tasks(project, 20000)
    r = world.call(
        "POST", f"/api/v1/projects/{project}/exports", world.live_key,
        {"format": "jsonl", "options": {"statuses": ["pending"], "include_answers": True}},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    export_id = r.json()["id"]

    def status():
        return stack.sql("SELECT status, attempts FROM annotation_exportjob WHERE id = %s", (export_id,))[0]  # noqa: E731

    assert wait_until(lambda: status()[0] == "running", timeout=120), status()
    tmp = Path(stack.env["QUORUM_EXPORT_TMP_DIR"]) / "quorum-exports"
    wait_until(lambda: tmp.is_dir() and any(tmp.iterdir()), timeout=30, interval=0.05)
    say("kill -9 exports (mid-export)")
    killed = time.monotonic()
    stack.kill_and_restart("exports")
    left_at_kill = len(list(tmp.iterdir())) if tmp.is_dir() else 0
    ready = wait_until(lambda: status()[0] in ("ready", "failed"), timeout=240, interval=0.5)
    recovery = time.monotonic() - killed
    final, attempts = status()
    count = stack.sql("SELECT task_count FROM annotation_exportjob WHERE id = %s", (export_id,))[0][0]
    figure("kill_exports.recovery_seconds", round(recovery, 1) if ready else "not recovered", "kill to ready")
    figure("kill_exports.status", final)
    figure("kill_exports.attempts", attempts)
    figure("kill_exports.tasks_exported", f"{count}/20000")
    figure("kill_exports.temp_folders_at_kill", left_at_kill)
    figure("kill_exports.temp_folders_left", len(list(tmp.iterdir())) if tmp.is_dir() else 0)


def phase_lease_start(stack: Stack, world: World, quick: bool) -> None:
    project = world.project(lease_seconds=30)
    world.tasks(project, 1)
    r = world.call("POST", "/api/v1/work/next", world.tokens[16], {"project": project})
    world.lease = (project, r.json()["assignment"], time.monotonic())


def phase_lease_check(stack: Stack, world: World, quick: bool) -> None:
    project, stale, claimed_at = world.lease
    wait_until(lambda: time.monotonic() - claimed_at > 30, timeout=60, interval=0.5)
    expired = time.monotonic()
    fresh = None

    def reclaim():
        nonlocal fresh
        r = world.call("POST", "/api/v1/work/next", world.tokens[17], {"project": project})
        fresh = r.json().get("assignment") if r.status_code == 200 else None
        return fresh

    freed = wait_until(reclaim, timeout=90, interval=1)
    late = world.call(
        "POST", f"/api/v1/work/assignments/{stale['id']}/submit", world.tokens[16],
        {"claim_version": stale["claim_version"], "answer": {"category": "car"}},
    )  # fmt: skip
    ok = world.call(
        "POST", f"/api/v1/work/assignments/{fresh['id']}/submit", world.tokens[17],
        {"claim_version": fresh["claim_version"], "answer": {"category": "bus"}},
    ) if fresh else None  # fmt: skip
    figure("lease.freed_seconds_after_expiry", round(time.monotonic() - expired, 1) if freed else "never")
    figure("lease.stale_submit_status", late.status_code)
    figure("lease.new_holder_submit_status", ok.status_code if ok is not None else "none")


SSRF_HOSTS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "0177.0.0.1",
    "0x7f.0.0.1",
    "0x7f000001",
    "2130706433",
    "017700000001",
    "127.000.000.001",
    "0",
    "0.0.0.0",
    "localhost",
    "LOCALHOST",
    "[::1]",
    "[::]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "169.254.169.254",
    "[fe80::1]",
    "[fd00:ec2::254]",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "198.18.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "[fc00::1]",
    "127.127.127.127",
    "0x7f.1",
    "127.0.0.1.",
]  # fmt: skip  (literal addresses and localhost only: no payload may need a DNS query)


def ssrf_payloads(port: int) -> list[str]:
    out = []
    for host in SSRF_HOSTS:
        out += [f"http://{host}:{port}/cb", f"https://{host}:{port}/cb", f"http://{host}/"]
    out += [
        f"http://user@127.0.0.1:{port}/", f"http://user:pass@127.0.0.1:{port}/", f"http://127.0.0.1:{port}#@x/",
        f"http://x@127.0.0.1:{port}/", "file:///etc/passwd", "file://localhost/etc/passwd",
        f"gopher://127.0.0.1:{port}/_x", f"dict://127.0.0.1:{port}/info", f"ftp://127.0.0.1:{port}/",
        f"ldap://127.0.0.1:{port}/", "javascript:alert(1)", "data:text/plain,hi", f"//127.0.0.1:{port}/",
        f"http:/127.0.0.1:{port}/", f"http:\\\\127.0.0.1:{port}/",
        f" http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/\r\nX: y", f"http://[::ffff:127.0.0.1]:{port}/",
        f"HTTP://127.0.0.1:{port}/", f"http://0x7f000001:{port}/", "http://169.254.169.254/latest/meta-data/",
"http://127.0.0.1:6379/", "http://127.0.0.1:5432/",
    ]  # fmt: skip
    return out


def phase_ssrf(stack: Stack, world: World, quick: bool) -> None:
    canary = Canary()
    payloads = ssrf_payloads(canary.port)
    strict = stack.start_strict_web()
    project = world.project()
    refused_api = 0
    server_errors = 0
    for url in payloads:
        r = world.call(
            "POST", "/api/v1/tasks/bulk", world.live_key,
            {"project": project,
             "tasks": [{"params": {"attachment": "https://images.example.com/a.jpg"}, "callback_url": url}]},
            base=strict,
        )  # fmt: skip
        refused_api += 400 <= r.status_code < 500
        server_errors += r.status_code >= 500
        if quick:
            continue  # the short tier checks the task callback_url only
        b = world.call(
            "POST",
            "/api/v1/batches",
            world.live_key,
            {"project": project, "name": uuid.uuid4().hex, "callback_url": url},
            base=strict,
        )
        refused_api += 400 <= b.status_code < 500
        server_errors += b.status_code >= 500
    # Send time: the outbound guard itself, as a worker runs it, with the production rule.
    from django.conf import settings

    from core import outbound

    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = False
    settings.QUORUM_OUTBOUND_TIMEOUT_SECONDS = 3.0
    refused_send = sum(
        not outbound.post_json(url, b"{}", {"content-type": "application/json"}).ok for url in payloads
    )
    # A redirect to the canary from an allowed receiver is not followed.
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    redirect = outbound.post_json(Redirector(f"http://127.0.0.1:{canary.port}/").url, b"{}", {})
    time.sleep(0.5)  # let a connection that should not happen arrive before counting
    figure("ssrf.payloads", len(payloads))
    tried = len(payloads) * (1 if quick else 2)
    figure("ssrf.refused_by_api", f"{refused_api}/{tried}", "task callback_url (and batch callback_url)")
    figure("ssrf.api_5xx", server_errors)
    figure("ssrf.refused_at_send", f"{refused_send}/{len(payloads)}")
    figure("ssrf.redirect_followed", redirect.status_code != 302)
    figure("ssrf.canary_connections", canary.connections)
    figure("ssrf.accepted", tried - refused_api)


def hostile_corpus(project: str, task: str, batch: str) -> list[tuple[str, str, object, dict]]:
    """(method, path, body, extra) — every one must be refused with a 4xx."""
    big = "x" * (300 * 1024)
    cases: list[tuple[str, str, object, dict]] = []
    proj_bodies = [
        {}, {"name": ""}, {"name": "a/b", "task_type": "categorization"}, {"name": "x", "task_type": "nope"},
        {"name": "x", "task_type": "categorization", "overlapp": 5},
        {"name": "x", "task_type": "categorization", "overlap": 0},
        {"name": "x", "task_type": "categorization", "overlap": 10**9},
        {"name": "x", "task_type": "categorization", "overlap": "three"},
        {"name": "x", "task_type": "categorization", "price_per_task": -1},
        {"name": "x", "task_type": "categorization", "price_per_task": 10**30},
        {"name": "x", "task_type": "categorization", "params": {"categories": ["a", "b"], "pad": big}},
        {"name": "x", "task_type": "categorization", "instructions": big},
        {"name": "x", "task_type": "categorization", "params": []},
        {"name": "x" * 5000, "task_type": "categorization"},
        {"name": ["x"], "task_type": "categorization"}, {"name": None, "task_type": "categorization"},
        {"name": "x", "task_type": "imageannotation", "params": {"attachment": "javascript:alert(1)"}},
        {"name": "x", "task_type": "categorization", "lease_seconds": 1},
        {"name": "x", "task_type": "categorization", "gold_ratio": 2},
        {"name": "x", "task_type": "categorization", "required_qualifications": ["not-a-uuid"]},
        [], "string", 12, None,
    ]  # fmt: skip
    cases += [("POST", "/api/v1/projects", body, {}) for body in proj_bodies]
    raw_bodies = [
        b"{", b'{"name": NaN}', b'{"name": "\\u0000"}', b'{"overlap": 1e400}', b'{"name": "\\ud800"}',
        b"\xff\xfe", b'{"a":' * 100000, b"[" * 100000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"name": "x", "name": "y", "task_type": 5}',
    ]  # fmt: skip
    cases += [("POST", "/api/v1/projects", raw, {"raw": True}) for raw in raw_bodies]
    cases += [
        ("POST", "/api/v1/projects", b"name=x", {"raw": True, "ctype": "application/x-www-form-urlencoded"})
    ]
    cases += [("POST", "/api/v1/projects", b"<xml/>", {"raw": True, "ctype": "application/xml"})]
    cases += [("PATCH", f"/api/v1/projects/{project}", body, {}) for body in [
        {"overlapp": 2}, {"overlap": -1}, {"params": {"pad": big}}, {"task_type": "comparison"},
        {"id": str(uuid.uuid4())}, {"price_per_task": "free"}, {"instructions": big},
    ]]  # fmt: skip
    ok_params = {"attachment": "https://images.example.com/a.jpg"}
    item_bodies = [
        {"params": ok_params, "metadata": {"pad": big}}, {"params": {**ok_params, "pad": big}},
        {"params": ok_params, "instruction": big}, {"params": ok_params, "tags": ["t"] * 1000},
        {"params": ok_params, "priority": 10**6}, {"params": ok_params, "priority": True},
        {"params": ok_params, "unique_id": ""}, {"params": ok_params, "unique_id": "u" * 500},
        {"params": ok_params, "callback_url": "file:///etc/passwd"}, {"params": ok_params, "colour": "red"},
        {"params": {"attachment": "data:text/html,<script>alert(1)</script>", "attachment_type": "website"}},
        {"params": {"attachment": "//evil.example.com/x", "attachment_type": "image"}},
        {"params": ok_params, "gold_answer": {"category": "not-a-category"}},
        {"params": ok_params, "metadata": []}, {"params": "x"}, [], "x", None,
    ]  # fmt: skip
    cases += [
        ("POST", "/api/v1/tasks/bulk", {"project": project, "tasks": [item]}, {}) for item in item_bodies
    ]
    cases += [
        ("POST", "/api/v1/tasks/bulk", {"project": project, "tasks": []}, {}),
        ("POST", "/api/v1/tasks/bulk", {"project": project, "tasks": [{"params": ok_params}] * 10001}, {}),
        ("POST", "/api/v1/tasks/bulk", {"project": str(uuid.uuid4()), "tasks": [{"params": ok_params}]}, {}),
        ("POST", "/api/v1/tasks/bulk", {"project": "../../etc", "tasks": [{"params": ok_params}]}, {}),
        ("POST", "/api/v1/tasks/bulk",
         {"project": project, "tasks": [{"params": ok_params, "unique_id": "d"}] * 2}, {}),
        ("POST", "/api/v1/tasks/bulk",
         {"project": project, "tasks": [{"params": ok_params}], "extra": 1}, {}),
        ("POST", "/api/v1/batches", {"project": project, "name": "b", "metadata": {"pad": big}}, {}),
        ("POST", "/api/v1/batches", {"project": project, "name": "b/../c"}, {}),
        ("POST", f"/api/v1/batches/{uuid.uuid4()}/finalize", None, {}),
        ("GET", "/api/v1/tasks/not-a-uuid", None, {}), ("GET", f"/api/v1/tasks/{uuid.uuid4()}", None, {}),
        ("GET", "/api/v1/tasks?status=nope", None, {}),
        ("GET", "/api/v1/tasks?created_after=yesterday", None, {}),
        ("GET", "/api/v1/tasks?limit=-1&cursor=%00%ff", None, {}),
        ("GET", "/api/v1/tasks?project=' OR 1=1 --", None, {}),
        ("POST", f"/api/v1/tasks/{task}/audit", {"accepted": "maybe"}, {}),
        ("POST", f"/api/v1/tasks/{task}/cancel", {"clear_unique_id": "perhaps"}, {}),
        ("POST", f"/api/v1/projects/{project}/exports", {"format": "pdf"}, {}),
        ("POST", f"/api/v1/projects/{project}/exports",
         {"format": "jsonl", "options": {"statuses": ["x"]}}, {}),
        ("POST", f"/api/v1/projects/{project}/exports",
         {"format": "jsonl", "options": {"batch": "../x"}}, {}),
        ("POST", f"/api/v1/projects/{project}/exports", {"format": "coco"}, {}),
        ("POST", "/api/v1/api-keys", {"name": "k", "mode": "god"}, {}),
        ("POST", "/api/v1/billing/payouts", {"amount": 10}, {}),
        ("POST", "/api/v1/staff/clients/x/topups", {"amount": 10**12}, {}),
        ("GET", "/api/v1/../../etc/passwd", None, {}), ("DELETE", f"/api/v1/projects/{project}", None, {}),
        ("GET", "/api/v1/projects", None, {"auth": "Bearer qk_live_forged"}),
        ("GET", "/api/v1/projects", None, {"auth": "Basic Og=="}),
        ("GET", "/api/v1/projects", None, {"auth": "Bearer " + "A" * 10000}),
        ("GET", "/api/v1/projects", None, {"auth": ""}),
        ("POST", "/v1/task/categorization",
         {"project": "nope", "attachment": "https://a.example/x.jpg"}, {"scale": True}),
        ("POST", "/v1/task/categorization", {"metadata": {"pad": big}}, {"scale": True}),
        ("POST", "/v1/task/teleport", {"project": "x"}, {"scale": True}),
        ("POST", f"/v1/task/{task}/setMetadata", [1, 2], {"scale": True}),
        ("POST", f"/v1/task/{task}/setMetadata", {"pad": big}, {"scale": True}),
        ("GET", "/v1/tasks?limit=abc", None, {"scale": True}),
        ("GET", "/v1/tasks?start_time=never", None, {"scale": True}),
        ("POST", f"/v1/batches/{batch}/finalize", None, {"scale": True, "key": "test"}),
        ("POST", "/v1/projects", {"name": "a/b", "type": "categorization"}, {"scale": True}),
    ]  # fmt: skip
    return cases


def phase_hostile(stack: Stack, world: World, quick: bool) -> None:
    project = world.project()
    (task,) = world.tasks(project, 1)
    batch_name = "chaos-batch-" + uuid.uuid4().hex[:6]
    world.call("POST", "/api/v1/batches", world.live_key, {"project": project, "name": batch_name})
    token = world.tokens[2]
    claim = world.call("POST", "/api/v1/work/next", token, {"project": project, "resume": False}).json()[
        "assignment"
    ]
    cases = hostile_corpus(project, task, batch_name)
    if claim:
        path = f"/api/v1/work/assignments/{claim['id']}/submit"
        for body in [{"claim_version": claim["claim_version"], "answer": {"category": "plane"}},
                     {"claim_version": claim["claim_version"], "answer": {"category": "car", "x": 1}},
                     {"claim_version": claim["claim_version"], "answer": {"category": "c" * 300_000}},
                     {"claim_version": "one", "answer": {"category": "car"}},
                     {"claim_version": claim["claim_version"] + 7, "answer": {"category": "car"}},
                     {"claim_version": claim["claim_version"], "answer": [], "x": 1},
                     {"claim_version": claim["claim_version"]}]:  # fmt: skip
            cases.append(("POST", path, body, {"token": token}))
    counts_sql = """SELECT (SELECT count(*) FROM annotation_project), (SELECT count(*) FROM annotation_task),
        (SELECT count(*) FROM annotation_batch), (SELECT count(*) FROM annotation_submission),
        (SELECT count(*) FROM annotation_exportjob), (SELECT count(*) FROM clients_apikey)"""
    before = stack.sql(counts_sql)[0]
    server_errors, accepted, statuses = 0, [], Counter()
    for method, path, body, extra in cases:
        key = world.test_key if extra.get("key") == "test" else extra.get("token") or world.live_key
        headers = {"Content-Type": extra.get("ctype", "application/json")}
        auth = extra.get("auth")
        headers["Authorization"] = auth if auth is not None else f"Bearer {key}"
        data = body if extra.get("raw") else (json.dumps(body).encode() if body is not None else None)
        try:
            r = requests.request(method, stack.base + path, data=data, headers=headers, timeout=60)
            code = r.status_code
        except requests.RequestException:
            code = 0
        statuses[code // 100] += 1
        if code >= 500 or code == 0:
            server_errors += 1
            say(f"5xx: {method} {path} -> {code}")
        elif code < 400:
            accepted.append(f"{method} {path} {str(body)[-160:]!r} -> {code}")
    after = stack.sql(counts_sql)[0]
    changed = sum(abs(a - b) for a, b in zip(after, before, strict=True))
    figure("hostile.cases", len(cases))
    figure("hostile.http_5xx", server_errors)
    figure("hostile.accepted_but_wrong", len(accepted), "; ".join(accepted[:5]))
    figure("hostile.rows_changed", changed, "projects, tasks, batches, submissions, exports, keys")


def phase_brute_force(stack: Stack, world: World, quick: bool) -> None:
    for path, label in (("/login/", "login"), ("/admin/login/", "admin")):
        session = requests.Session()
        session.get(stack.base + path, timeout=30)
        token = session.cookies.get("csrftoken")
        evaluated = locked = 0
        started = time.monotonic()
        attempts = 12 if quick else 60
        for _ in range(attempts):
            r = session.post(
                stack.base + path, timeout=60,
                data={"username": world.victim.email, "password": "wrong-" + uuid.uuid4().hex,
                      "csrfmiddlewaretoken": token},
                headers={"Referer": stack.base + path},
            )  # fmt: skip
            if r.status_code == 429:
                locked += 1
            elif r.status_code == 200:
                evaluated += 1
        seconds = time.monotonic() - started
        right = session.post(
            stack.base + path, timeout=60, allow_redirects=False,
            data={"username": world.victim.email, "password": world.password, "csrfmiddlewaretoken": token},
            headers={"Referer": stack.base + path},
        )  # fmt: skip
        per_minute = evaluated if seconds <= 60 else round(evaluated * 60 / seconds, 1)
        figure(f"brute_force.{label}.attempts", attempts)
        figure(
            f"brute_force.{label}.evaluated_per_minute",
            per_minute,
            "wrong passwords answered before the lockout",
        )
        figure(f"brute_force.{label}.locked_answers", locked)
        figure(f"brute_force.{label}.right_password_after_lockout", right.status_code, "429 = refused")
        # unlock for the next path: the lockout is per path-independent (email, address) pair
        stack.sql("DELETE FROM axes_accessattempt")


PHASES = {
    "lease_start": phase_lease_start,
    "contention": phase_contention,
    "ssrf": phase_ssrf,
    "hostile": phase_hostile,
    "brute_force": phase_brute_force,
    "kill_webhooks": phase_kill_webhooks,
    "kill_default": phase_kill_default,
    "kill_exports": phase_kill_exports,
    "redis_outage": phase_redis_outage,
    "pg_restart": phase_pg_restart,
    "lease_check": phase_lease_check,
}
NEEDS = {  # the Procfile processes a phase needs
    "kill_webhooks": {"webhooks", "worker", "beat"},
    "kill_default": {"webhooks", "worker", "beat"},
    "kill_exports": {"exports", "worker", "beat"},
    "redis_outage": {"webhooks", "worker", "beat"},
    "lease_check": {"worker", "beat"},
}


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short tier (make test runs it)")
    parser.add_argument("--only", help="comma-separated phases: " + ", ".join(PHASES))
    parser.add_argument("--json", help="where to write the result (default bench/results/chaos-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) afterwards")
    args = parser.parse_args()
    phases = args.only.split(",") if args.only else (PHASES_QUICK if args.quick else PHASES_FULL)
    if "lease_check" in phases and "lease_start" not in phases:
        phases.insert(0, "lease_start")
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    names = ["web"] + sorted(
        set().union(*(NEEDS.get(p, set()) for p in phases)),
        key=["worker", "webhooks", "exports", "beat"].index,
    )
    started_at = datetime.now(UTC)
    stack = Stack(args)
    failed: list[str] = []
    try:
        stack.start(names)
        world = World(stack)
        for name in phases:
            say(f"phase {name}")
            phase_started = time.monotonic()
            stack.phase = name
            try:
                PHASES[name](stack, world, args.quick)
            except Exception as exc:  # one broken phase is reported, the others still run
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
                say(f"phase {name} FAILED: {exc}\n{stack.logs()}")
            PHASE_SECONDS[name] = round(time.monotonic() - phase_started, 1)
    finally:
        stack.stop()
    wall = time.monotonic() - T0
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    figure("suite.wall_seconds", round(wall, 1))
    figure("suite.unexpected_exits", len(stack.exits), "; ".join(stack.exits))
    figure("suite.failed_phases", len(failed), "; ".join(failed))
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": _commit(),
        "started": started_at.isoformat(),
        "mode": "quick" if args.quick else ("only" if args.only else "full"),
        "phases": phases,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": {
            "this_process": round(own.ru_utime + own.ru_stime, 1),
            "children": round(children.ru_utime + children.ru_stime, 1),
        },  # fmt: skip
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "figures": FIGURES,
        "notes": NOTES,
        "phase_seconds": PHASE_SECONDS,
        "failed": failed,
    }
    out = (
        Path(args.json)
        if args.json
        else ROOT / "bench" / "results" / f"chaos-{started_at:%Y%m%d-%H%M%S}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    say(f"result: {out}")
    if not args.keep:
        shutil.rmtree(stack.root, ignore_errors=True)
    else:
        say(f"kept {stack.root}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
