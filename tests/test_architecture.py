"""Project rules that are checked mechanically (docs/architecture.md): call direction, migrations,
settings."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# annotation may call billing and clients; billing may call clients; clients calls neither.
ALLOWED = {"clients": set(), "billing": {"clients"}, "annotation": {"billing", "clients"}}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_apps_only_call_in_the_allowed_direction():
    violations = []
    for app, allowed in ALLOWED.items():
        for path in (ROOT / app).rglob("*.py"):
            for name in _imports(path):
                if name in ALLOWED and name != app and name not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert violations == []


def test_the_direction_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from annotation import services\n")
    assert "annotation" in set(_imports(bad))


def test_no_floats_in_money_code():
    for path in [
        ROOT / "billing" / "ledger.py",
        ROOT / "billing" / "services.py",
        ROOT / "billing" / "models.py",
    ]:
        source = path.read_text()
        assert "FloatField" not in source and "float(" not in source, path


def _manage(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_makemigrations_check_is_clean():
    result = _manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "k3Jq9-vXz2LwP8nRt5YbHc7MdA1sFe4GuQ6oIi0Ty_ZpNvBxWmElKrDhOj",
    "DJANGO_ALLOWED_HOSTS": "quorum.example.com",
}


def test_check_deploy_is_clean_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "message"),
    [("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY"), ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS")],
)
def test_production_refuses_to_start_without_secrets(missing, message):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _manage("check", env_extra={**env, missing: ""})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_an_insecure_secret_key():
    result = _manage("check", env_extra={**PRODUCTION, "DJANGO_SECRET_KEY": "django-insecure-" + "a" * 50})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    result = _manage("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    text = out.read_text()
    for path in (
        "/api/v1/tasks/bulk:",
        "/api/v1/work/next:",
        "/api/v1/work/assignments/{assignment_id}/submit:",
    ):
        assert path in text
    assert "#/components/schemas/Error" in text  # every operation documents the error object


def test_webhook_retries_span_about_a_day():
    from django.conf import settings

    total = sum(settings.QUORUM_WEBHOOK_RETRY_SCHEDULE)
    assert 20 * 3600 <= total <= 26 * 3600


def test_celery_visibility_timeout_covers_twice_the_longest_task():
    """docs/reliability.md, "a worker killed mid-task" (celery#7651): a message is redelivered
    after the visibility timeout, so it must exceed twice the hard time limit, and be set where
    kombu reads it."""
    from django.conf import settings

    assert (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT
    )
    assert settings.CELERY_VISIBILITY_TIMEOUT >= 2 * settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


@pytest.mark.django_db
def test_api_docs_are_served_without_any_outside_host(client):
    """The README promises interactive docs that work offline (drf-spectacular-sidecar)."""
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    # Swagger UI's start-up script comes from the same URL (no inline script: the CSP allows none)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "/api/schema/" in script.content.decode()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


# --- the lifecycle package alone writes the task lifecycle ------------------------------------------

# Task columns that only annotation/lifecycle/ writes (state, counters, fencing, results), and the
# models whose rows only it locks.
LIFECYCLE_COLUMNS = {
    "status", "slots_taken", "answers_received", "claim_seq", "overlap", "in_review", "rework_round",
    "round_offset", "spend_reserved", "released", "response", "confidence", "completed_at",
}  # fmt: skip
LIFECYCLE_MODELS = {"Task", "Assignment"}
RAW_WRITE = re.compile(
    r"\b(UPDATE|DELETE\s+FROM)\s+annotation_(task|assignment)\b|FOR\s+(NO\s+KEY\s+)?UPDATE", re.I
)


def _model_root(node) -> str | None:
    """``Task`` for ``Task.objects.filter(...).update`` and the like (walks the call chain)."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            if node.attr == "objects" and isinstance(node.value, ast.Name):
                return node.value.id
            node = node.value
        else:
            return None


def _lifecycle_violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, model = node.func.attr, _model_root(node.func.value)
            if model in LIFECYCLE_MODELS and method == "select_for_update":
                found.append(f"line {node.lineno}: locks {model} rows")
            if model in LIFECYCLE_MODELS and method == "update":
                written = {k.arg for k in node.keywords} & LIFECYCLE_COLUMNS
                if model == "Assignment" or written:
                    found.append(f"line {node.lineno}: {model}.update({', '.join(sorted(written))})")
            if (
                method == "save"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("task", "assignment")
            ):
                fields = next((k.value for k in node.keywords if k.arg == "update_fields"), None)
                names = {e.value for e in getattr(fields, "elts", []) if isinstance(e, ast.Constant)}
                if fields is None or names & LIFECYCLE_COLUMNS or node.func.value.id == "assignment":
                    found.append(f"line {node.lineno}: {node.func.value.id}.save({', '.join(sorted(names))})")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_WRITE.search(node.value):
            if re.search(r"annotation_(task|assignment)", node.value):
                found.append(f"line {node.lineno}: SQL writes or locks annotation_task/annotation_assignment")
    return found


def test_only_the_lifecycle_package_writes_or_locks_tasks_and_assignments():
    """annotation/lifecycle/ alone takes task and assignment row locks and moves their state and
    counters (its README.md has the lock order); everything else calls it."""
    violations = []
    for app in ("annotation", "billing", "clients", "config", "core"):
        for path in (ROOT / app).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("annotation", "lifecycle") or "migrations" in rel.parts:
                continue
            violations += [f"{rel} {v}" for v in _lifecycle_violations(path.read_text())]
    assert violations == []


@pytest.mark.parametrize(
    "snippet",
    [
        "Task.objects.filter(pk=1).update(slots_taken=F('slots_taken') - 1)",
        "Task.objects.select_for_update().get(pk=1)",
        "Assignment.objects.filter(pk=1).update(finished_at=now)",
        "task.save(update_fields=['status'])",
        "cursor.execute('UPDATE annotation_task SET overlap = overlap + 1 WHERE id = %s', [1])",
        "cursor.execute('SELECT id FROM annotation_assignment WHERE id = %s FOR UPDATE', [1])",
    ],
)
def test_the_lifecycle_check_can_fail(snippet):
    assert _lifecycle_violations(snippet) != []


def test_the_lifecycle_check_allows_other_writes():
    assert (
        _lifecycle_violations(
            "Task.objects.filter(pk=1).update(metadata={})\ntask.save(update_fields=['tags'])"
        )
        == []
    )


def test_hypothesis_examples_have_no_deadline():
    """A per-example deadline is a timing assertion; tests/conftest.py loads a profile without one,
    and no test may bring one back (a shared CI machine makes them fail at random)."""
    from hypothesis import settings

    assert settings.default.deadline is None
    # A deadline keyword inside a hypothesis settings(...) call (which may span lines); a model's
    # own ``deadline`` field elsewhere is not one.
    in_settings = re.compile(r"\bsettings\((?:[^()]|\([^()]*\))*?\bdeadline=(?!None\b)", re.S)
    timed = []
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text()
        for found in in_settings.finditer(text):
            number = text.count("\n", 0, found.end()) + 1
            timed.append(f"{path.relative_to(ROOT)}:{number}")
    assert timed == []
