"""A multi-node Quorum on this one machine (issue 18): ``make cluster`` and ``make cluster-check``.

    make cluster                 # start it, print the URL, stay up until Ctrl-C
    make cluster-check           # start it, run the checks through it, print the figures, stop
    .venv/bin/python deploy/cluster.py --check --quick      # a smaller check (fewer tasks)
    .venv/bin/python deploy/cluster.py --check --inject all # the invariants must fail: exit 1

What runs, all on 127.0.0.1 and all its own (data, logs and schedule files in
``var/cluster-<run>/``, ``<run>`` from ``QUORUM_RUN_NAME`` as in config/devservices.py; wiped at
the next start, kept after a stop for reading the logs):

- a primary PostgreSQL (``initdb`` on a free port: bench/chaos.py's ``Postgres``) and a streaming
  read replica made from it with ``pg_basebackup -R`` on another port (``Replica`` below);
- PgBouncer in transaction mode in front of the primary (config/pgbouncer.py's ``start``);
- a ``redis-server`` (bench/chaos.py's ``Redis``);
- two nodes, each running every line of the Procfile from its own folder (bench/procs.py): granian
  on its own port, the ``worker``, ``webhooks`` and ``exports`` Celery workers, and beat. The nodes
  reach PostgreSQL through PgBouncer (``DATABASE_POOLER=pgbouncer``); beat's leader lock goes to the
  primary directly (``QUORUM_SCHEDULER_DATABASE_URL``); ``DATABASE_REPLICA_URL`` names the replica;
- HAProxy (Debian's ``haproxy``) in front of both web nodes, routing on ``GET /readyz``.

``--check`` then drives it as clients and annotators would, through the load balancer: the end-to-end
loop (a client creates a priced project and tasks with callbacks to a receiver in this process;
annotators claim and submit until every task is complete) and 16 annotators contending at overlap 3.
It counts, from PostgreSQL and the processes' logs, and exits 1 if any invariant fails:

- over-assignments: tasks holding more live or submitted assignments than their overlap (0);
- double charges: task references with more than one ``task_charge`` in the ledger (0), and
  completed tasks with none (0);
- callbacks lost: completed tasks with a callback URL whose callback never arrived (0);
- periodic jobs: every ``Sending due task`` line of both beats, per job, and every message of those
  jobs the workers of both nodes received: one beat sends (the other waits for the lock), each
  interval job's sends are one period apart (runs per period 1.0, no gap under half a period),
  each crontab job sent once per due minute, and each send executed once;
- processes that exited by themselves (0).

``--inject`` breaks one thing per name, to show the counters catch it: ``over-assignment`` (an extra
submitted assignment on a completed task), ``double-charge`` (a second ``task_charge`` for a task),
``lost-callback`` (one task's callback URL points at a closed port), ``double-beat`` (node 2's beat
without the leader lock: ``--scheduler celery.beat:PersistentScheduler``).

The result (``--json``, default ``bench/results/cluster-<time>.json``) holds the command, the commit,
the load average and every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402 - after the path is set

from bench.chaos import Load, Postgres, Receiver, Redis, World  # noqa: E402
from bench.procs import ProcessSet, http_ok, wait_until  # noqa: E402
from bench.provenance import provenance  # noqa: E402
from config import pgbouncer  # noqa: E402
from config.devservices import run_name  # noqa: E402
from config.launcher import free_port  # noqa: E402

INJECTIONS = ("over-assignment", "double-charge", "lost-callback", "double-beat")
START_TIMEOUT = 180.0  # hang guards: two nodes importing Django on two shared cores
WORK_TIMEOUT = 900.0
T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


class Replica(Postgres):
    """A streaming standby of ``primary`` (``pg_basebackup -R``) on its own port and folder."""

    def __init__(self, root: Path, primary: Postgres) -> None:
        super().__init__(root / "replica")
        self.primary = primary

    def init(self) -> None:
        # fmt: off
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                  "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync")
        # fmt: on
        with open(self.data / "postgresql.conf", "a") as f:  # later lines win over the primary's
            f.write(f"port = {self.port}\nunix_socket_directories = '{self.dir}'\n")
        self.start()


class HAProxy:
    """HAProxy in front of the web nodes: round robin, ``GET /readyz`` health checks, a stats page."""

    def __init__(self, root: Path, port: int, servers: list[tuple[str, int]]) -> None:
        self.dir = root / "haproxy"
        self.dir.mkdir(parents=True)
        self.port, self.stats_port = port, free_port()
        self.servers = servers
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        exe = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
        if not exe:
            sys.exit("cluster: haproxy is not installed: apt-get install -y haproxy (.ci/run does this)")
        backends = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in self.servers)
        (self.dir / "haproxy.cfg").write_text(f"""\
