"""``manage.py import_scale_tasks``: Scale task history (get_tasks JSON lines) as completed tasks or
gold tasks, idempotent on the Scale task id, bad lines reported by number without stopping."""

from __future__ import annotations

import io
import json
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from annotation.models import Batch, Project, ScaleImport, Task
from annotation.services.scale_import import import_scale_tasks
from billing.models import LedgerTransaction
from core.models import Event, WebhookDelivery
from tests.annotation.factories import ProjectFactory, TaskFactory
from tests.clients.factories import ClientFactory


def scale_task(i: int, **extra) -> dict:
    return {
        "task_id": f"5f2b{i:020x}",
        "type": "categorization",
        "status": "completed",
        "project": "Traffic lights",
        "batch": "2025-w10",
        "created_at": "2025-03-03T10:00:00.000Z",
        "completed_at": "2025-03-04T11:30:00.000Z",
        "callback_url": "https://hooks.example.com/scale",
        "instruction": "What colour is the light?",
        "params": {
            "attachment": f"https://img.example.com/{i}.jpg",
            "attachment_type": "image",
            "categories": ["red", "green"],
        },
        "response": {"category": "red" if i % 2 else "green"},
        "metadata": {"frame": i},
        "tags": ["night"],
        "unique_id": f"frame-{i}",
        **extra,
    }


def write(tmp_path, rows) -> str:
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def run(path, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_scale_tasks", path, *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_history_is_imported_with_responses_and_bad_lines_are_reported_by_number(tmp_path):
    client = ClientFactory(slug="lidar")
    taken = TaskFactory(project=ProjectFactory(client=client), unique_id="frame-9")
    rows = [scale_task(i) for i in range(5)]
    rows.insert(2, "{not json")  # line 3
    rows.append(scale_task(5, status="pending"))  # skipped
    rows.append(scale_task(6, type="audiotranscription"))  # line 8: unsupported
    rows.append(scale_task(7, response=None))  # line 9
    rows.append(scale_task(8, project=None))  # line 10
    rows.append(scale_task(9))  # line 11: its unique_id names another task
    rows.append("")  # blank lines are ignored
    rows.append(
        scale_task(10, type="imageannotation", project="Traffic lights")
    )  # line 13: project runs categorization
    out, err = run(write(tmp_path, rows), "--client", "lidar")

    assert "13 lines: 5 created, 0 already imported, 1 skipped (not completed), 6 bad" in out
    # Reported as found: format errors at once, those that need the database when their chunk is written.
    reported = sorted(err.strip().splitlines(), key=lambda line: int(line.split(":")[0].split()[1]))
    assert [line.split(":")[0] for line in reported] == [
        "line 3",
        "line 8",
        "line 9",
        "line 10",
        "line 11",
        "line 13",
    ]
    assert "not JSON" in reported[0] and "audiotranscription" in reported[1]
    assert "frame-9" in reported[4] and "runs categorization tasks, not imageannotation" in reported[5]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["projects_created"] == ["Traffic lights"] and summary["batches_created"] == ["2025-w10"]

    project = Project.objects.get(client=client, name="Traffic lights")
    tasks = Task.objects.filter(project=project).order_by("unique_id")
    assert tasks.count() == 5
    first = tasks.get(unique_id="frame-1")
    assert (first.status, first.response, first.metadata, first.tags) == (
        "completed",
        {"category": "red"},
        {"frame": 1},
        ["night"],
    )
    assert first.completed_at.isoformat() == "2025-03-04T11:30:00+00:00"
    assert first.created_at.isoformat() == "2025-03-03T10:00:00+00:00"
    assert (first.price, first.pay, first.released, first.batch.name) == (0, 0, False, "2025-w10")
    assert Batch.objects.get(name="2025-w10").status == Batch.Status.COMPLETED
    assert ScaleImport.objects.get(task=first).scale_task_id == scale_task(1)["task_id"]
    # History is never charged, paid or called back.
    assert not LedgerTransaction.objects.exists() and not WebhookDelivery.objects.exists()
    assert Event.objects.filter(kind="project.history_imported", entity_id=str(project.pk)).count() == 1
    assert Task.objects.get(pk=taken.pk).unique_id == "frame-9"  # untouched


@pytest.mark.django_db
def test_a_rerun_creates_nothing_twice(tmp_path):
    ClientFactory(slug="lidar")
    path = write(tmp_path, [scale_task(i) for i in range(30)] + [scale_task(3)])  # a repeat inside the file
    out, _ = run(path, "--client", "lidar")
    assert "31 lines: 30 created, 1 already imported" in out
    out, err = run(path, "--client", "lidar")
    assert "31 lines: 0 created, 31 already imported" in out and err == ""
    assert Task.objects.count() == 30 == ScaleImport.objects.count()


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_create_each_task_once(tmp_path):
    client = ClientFactory(slug="lidar")
    lines = [json.dumps(scale_task(i, batch=None)) for i in range(400)]
    ProjectFactory(client=client, name="Traffic lights", params={})
    start = threading.Barrier(2, timeout=60)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(import_scale_tasks(client=client, actor=None, lines=iter(lines), chunk_size=50))
        except Exception as exc:  # reported below; the test fails on it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(r.created + r.existing for r in results) == [400, 400]
    assert sum(r.created for r in results) == 400
    assert Task.objects.count() == 400 == ScaleImport.objects.count()


@pytest.mark.django_db
def test_as_gold_imports_gold_tasks_and_refuses_answers_that_do_not_fit(tmp_path):
    ClientFactory(slug="lidar")
    rows = [scale_task(0), scale_task(1, response={"category": "blue"}), scale_task(2, batch=None)]
    out, err = run(write(tmp_path, rows), "--client", "lidar", "--project", "Gold lights", "--as-gold")
    assert "3 lines: 2 created" in out and "1 bad" in out
    assert err.startswith("line 2: as gold: category:")
    gold = Task.objects.filter(project__name="Gold lights")
    assert {t.is_gold for t in gold} == {True}
    assert {t.status for t in gold} == {"pending"} and all(t.released for t in gold)
    assert gold.get(unique_id="frame-0").gold_answer == {"category": "green"}


@pytest.mark.django_db
def test_command_errors(tmp_path):
    ClientFactory(slug="lidar")
    with pytest.raises(CommandError, match="no client"):
        run(write(tmp_path, []), "--client", "nope")
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "missing.jsonl"), "--client", "lidar")
    with pytest.raises(CommandError, match="--project"):
        run(write(tmp_path, []), "--client", "lidar", "--project", "a/b")
