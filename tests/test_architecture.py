"""Project rules that are checked mechanically (docs/architecture.md): imports, migrations, settings.

The import rules read the source with ``ast`` (nothing is imported) over the project's packages
(``annotation``, ``billing``, ``clients``, ``config``, ``core``; migrations aside):

1. No import cycles between modules. The graph is the imports that run when a module is loaded
   (module level, class bodies, ``if``/``try`` blocks; not function bodies).
2. Apps call in one direction: ``annotation`` → ``billing`` → ``clients`` → ``core``; ``core`` (the
   shared kernel) imports no app and ``config`` (the wiring) is imported by nothing.
3. Layers, inside an app as well as between apps: a module imports modules of its own layer or a
   lower one (every import, in a function or not). The layer of a module follows from its path
   (first match):

   ======== ==========================================================================================
   layer    paths
   ======== ==========================================================================================
   wiring   ``config/``, ``<app>/apps.py`` (may import anything; nothing imports ``config``)
   faces    ``<app>/api/``, ``<app>/web/``, ``annotation/scale_api/``, ``<app>/management/``,
            ``billing/templatetags/``, ``<app>/admin.py``, ``<app>/tasks.py``, ``<app>/urls.py``,
            ``clients/schema.py``, ``billing/idempotency.py``
   services ``<app>/services.py``, ``<app>/services/``, ``<app>/selectors.py``,
            ``<app>/*_selectors.py``, ``<app>/reports.py``, ``annotation/lifecycle/``,
            ``annotation/trends.py``, ``billing/invoices.py``, ``clients/auth.py``
   engine   ``<app>/models.py``, ``<app>/models/``, ``annotation/quality/``, ``annotation/tasktypes/``,
            ``annotation/exports/``, ``annotation/payloads.py``, ``annotation/prelabels.py``,
            ``annotation/storage.py``, ``billing/ledger.py``, ``billing/sql.py``, ``clients/secrets.py``,
            ``<app>/__init__.py``
   kernel   ``core/``
   ======== ==========================================================================================

   Faces → services → engine and models → kernel. Inside the services layer, the lifecycle
   (``annotation/lifecycle/``) never calls ``annotation/services/``: services call the lifecycle.
   A service that must start a Celery task queues it by name (``current_app.send_task``), since
   ``tasks.py`` is a face.
4. Project modules are imported at module level; the one exception is ``AppConfig.ready`` (which
   runs once the app registry is ready). An import inside a function to dodge a cycle hides the
   cycle from rule 1.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("annotation", "billing", "clients", "config", "core")
APPS = ("annotation", "billing", "clients")
# annotation may call billing and clients; billing may call clients; clients calls neither; every
# app may call the kernel, which calls no app.
ALLOWED = {"clients": {"core"}, "billing": {"clients", "core"}, "annotation": {"billing", "clients", "core"}}

RANK = {"kernel": 0, "engine": 1, "services": 2, "faces": 3, "wiring": 4}
LAYERS = [  # (layer, path pattern): the first match decides; the table in the docstring above
    ("wiring", r"config/|\w+/apps\.py$"),
    ("kernel", r"core/"),
    (
        "faces",
        r"\w+/(api|web|management|templatetags)/|annotation/scale_api/|\w+/(admin|tasks|urls)\.py$"
        r"|clients/schema\.py$|billing/idempotency\.py$",
    ),
    (
        "services",
        r"\w+/(services|selectors|\w+_selectors|reports)\.py$|\w+/services/|annotation/lifecycle/"
        r"|annotation/trends\.py$|billing/invoices\.py$|clients/auth\.py$",
    ),
    (
        "engine",
        r"\w+/models(\.py$|/)|annotation/(quality|tasktypes|exports)/"
        r"|annotation/(payloads|prelabels|storage)\.py$|billing/(ledger|sql)\.py$|clients/secrets\.py$"
        r"|\w+/__init__\.py$",
    ),
]


def layer_of(path: str) -> str | None:
    """The layer of a module from its path relative to the root (``annotation/api/views.py``)."""
    for layer, pattern in LAYERS:
        if re.match(pattern, path):
            return layer
    return None


def _project_modules() -> dict[str, str]:
    """Dotted name → path relative to the root, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = rel.as_posix()
    return modules


MODULES = _project_modules()