global
    log stdout format raw local0 notice
    maxconn 2000

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    retries 2
    option redispatch

frontend quorum
    bind 127.0.0.1:{self.port}
    default_backend web

backend web
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 2s fall 2 rise 1
{backends}

listen stats
    bind 127.0.0.1:{self.stats_port}
    stats enable
    stats uri /
""")
        with open(self.dir / "haproxy.log", "ab") as log:
            self.process = subprocess.Popen(
                [exe, "-db", "-f", str(self.dir / "haproxy.cfg")], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def stats(self) -> dict[str, dict[str, str]]:
        """``{server: row}`` of HAProxy's CSV statistics for the web backend."""
        try:
            text = requests.get(f"http://127.0.0.1:{self.stats_port}/;csv", timeout=5).text
        except requests.RequestException:
            return {}
        lines = text.splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {r["svname"]: r for r in rows if r.get("pxname") == "web"}

    def all_up(self) -> bool:
        stats = self.stats()
        return all(stats.get(name, {}).get("status") == "UP" for name, _ in self.servers)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGUSR1)  # soft stop: finish the connections in hand
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Cluster:
    def __init__(self, args) -> None:
        self.args = args
        self.run = run_name()
        self.root = ROOT / "var" / f"cluster-{self.run}"
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        self.pg = Postgres(self.root)
        self.replica = Replica(self.root, self.pg)
        self.redis = Redis(self.root)
        self.bouncer: pgbouncer.PgBouncer | None = None
        self.port = args.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.web_ports = [free_port(), free_port()]
        self.haproxy = HAProxy(
            self.root, self.port, [(f"web{i + 1}", p) for i, p in enumerate(self.web_ports)]
        )
        self.nodes: list[ProcessSet] = []
        self.started: list[str] = []  # what stop() has to stop, in start order

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every process: only the cluster's servers, never the developer's."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("QUORUM_", "DATABASE_", "CELERY_"))}
        keep.pop("REDIS_URL", None)
        return {
            **keep,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "development",
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.pg.url,
            "REDIS_URL": self.redis.url,
            "QUORUM_OUTBOUND_ALLOW_LOOPBACK": "1",  # callbacks go to a receiver on 127.0.0.1
            "QUORUM_MEDIA_ROOT": str(self.root / "media"),  # one folder: the nodes' shared storage
            **extra,
        }

    def node_env(self, index: int) -> dict[str, str]:
        return self.env(
            DATABASE_URL=self.bouncer.url(self.pg.url),
            DATABASE_POOLER="pgbouncer",
            QUORUM_SCHEDULER_DATABASE_URL=self.pg.url,  # beat's session lock: the primary itself
            DATABASE_REPLICA_URL=self.replica.url,
            QUORUM_EXPORT_TMP_DIR=str(self.root / f"node{index}" / "export-tmp"),
            PORT=str(self.web_ports[index - 1]),
            WEB_CONCURRENCY="2",
            WEB_THREADS="4",
            CELERY_CONCURRENCY="2",
            WEBHOOK_CONCURRENCY="2",
            EXPORT_CONCURRENCY="1",
        )

    def manage(self, *args: str) -> str:
        """``manage.py`` on the primary directly (migrations belong on a direct connection)."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        say(f"PostgreSQL primary on :{self.pg.port} ({self.root.relative_to(ROOT)})")
        self.started.append("pg")
        self.pg.init()
        say(f"read replica (pg_basebackup -R) on :{self.replica.port}")
        self.started.append("replica")
        self.replica.init()
        assert wait_until(self.replica_streaming, timeout=60), "the replica is not streaming"
        say(f"redis-server on :{self.redis.port}")
        self.started.append("redis")
        self.redis.start()
        self.started.append("pgbouncer")
        self.bouncer = pgbouncer.start(self.pg.url, pool_size=30)
        say(f"PgBouncer (transaction mode) on :{self.bouncer.port}")
        say("migrate")
        self.manage("migrate", "--noinput")
        for index in (1, 2):
            workdir = self.root / f"node{index}"
            workdir.mkdir()
            node = ProcessSet(
                procfile=ROOT / "Procfile", cwd=workdir, env=self.node_env(index), log_dir=workdir / "logs"
            )
            if index == 2 and "double-beat" in self.args.inject:
                node.procs["beat"].command += " --scheduler celery.beat:PersistentScheduler"
            self.nodes.append(node)
        self.started.append("nodes")
        for index, node in enumerate(self.nodes, 1):
            say(f"node {index}: {', '.join(node.procs)} (web on :{self.web_ports[index - 1]})")
            node.start_all()
        for index, node in enumerate(self.nodes, 1):
            url = f"http://127.0.0.1:{self.web_ports[index - 1]}/readyz"
            up = wait_until(lambda u=url: http_ok(u) or self.dead(), timeout=START_TIMEOUT)
            assert up and not self.dead(), self.logs()
            for name in ("worker", "webhooks", "exports"):
                assert node.wait_log(name, r"ready\.", timeout=START_TIMEOUT), self.logs()
            assert node.wait_log("beat", r"beat: Starting", timeout=START_TIMEOUT), self.logs()
        assert not self.dead(), self.logs()
        self.started.append("haproxy")
        self.haproxy.start()
        assert wait_until(self.haproxy.all_up, timeout=60, interval=0.5), "haproxy: web nodes not UP"
        say(f"HAProxy on :{self.port}: web1 and web2 UP")

    def replica_streaming(self) -> bool:
        try:
            rows = self.sql("SELECT state FROM pg_stat_replication")
        except Exception:  # noqa: BLE001 - not up yet
            return False
        return ("streaming",) in rows

    def dead(self) -> list[str]:
        return [f"node{i}:{name}" for i, node in enumerate(self.nodes, 1) for name in node.dead()]

    def logs(self) -> str:
        return "\n".join(
            f"--- node{i} {n}\n{p.log()[-1500:]}"
            for i, node in enumerate(self.nodes, 1)
            for n, p in node.procs.items()
            if p.process
        )

    def stop(self) -> None:
        """Everything, in reverse order of start; each step runs even if an earlier one failed."""
        steps = {
            "haproxy": self.haproxy.stop,
            "nodes": lambda: [node.stop_all() for node in self.nodes],
            "pgbouncer": lambda: self.bouncer and self.bouncer.stop(),
            "redis": self.redis.stop,
            "replica": lambda: self.replica.stop("fast"),
            "pg": lambda: self.pg.stop("fast"),
        }
        for name in reversed(self.started):
            try:
                steps[name]()
            except Exception as exc:  # noqa: BLE001 - go on stopping the rest
                say(f"stopping {name}: {exc}")
        self.started.clear()

    def sql(self, query: str, params: tuple = (), url: str | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(url or self.pg.url, connect_timeout=5, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


# --- the check ------------------------------------------------------------------------------------------

OVER_ASSIGNED = """SELECT count(*) FROM (SELECT a.task_id FROM annotation_assignment a
    JOIN annotation_task t ON t.id = a.task_id WHERE a.status IN ('active', 'submitted')
    GROUP BY a.task_id, t.overlap HAVING count(*) > t.overlap) x"""
DOUBLE_CHARGED = """SELECT count(*) FROM (SELECT reference FROM billing_ledgertransaction
    WHERE kind = 'task_charge' GROUP BY reference HAVING count(*) > 1) x"""
NOT_CHARGED = """SELECT count(*) FROM annotation_task t WHERE t.status = 'completed' AND NOT EXISTS
    (SELECT 1 FROM billing_ledgertransaction x WHERE x.kind = 'task_charge'
      AND x.reference = 'task:' || t.id)"""
UNBALANCED = """SELECT count(*) FROM (SELECT transaction_id FROM billing_ledgerentry GROUP BY 1
    HAVING sum(amount) <> 0) x"""
BEAT_LINE = re.compile(  # celery's log format: [2026-12-07 18:40:00,123: INFO/MainProcess] ...
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}): INFO/MainProcess\] Scheduler: Sending due task (\S+)"
)
RECEIVED_LINE = re.compile(r"Task (\S+)\[([0-9a-f-]+)\] received")


class Check:
    def __init__(self, cluster: Cluster, args) -> None:
        self.cluster, self.args = cluster, args
        self.figures: dict[str, object] = {}
        self.failures: list[str] = []

    def figure(self, name: str, value: object, ok: bool | None = None, note: str = "") -> None:
        self.figures[name] = value
        mark = "" if ok is None else ("  ok" if ok else "  FAIL")
        print(f"{name}: {value}{mark}" + (f"  ({note})" if note else ""), flush=True)
        if ok is False:
            self.failures.append(f"{name}: {value}")

    def setup_django(self) -> None:
        os.environ.update({k: v for k, v in self.cluster.env().items() if k != "PATH"})
        import django

        django.setup()

    def completed_all(self, project: str, n: int) -> bool:
        done = self.cluster.sql(
            "SELECT count(*) FROM annotation_task WHERE project_id = %s AND status = 'completed'", (project,)
        )[0][0]
        return done == n

    def work(self, world: World, name: str, n: int, overlap: int, tokens: list[str], callback: str) -> str:
        project = world.project(overlap=overlap)
        ids = world.tasks(project, n, callback=callback)
        if name == "loop" and "lost-callback" in self.args.inject:  # its receiver is gone
            self.cluster.sql(
                "UPDATE annotation_task SET callback_url = %s WHERE id = %s",
                (f"http://127.0.0.1:{free_port()}/gone", ids[0]),
            )
        started = time.monotonic()
        load = Load(world, project, tokens, stop_when_empty=True).start()
        load.join(timeout=WORK_TIMEOUT)
        complete = wait_until(lambda: self.completed_all(project, n), timeout=300, interval=0.5)
        seconds = time.monotonic() - started
        self.figure(f"{name}.tasks", f"{n} at overlap {overlap}, {len(tokens)} annotators")
        self.figure(f"{name}.completed", "all" if complete else "not all", ok=complete)
        self.figure(f"{name}.submits_per_second", round(load.submits_ok / seconds, 1))
        self.figure(f"{name}.http_5xx", load.count("", 500, 599) + load.count("", 0, 0), ok=None)
        return project

    def run(self) -> None:
        self.setup_django()
        world = World(self.cluster)
        receiver = Receiver()
        small = self.args.quick
        self.work(world, "loop", 20 if small else 100, 2, world.tokens[:8], receiver.url)
        self.work(world, "contention", 30 if small else 200, 3, world.tokens[:16], receiver.url)
        if "over-assignment" in self.args.inject:
            self.inject_over_assignment()
        if "double-charge" in self.args.inject:
            self.inject_double_charge()
        for name, query in (
            ("over_assignments", OVER_ASSIGNED),
            ("double_charges", DOUBLE_CHARGED),
            ("completed_not_charged", NOT_CHARGED),
            ("unbalanced_ledger_transactions", UNBALANCED),
        ):
            (value,) = self.cluster.sql(query)[0]
            self.figure(name, value, ok=value == 0)
        self.callbacks(receiver)
        self.balancer()
        self.replica()
        dead = self.cluster.dead()  # before the beats are stopped on purpose
        self.periodic()
        dead += [name for name in self.cluster.dead() if name not in dead and not name.endswith(":beat")]
        self.figure("processes_exited", len(dead), ok=not dead, note=", ".join(dead))

    def callbacks(self, receiver: Receiver) -> None:
        expected = {
            str(r[0])
            for r in self.cluster.sql(
                "SELECT id FROM annotation_task WHERE status = 'completed' AND callback_url <> ''"
            )
        }
        # Each callback is sent by a webhooks worker of either node; retries back off, hence the guard.
        wait_until(lambda: expected <= set(receiver.task_ids()), timeout=120, interval=0.5)
        got = receiver.task_ids()
        lost = len(expected - set(got))
        self.figure("callbacks_lost", lost, ok=lost == 0, note=f"of {len(expected)} completed tasks")
        self.figure("callbacks_duplicated", sum(n - 1 for n in got.values() if n > 1), note="at least once")

    def balancer(self) -> None:
        stats = self.cluster.haproxy.stats()
        served = {name: int(row.get("stot") or 0) for name, row in stats.items() if name.startswith("web")}
        self.figure("requests_per_web_node", served, ok=all(served.get(n, 0) > 0 for n in ("web1", "web2")))

    def replica(self) -> None:
        url = self.cluster.replica.url
        lsn = self.cluster.sql("SELECT pg_current_wal_lsn()")[0][0]
        caught_up = wait_until(
            lambda: self.cluster.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,), url)[0][0],
            timeout=60,
        )
        counts = [self.cluster.sql("SELECT count(*) FROM annotation_task", (), u)[0][0] for u in (None, url)]
        self.figure("replica.caught_up", caught_up, ok=caught_up)
        self.figure("replica.tasks_primary_vs_replica", counts, ok=counts[0] == counts[1])

    def inject_over_assignment(self) -> None:
        from annotation.models import Annotator, Assignment

        done = Assignment.objects.filter(status="submitted", task__status="completed").first()
        other = Annotator.objects.exclude(assignments__task_id=done.task_id).first()
        done.id, done.annotator = uuid.uuid4(), other
        done._state.adding = True
        done.save(force_insert=True)
        say(f"injected: an extra submitted assignment on task {done.task_id}")

    def inject_double_charge(self) -> None:
        from django.db import transaction

        from billing.models import LedgerTransaction

        charge = LedgerTransaction.objects.filter(kind="task_charge").first()
        entries = list(charge.entries.all())
        with transaction.atomic():  # the ledger's balance check is deferred to the commit
            charge.id, charge.idempotency_key = uuid.uuid4(), f"injected:{uuid.uuid4()}"
            charge._state.adding = True
            charge.save(force_insert=True)
            for entry in entries:  # the same balanced entries, once more
                entry.pk, entry.transaction = None, charge
                entry._state.adding = True
                entry.save(force_insert=True)
        say(f"injected: a second task_charge for {charge.reference}")

    # periodic jobs -------------------------------------------------------------------------------------

    def periodic(self) -> None:
        from django.conf import settings

        # Watch long enough for the 60 s job to run a few times, then stop both beats so every
        # message they sent can be matched with what the workers received.
        leader_since = self.beat_started_at()
        wait_until(
            lambda: time.time() - leader_since >= self.args.observe, timeout=self.args.observe + 5, interval=1
        )
        for node in self.cluster.nodes:
            node.stop("beat")
        sends = self.beat_sends()
        window = (min(t for node in sends for _, t in node), time.time())
        per_job: dict[str, list[float]] = {}
        for node in sends:
            for job, at in node:
                per_job.setdefault(job, []).append(at)
        senders = [i + 1 for i, node in enumerate(sends) if node]
        self.figure("beats_sending", senders, ok=len(senders) == 1, note="nodes whose beat sent anything")
        tasks = {job: entry["task"] for job, entry in settings.CELERY_BEAT_SCHEDULE.items()}
        wanted = Counter({tasks[job]: len(times) for job, times in per_job.items()})
        wait_until(lambda: self.received() >= wanted, timeout=60, interval=0.5)
        received, distinct = self.received(), self.received(distinct=True)
        print(f"{'periodic job':26} {'period':>9} {'sent':>5} {'expected':>8} {'per period':>10} "
              f"{'min gap':>8} {'max gap':>8} {'executed':>8}")  # fmt: skip
        for job, entry in settings.CELERY_BEAT_SCHEDULE.items():
            self.periodic_row(job, entry, sorted(per_job.get(job, [])), window, received, distinct)

    def periodic_row(self, job, entry, times, window, received, distinct) -> None:
        from celery.schedules import crontab

        schedule, task = entry["schedule"], entry["task"]
        poll = float(os.environ.get("QUORUM_BEAT_LEADER_POLL_SECONDS", "5"))
        executed = received[task]
        row = {"sent": len(times), "executed": executed, "executed_distinct": distinct[task]}
        if isinstance(schedule, crontab):
            expected = crontab_due(schedule, *window)
            row.update(period="crontab", expected=expected)
            ok = len(times) == expected
            when = " ".join(
                str(getattr(schedule, f"_orig_{part}"))
                for part in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
            )
            cells = [when, len(times), expected, "-", "-", "-"]
        else:
            period = schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)
            gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
            span = times[-1] - times[0] if len(times) > 1 else 0.0
            per_period = round((len(times) - 1) * period / span, 2) if span else None
            expected = int((window[1] - window[0]) // period)
            row.update(period=period, expected=f"{expected}-{expected + 1}", per_period=per_period)
            row.update(
                min_gap=round(min(gaps), 1) if gaps else None, max_gap=round(max(gaps), 1) if gaps else None
            )
            ok = expected <= len(times) <= expected + 1 and all(
                period * 0.5 <= g <= period + poll + 3 for g in gaps
            )
            cells = [f"{period:.0f}s", len(times), f"{expected}-{expected + 1}", per_period, row["min_gap"],
                     row["max_gap"]]  # fmt: skip
        ok = ok and executed == distinct[task] == len(times)
        print(f"{job:26} {cells[0]:>9} {cells[1]:>5} {cells[2]:>8} {str(cells[3]):>10} {str(cells[4]):>8} "
              f"{str(cells[5]):>8} {executed:>8}{'' if ok else '  FAIL'}")  # fmt: skip
        self.figures[f"periodic.{job}"] = row
        if not ok:
            self.failures.append(f"periodic.{job}: {row}")

    def beat_started_at(self) -> float:
        """When the first beat started sending (its first ``Sending due task`` line)."""
        assert wait_until(lambda: any(self.beat_sends()), timeout=START_TIMEOUT), self.cluster.logs()
        return min(t for node in self.beat_sends() for _, t in node)

    def beat_sends(self) -> list[list[tuple[str, float]]]:
        out = []
        for node in self.cluster.nodes:
            found = []
            for line in node.procs["beat"].log().splitlines():
                if match := BEAT_LINE.match(line):
                    at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
                    found.append((match.group(3), at + int(match.group(2)) / 1000))
            out.append(found)
        return out

    def received(self, distinct: bool = False) -> Counter:
        seen: Counter = Counter()
        ids: set[str] = set()
        for node in self.cluster.nodes:
            for task, task_id in RECEIVED_LINE.findall(node.procs["worker"].log()):
                if distinct and task_id in ids:
                    continue
                ids.add(task_id)
                seen[task] += 1
        return seen


def crontab_due(schedule, start: float, end: float) -> int:
    """How many minutes in (start, end] the crontab matches (its days, hours and minutes, UTC)."""
    count = 0
    at = datetime.fromtimestamp(start, UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    while at.timestamp() <= end:
        if (
            at.minute in schedule.minute
            and at.hour in schedule.hour
            and at.day in schedule.day_of_month
            and at.month in schedule.month_of_year
            and (at.isoweekday() % 7) in schedule.day_of_week
        ):
            count += 1
        at += timedelta(minutes=1)
    return count


def serve(cluster: Cluster) -> None:
    """Seed demo data, print the URL, and stay up until Ctrl-C; report a process that exits."""
    print(cluster.manage("seed_demo", "--base-url", cluster.base), flush=True)
    print(
        f"\n  Quorum cluster: {cluster.base}/   (HAProxy stats: http://127.0.0.1:{cluster.haproxy.stats_port}/)"
    )
    print(
        f"  nodes: web :{cluster.web_ports[0]} and :{cluster.web_ports[1]}; PostgreSQL :{cluster.pg.port}, "
        f"replica :{cluster.replica.port}, PgBouncer :{cluster.bouncer.port}, Redis :{cluster.redis.port}"
    )
    print(f"  logs: {cluster.root.relative_to(ROOT)}/node*/logs/   Ctrl-C stops everything\n", flush=True)
    reported: set[str] = set()
    while True:
        for name in set(cluster.dead()) - reported:
            say(f"{name} exited; see its log")
            reported.add(name)
        time.sleep(1)  # an idle loop waiting for Ctrl-C, not a synchronisation


def interrupted(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the cluster as Ctrl-C does


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="run the checks through the cluster, then stop")
    parser.add_argument("--quick", action="store_true", help="fewer tasks and a shorter watch of beat")
    parser.add_argument("--port", type=int, default=0, help="the load balancer's port (default: a free one)")
    parser.add_argument(
        "--observe", type=float, default=0, help="seconds to watch beat (default 150; 70 quick)"
    )
    parser.add_argument(
        "--inject", default="", help=f"comma-separated faults to plant: {', '.join(INJECTIONS)}, all"
    )
    parser.add_argument(
        "--json", help="where to write the check's result (default bench/results/cluster-<time>.json)"
    )
    args = parser.parse_args()
    args.inject = set(INJECTIONS) if args.inject == "all" else {x for x in args.inject.split(",") if x}
    if unknown := args.inject - set(INJECTIONS):
        parser.error(f"unknown injections: {', '.join(sorted(unknown))}")
    args.observe = args.observe or (70.0 if args.quick else 150.0)
    signal.signal(signal.SIGTERM, interrupted)
    started_at = datetime.now(UTC)
    run_provenance = provenance("deploy/cluster.py", sys.argv[1:])  # commit, command, load at start
    cluster = Cluster(args)
    check = Check(cluster, args)
    try:
        cluster.start()
        if not args.check:
            serve(cluster)
        check.run()
    except KeyboardInterrupt:
        say("stopping")
        return 0 if not args.check else 130
    finally:
        cluster.stop()
        say("stopped")
    wall = round(time.monotonic() - T0, 1)
    result = {
        **run_provenance,
        "started": started_at.isoformat(),
        "wall_seconds": wall,
        "loadavg_at_end": os.getloadavg(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "injected": sorted(args.inject),
        "figures": check.figures,
        "failures": check.failures,
    }
    out = (
        Path(args.json)
        if args.json
        else ROOT / "bench" / "results" / f"cluster-{started_at:%Y%m%d-%H%M%S}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wall_seconds: {wall}\nresult: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    print(f"invariants: {'all hold' if not check.failures else 'FAILED: ' + '; '.join(check.failures)}")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
