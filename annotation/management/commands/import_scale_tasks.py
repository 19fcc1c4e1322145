"""``manage.py import_scale_tasks FILE --client SLUG [--project NAME] [--as-gold]``: bring Scale task
history in (``annotation.services.scale_import``). FILE holds one Scale task object per line, as a
``get_tasks`` loop writes them (``-`` reads standard input). Bad lines are reported on standard
error with their line number and the import goes on; a progress bar (standard error) and a
summary (standard output) follow. Re-running it is safe: tasks already imported are counted as
``existing``."""

from __future__ import annotations

import json
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.services.scale_import import import_scale_tasks
from clients.models import Client


class Command(BaseCommand):
    help = "Import Scale task history (JSON lines from get_tasks) as completed tasks, or as gold tasks."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON lines file (- for standard input)")
        parser.add_argument("--client", required=True, help="the client's slug")
        parser.add_argument(
            "--project", help="put every task in this project (default: each task's Scale project)"
        )
        parser.add_argument(
            "--as-gold",
            action="store_true",
            help="import each completed task as a gold task (its response the answer)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file, client, project=None, as_gold=False, no_progress=False, **options):
        try:
            owner = Client.objects.get(slug=client)
        except Client.DoesNotExist as exc:
            raise CommandError(f"--client: no client with slug {client!r}") from exc
        if project is not None and (not project.strip() or "/" in project):
            raise CommandError("--project: a name, without '/'")
        if file == "-":
            stream, total = sys.stdin.buffer, None
        else:
            try:
                stream, total = open(file, "rb"), os.path.getsize(file)  # noqa: SIM115 - closed below
            except OSError as exc:
                raise CommandError(f"{file}: {exc.strerror}") from exc
        bar = tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc="import",
            file=sys.stderr,
            disable=no_progress,
            mininterval=0.5,
        )
        err = self.stderr

        def lines():
            for raw in stream:
                bar.update(len(raw))
                yield raw.decode("utf-8", errors="replace")

        def on_bad(line: int, message: str) -> None:
            bar.clear()
            err.write(f"line {line}: {message}")

        started = time.monotonic()
        try:
            summary = import_scale_tasks(
                client=owner,
                actor=f"command:import_scale_tasks:{owner.slug}",
                lines=lines(),
                project_name=project,
                as_gold=as_gold,
                on_bad=on_bad,
            )
        finally:
            bar.close()
            if stream is not sys.stdin.buffer:
                stream.close()
        seconds = time.monotonic() - started
        result = summary.as_dict() | {"seconds": round(seconds, 2), "as_gold": as_gold}
        self.stdout.write(
            f"{summary.lines} lines: {summary.created} created, {summary.existing} already imported, "
            f"{sum(summary.skipped.values())} skipped (not completed), {summary.bad} bad; {seconds:.1f} s"
        )
        self.stdout.write(json.dumps(result, sort_keys=True))
