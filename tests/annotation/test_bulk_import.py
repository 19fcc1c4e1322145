"""The COPY import (``_task_bulk_insert`` over ``core.pgcopy``) against the ORM import it replaced.

``orm_insert`` below is the former implementation (``Task.objects.bulk_create`` and
``Event.objects.bulk_create``), kept here as the oracle. For the same cleaned items both write the
same rows (every column but the id and the timestamps, which differ only by when they ran), the same
events, answer the same errors, and a replay creates nothing. Hypothesis feeds strings with tabs,
newlines, backslashes and any Unicode, which COPY's text format has to escape.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from annotation import services
from annotation.models import Batch, Task
from annotation.services import tasks as task_services
from annotation.tasktypes import _common
from core import events, pgcopy
from core.errors import Conflict, ValidationFailed
from core.models import Event
from tests.annotation.factories import BoxProjectFactory, ProjectFactory

IGNORED = {"id", "project", "project_id", "created_at", "updated_at"}


def orm_insert(*, client, actor, project, batch, cleaned, is_test=False) -> list[Task]:
    """The import as it was before COPY: model instances, ``bulk_create``, events built one by one."""
    released = not is_test and (batch is None or batch.status == Batch.Status.IN_PROGRESS)
    now = timezone.now()
    price, pay = task_services.task_rates(client=client, project=project, at=now)
    tasks = [
        Task(
            client=client,
            project=project,
            batch=batch,
            task_type=project.task_type,
            is_test=is_test,
            released=released,
            created_at=now + timedelta(microseconds=i),
            updated_at=now,
            overlap=django_settings.QUORUM_GOLD_OVERLAP if spec["is_gold"] else project.overlap,
            price=0 if spec["is_gold"] else price,
            pay=pay,
            **spec,
        )
        for i, spec in enumerate(cleaned)
    ]
    Task.objects.bulk_create(tasks, batch_size=2000)
    Event.objects.bulk_create(
        [
            events.build(
                actor=actor, entity_type="task", entity_id=t.id, kind="task.created", client_id=client.id
            )
            for t in tasks
        ]
    )
    return tasks


def clean(project, items) -> list[dict]:
    return [task_services._clean_item(i, item, project) for i, item in enumerate(items)]


def rows_of(project) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in IGNORED}
        for row in Task.objects.filter(project=project).order_by("created_at").values()
    ]


def steps_of(project) -> list[timedelta]:
    stamps = list(
        Task.objects.filter(project=project).order_by("created_at").values_list("created_at", flat=True)
    )
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def events_of(task_ids) -> list[tuple]:
    return sorted(
        (e.actor, e.entity_type, e.kind, e.client_id, e.before, e.after)
        for e in Event.objects.filter(entity_id__in=list(task_ids))
    )


def twin_projects(factory, client, **kwargs):
    return factory(client=client, **kwargs), factory(client=client, **kwargs)


# --- strategies ---------------------------------------------------------------------------------------

# Any Unicode but NUL (PostgreSQL text cannot hold it) and lone surrogates (not UTF-8): tabs,
# newlines, carriage returns, backslashes and "\N" included, which COPY must escape.
TEXT = st.lists(
    st.one_of(
        st.sampled_from(
            ["\t", "\n", "\r", "\\", "\\N", "\\t", '"', "'", "é", "😀", "\u2028", "\x7f", "\x01"]
        ),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=12,
).map("".join)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)


@st.composite
def items(draw, image: bool) -> list[dict]:
    n = draw(st.integers(min_value=1, max_value=6))
    uids = draw(st.lists(st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s), unique=True,
                         min_size=n, max_size=n))  # fmt: skip
    out = []
    for i in range(n):
        attachment = "https://img.example.test/" + draw(st.text(alphabet="abc/é%", max_size=8))
        item: dict = {"params": {"attachment": attachment if image else draw(TEXT) or "x"}}
        if draw(st.booleans()):
            item["unique_id"] = uids[i]
        if draw(st.booleans()):
            item["metadata"] = draw(st.dictionaries(TEXT, JSON, max_size=3))
        if draw(st.booleans()):
            item["tags"] = draw(st.lists(TEXT, max_size=3))
        if draw(st.booleans()):
            item["instruction"] = draw(TEXT)
        if draw(st.booleans()):
            item["priority"] = draw(st.integers(min_value=-100, max_value=100))
        if draw(st.booleans()):
            item["callback_url"] = "http://127.0.0.1:9/cb/" + draw(st.text(alphabet="abc/?=&", max_size=6))
        if image and draw(st.booleans()):
            item["gold_answer"] = {"annotations": [
                {"type": "box", "label": "car", "left": 1, "top": 2, "width": 10, "height": 12}
            ]}  # fmt: skip
        out.append(item)
    return out


# --- the same rows, the same events ---------------------------------------------------------------------


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_copy_and_orm_imports_write_the_same_rows_and_events(client_a, settings, data):
    settings.QUORUM_OUTBOUND_ALLOW_LOOPBACK = True
    with transaction.atomic():  # each example in a savepoint of its own, undone at the end
        same_rows_and_events(client_a, data)
        transaction.set_rollback(True)


def same_rows_and_events(client_a, data):
    image = data.draw(st.booleans())
    old_project, new_project = twin_projects(
        BoxProjectFactory if image else ProjectFactory, client_a, overlap=2
    )
    batch = data.draw(st.booleans())
    old_batch = (
        services.batch_create(client=client_a, actor=None, project=old_project, name=f"old {old_project.pk}")
        if batch
        else None
    )
    new_batch = (
        services.batch_create(client=client_a, actor=None, project=new_project, name=f"new {new_project.pk}")
        if batch
        else None
    )
    raw = data.draw(items(image))
    # unique_id is unique per client: the oracle's copy gets its own
    old_items = [{**i, "unique_id": "old:" + i["unique_id"]} if "unique_id" in i else i for i in raw]

    old = orm_insert(client=client_a, actor="apikey:abc", project=old_project, batch=old_batch,
                     cleaned=clean(old_project, old_items))  # fmt: skip
    results = services.task_bulk_create(
        client=client_a, actor="apikey:abc", project=new_project, batch=new_batch, items=raw
    )

    old_rows, new_rows = rows_of(old_project), rows_of(new_project)
    for row in old_rows:
        if row["unique_id"] is not None:
            row["unique_id"] = row["unique_id"].removeprefix("old:")
        row["batch_id"] = new_batch.id if batch else None
    assert new_rows == old_rows
    assert steps_of(new_project) == steps_of(old_project) == [timedelta(microseconds=1)] * (len(raw) - 1)
    assert [r.created for r in results] == [True] * len(raw)
    assert events_of([r.task_id for r in results]) == events_of([t.id for t in old])
    assert len(events_of([r.task_id for r in results])) == len(raw)
    # What the service hands back is what it wrote.
    written = {t.id: t for t in Task.objects.filter(project=new_project)}
    for result, item in zip(results, raw, strict=True):
        task = result.task
        assert (task.id, task.unique_id) == (result.task_id, item.get("unique_id"))
        stored = written[task.id]
        for field in ("instruction", "priority", "callback_url", "price", "pay", "overlap", "is_gold",
                      "released", "status", "created_at", "batch_id"):  # fmt: skip
            assert getattr(task, field) == getattr(stored, field), field
        # JSON as sent (jsonb may give 5e16 back as an int: the former code returned the same objects)
        assert (task.params["attachment"], task.metadata, task.tags) == (
            item["params"]["attachment"], item.get("metadata", {}), item.get("tags", []),
        )  # fmt: skip


def test_a_replay_creates_nothing_and_returns_the_same_tasks(client_a):
    project = BoxProjectFactory(client=client_a)
    batch = [
        {"params": {"attachment": f"/media/a/{i}.png"}, "unique_id": f"u{i}", "metadata": {"i": i}}
        for i in range(30)
    ]
    first = services.task_bulk_create(client=client_a, actor=None, project=project, items=batch)
    n_events = Event.objects.filter(kind="task.created").count()
    again = services.task_bulk_create(client=client_a, actor=None, project=project, items=batch[::-1] + [
        {"params": {"attachment": "/media/a/new.png"}, "unique_id": "new"}
    ])  # fmt: skip
    assert [r.created for r in again] == [False] * 30 + [True]
    assert [r.task_id for r in again[:30]] == [r.task_id for r in first][::-1]
    assert [r.task.metadata for r in again[:30]] == [{"i": i} for i in range(30)][
        ::-1
    ]  # read from the database
    assert Task.objects.filter(project=project).count() == 31
    assert Event.objects.filter(kind="task.created").count() == n_events + 1


def test_tasks_without_unique_id_are_created_every_time(client_a):
    project = ProjectFactory(client=client_a)
    item = [{"params": {"attachment": "a"}}]
    services.task_bulk_create(client=client_a, actor=None, project=project, items=item)
    services.task_bulk_create(client=client_a, actor=None, project=project, items=item)
    assert Task.objects.filter(project=project).count() == 2


# --- the same errors ---------------------------------------------------------------------------------------


def python_only(self, value):
    """``CompiledSchema.errors`` without jsonschema-rs: what every check did before."""
    return sorted(
        self.slow.iter_errors(value),
        key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in e.absolute_path],
    )


def outcome(client, project, batch) -> tuple:
    try:
        services.task_bulk_create(client=client, actor=None, project=project, items=batch)
    except ValidationFailed as exc:
        return ("error", exc.message, exc.code, exc.details)
    return ("ok",)


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bad=st.dictionaries(
        st.sampled_from(["attachment", "attachment_type", "attachment_width", "attachment_height",
                         "geometries", "annotation_attributes", "extra"]),
        JSON,
        min_size=1,
        max_size=3,
    ),
    gold=st.none() | JSON,
    at=st.integers(min_value=0, max_value=3),
)  # fmt: skip
def test_errors_are_the_same_with_and_without_the_compiled_validator(client_a, monkeypatch, bad, gold, at):
    with transaction.atomic():
        same_errors(client_a, monkeypatch, bad, gold, at)
        transaction.set_rollback(True)


def same_errors(client_a, monkeypatch, bad, gold, at):
    project = BoxProjectFactory(client=client_a)
    batch = [{"params": {"attachment": f"/media/a/{i}.png"}} for i in range(4)]
    batch[at] = {"params": {"attachment": "/media/a/x.png", **bad}}
    if gold is not None:
        batch[at]["gold_answer"] = gold
    fast = outcome(client_a, project, batch)
    with monkeypatch.context() as patch:
        patch.setattr(_common.CompiledSchema, "errors", python_only)
        slow = outcome(client_a, project, batch)
    assert fast == slow
    if fast[0] == "error":
        assert fast[1].startswith(f"tasks[{at}].")


def test_an_error_names_the_item_and_field_and_nothing_is_written(client_a):
    project = BoxProjectFactory(client=client_a)
    batch = [{"params": {"attachment": f"/media/a/{i}.png"}, "unique_id": f"e{i}"} for i in range(5)]
    batch[3]["params"]["attachment_width"] = "wide"
    with pytest.raises(ValidationFailed) as err:
        services.task_bulk_create(client=client_a, actor=None, project=project, items=batch)
    assert err.value.message == "tasks[3].params.attachment_width: 'wide' is not of type 'integer'"
    assert err.value.details == {"index": 3, "field": "params.attachment_width"}
    assert not Task.objects.filter(project=project).exists()
    assert not Event.objects.filter(kind="task.created").exists()


def test_a_failing_copy_leaves_nothing_behind(client_a, monkeypatch):
    """All or nothing also when the database refuses a row in the middle of the COPY."""
    project = ProjectFactory(client=client_a)
    batch = [{"params": {"attachment": f"a{i}"}, "metadata": {"i": i}} for i in range(5)]
    real = pgcopy.json_text
    monkeypatch.setattr(  # the metadata comes encoded (core.jsontext.Encoded) from the size check
        pgcopy, "json_text", lambda v: '{"broken": ' if getattr(v, "value", v) == {"i": 3} else real(v)
    )
    with pytest.raises(Exception) as err:
        services.task_bulk_create(client=client_a, actor=None, project=project, items=batch)
    assert "json" in str(err.value).lower()
    assert not Task.objects.filter(project=project).exists()
    assert not Event.objects.filter(kind="task.created").exists()


# --- the COPY text format ---------------------------------------------------------------------------------


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.one_of(TEXT, st.none()), min_size=1, max_size=4))
def test_copy_text_round_trips_any_string(db, values):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS copy_probe (i int, t text)")
        cursor.execute("TRUNCATE copy_probe")
        with cursor.cursor.copy("COPY copy_probe (i, t) FROM STDIN") as copy:
            copy.write("".join(pgcopy.text_row([i, v]) + "\n" for i, v in enumerate(values)).encode())
        cursor.execute("SELECT t FROM copy_probe ORDER BY i")
        assert [row[0] for row in cursor.fetchall()] == values


def test_copy_text_refuses_values_it_cannot_write():
    with pytest.raises(TypeError):
        pgcopy.text_row([object()])
    assert pgcopy.text_row([True, None, 3, "a\tb"]) == "t\t\\N\t3\ta\\tb"


def test_the_unique_id_lookup_probes_the_unique_index_per_id(client_a):
    """However stale the statistics (thousands of rows written since the last ANALYZE), each id
    is one probe of the unique index, not a filter over every task of the client."""
    project = ProjectFactory(client=client_a)
    services.task_bulk_create(
        client=client_a,
        actor=None,
        project=project,
        items=[{"params": {"attachment": "a"}, "unique_id": f"s{i}"} for i in range(3000)],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + task_services.EXISTING_SQL, [[f"s{i}" for i in range(500)], client_a.id, False]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan using task_client_unique_id_uniq" in plan, plan
    assert "unique_id)::text = u.uid" in plan, plan
    assert "Filter" not in plan, plan
    found = task_services._existing_tasks(client=client_a, is_test=False, unique_ids=["s7", "s2999", "nope"])
    assert set(found) == {"s7", "s2999"}


# --- validation streamed into the COPY: the errors keep their order ---------------------------------------


def _refusal(client, project, items):
    events_before = Event.objects.filter(kind="task.created").count()
    with pytest.raises((ValidationFailed, Conflict)) as err:
        services.task_bulk_create(client=client, actor=None, project=project, items=items)
    assert not Task.objects.filter(project=project).exists()
    assert Event.objects.filter(kind="task.created").count() == events_before
    return err.value


def test_an_item_error_after_a_repeated_unique_id_is_the_one_answered(client_a):
    """Items are validated while the COPY runs, but a repeated unique_id (found before the first
    row) is still answered only once every item is valid, as when validation came first."""
    project = BoxProjectFactory(client=client_a)
    items = [{"params": {"attachment": f"/media/a/{i}.png"}, "unique_id": f"r{i}"} for i in range(6)]
    items[1]["unique_id"] = "r0"
    items[4]["params"]["attachment_width"] = "wide"
    assert _refusal(client_a, project, items).details == {"index": 4, "field": "params.attachment_width"}
    items[4]["params"]["attachment_width"] = 640
    error = _refusal(client_a, project, items)
    assert (error.code, error.details) == ("duplicate_unique_id", {"index": 1, "field": "unique_id"})


def test_the_params_cap_and_another_projects_unique_id_wait_for_every_item(client_a, settings):
    settings.QUORUM_MAX_BULK_PARAMS_BYTES = 300  # passed by the third item's params
    project = BoxProjectFactory(client=client_a)
    other = BoxProjectFactory(client=client_a)
    services.task_bulk_create(
        client=client_a, actor=None, project=other,
        items=[{"params": {"attachment": "/media/o.png"}, "unique_id": "taken"}],
    )  # fmt: skip
    items = [{"params": {"attachment": f"/media/a/{i}.png"}, "unique_id": f"c{i}"} for i in range(5)]
    items[0]["unique_id"] = "taken"
    items[4]["priority"] = 1000
    assert _refusal(client_a, project, items).details["field"] == "priority"
    items[4]["priority"] = 0
    error = _refusal(client_a, project, items)
    assert error.code == "too_large" and error.details["index"] == 2
    settings.QUORUM_MAX_BULK_PARAMS_BYTES = 100_000
    error = _refusal(client_a, project, items)
    assert (error.code, error.details["index"]) == ("unique_id_conflict", 0)
    assert Task.objects.filter(project=other).count() == 1
