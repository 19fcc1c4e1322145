"""History written by a real ``get_tasks`` loop (the SDK's ``Task.as_dict()``, one per line) is
imported by ``manage.py import_scale_tasks`` into another client, which then reads it back through
the SDK: the same responses, metadata and unique ids."""

from __future__ import annotations

import io
import json

import pytest
import scaleapi
from django.core.management import call_command

from tests.scale.conftest import categorization_project, categorization_task
from tests.scale.test_sdk_tasks import complete

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_get_tasks_dump_imports_and_reads_back(tenant_a, tenant_b, sdk, tmp_path):
    source = sdk(tenant_a.live_key)
    categorization_project(source)
    source.create_batch("Colours", "march")
    tasks = [
        categorization_task(source, batch="march", unique_id=f"tomato-{i}", metadata={"i": i})
        for i in range(5)
    ]
    for i, task in enumerate(tasks[:4]):
        complete(task.id, "red" if i % 2 else "blue")
    dump = tmp_path / "scale-tasks.jsonl"
    with dump.open("w") as f:
        for task in source.get_tasks(project_name="Colours"):
            f.write(json.dumps(task.as_dict()) + "\n")

    out = io.StringIO()
    call_command(
        "import_scale_tasks", str(dump), "--client", tenant_b.client.slug, "--no-progress", stdout=out
    )
    assert "5 lines: 4 created, 0 already imported, 1 skipped (not completed), 0 bad" in out.getvalue()

    target = sdk(tenant_b.live_key)
    imported = {
        t.unique_id: t for t in target.get_tasks(project_name="Colours", status=scaleapi.TaskStatus.Completed)
    }
    assert sorted(imported) == [f"tomato-{i}" for i in range(4)]
    assert imported["tomato-1"].response == {"category": "red"}
    assert imported["tomato-1"].metadata == {"i": 1}
    assert imported["tomato-1"].batch == "march"
    assert imported["tomato-1"].completed_at == source.get_task(tasks[1].id).completed_at
    assert target.get_batch("march").status == "completed"