def _imports(path: Path):
    """Top-level package names imported by ``path`` (absolute imports, anywhere in the file)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def module_imports(module: str, source: str, *, is_package: bool = False, modules=None):
    """``(imported project module, line, at load time?)`` for each import in ``source``. ``from a.b
    import c`` names ``a.b.c`` when that is a module, else ``a.b``. At load time: not inside a
    function body."""
    modules = MODULES if modules is None else modules
    found = []

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    def visit(node, in_function: bool):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            in_function = True
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            names = []
        for name in names:
            target = resolve(name)
            if target is not None and target != module:
                found.append((target, node.lineno, not in_function))
        for child in ast.iter_child_nodes(node):
            visit(child, in_function)

    visit(ast.parse(source), False)
    return found


def _all_imports():
    return {
        module: module_imports(module, (ROOT / path).read_text(), is_package=path.endswith("__init__.py"))
        for module, path in MODULES.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (``[a, b, a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def layer_violations(module: str, path: str, imports, *, paths=None) -> list[str]:
    """What ``module`` (at ``path``) imports against rules 2 and 3 of the docstring."""
    paths = MODULES if paths is None else paths
    found = []
    here = layer_of(path)
    app = module.split(".")[0]
    for target, line, _ in imports:
        there = layer_of(paths[target])
        other = target.split(".")[0]
        where = f"{path}:{line} imports {target}"
        if here is None or there is None:
            found.append(f"{where}: no layer for {path if here is None else paths[target]}")
        elif there == "wiring" and here != "wiring":
            found.append(f"{where}: nothing outside config imports the wiring")
        elif here == "kernel" and there != "kernel":
            found.append(f"{where}: the kernel imports no app")
        elif app in ALLOWED and other in ALLOWED and other != app and other not in ALLOWED[app]:
            found.append(f"{where}: {app} may not call {other}")
        elif RANK[there] > RANK[here]:
            found.append(f"{where}: {here} may not call {there}")
        elif module.startswith("annotation.lifecycle") and target.startswith("annotation.services"):
            found.append(f"{where}: the lifecycle never calls annotation/services/")
    return found


def test_every_module_has_a_layer():
    assert [path for path in MODULES.values() if layer_of(path) is None] == []


def test_no_import_cycles():
    graph = {m: {t for t, _, at_load in imports if at_load} for m, imports in _all_imports().items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_each_layer_calls_only_its_own_or_lower_layers():
    violations = []
    for module, imports in _all_imports().items():
        violations += layer_violations(module, MODULES[module], imports)
    assert violations == []


def test_project_modules_are_imported_at_module_level():
    """Rule 4: the only import inside a function is the one in an ``AppConfig.ready``."""
    inside = []
    for module, imports in _all_imports().items():
        source = (ROOT / MODULES[module]).read_text()
        ready = [
            (node.lineno, node.end_lineno)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef)
            and node.name == "ready"
            and MODULES[module].endswith("apps.py")
        ]
        for target, line, at_load in imports:
            if not at_load and not any(start <= line <= end for start, end in ready):
                inside.append(f"{MODULES[module]}:{line} imports {target} inside a function")
    assert inside == []


def test_apps_only_call_in_the_allowed_direction():
    violations = []
    for app, allowed in ALLOWED.items():
        for path in (ROOT / app).rglob("*.py"):
            for name in _imports(path):
                if name in (*ALLOWED, "core") and name != app and name not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} imports {name}")
    for path in (ROOT / "core").rglob("*.py"):
        violations += [f"{path.relative_to(ROOT)} imports {n}" for n in _imports(path) if n in ALLOWED]
    assert violations == []


def test_the_direction_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from annotation import services\n")
    assert "annotation" in set(_imports(bad))


# The import rules, shown failing on made-up modules (the real tree passes them).
FAKE = {
    "annotation.services.exports": "annotation/services/exports.py",
    "annotation.tasks": "annotation/tasks.py",
    "annotation.lifecycle.complete": "annotation/lifecycle/complete.py",
    "annotation.models": "annotation/models/__init__.py",
    "billing.services": "billing/services.py",
    "clients.models": "clients/models.py",
    "config.celery": "config/celery.py",
    "core.webhooks": "core/webhooks.py",
}


def test_the_cycle_check_can_fail():
    graph = {
        "annotation.services.exports": {"annotation.tasks"},
        "annotation.tasks": {"annotation.services.exports"},
    }
    assert find_cycle(graph) == [
        "annotation.services.exports",
        "annotation.tasks",
        "annotation.services.exports",
    ]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_a_function_body_import_is_not_a_load_time_edge():
    found = module_imports("core.webhooks", "def f():\n    from clients import models\n", modules=FAKE)
    assert found == [("clients.models", 2, False)]


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("annotation.services.exports", "from annotation import tasks", "services may not call faces"),
        ("annotation.lifecycle.complete", "from annotation.services import exports", "never calls"),
        ("annotation.models", "from annotation.lifecycle import complete", "engine may not call services"),
        ("core.webhooks", "from clients.models import Client", "the kernel imports no app"),
        (
            "billing.services",
            "def f():\n    from annotation import models",
            "billing may not call annotation",
        ),
        ("annotation.tasks", "from config import celery", "nothing outside config imports the wiring"),
    ],
)
def test_the_layer_check_can_fail(module, source, broken):
    imports = module_imports(module, source, modules=FAKE)
    found = layer_violations(module, FAKE[module], imports, paths=FAKE)
    assert len(found) == 1 and broken in found[0], found


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
