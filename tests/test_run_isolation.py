"""Every per-run resource of a test run is derived from its run name (config/devservices.py):
two checkouts, or two runs with different ``QUORUM_RUN_NAME``, never share a database, a Redis key
or queue, or a media folder. ``make test`` always exports the run name; the test refuses to run
without it rather than pass vacuously."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


@pytest.fixture
def run_name() -> str:
    name = os.environ.get("QUORUM_RUN_NAME")
    if not name:
        pytest.fail("QUORUM_RUN_NAME is not set: run the suite through `make test` (config/devservices.py)")
    return name


@pytest.mark.django_db
def test_the_database_is_the_runs_own(run_name):
    # the launcher picks quorum_<run>; pytest-django creates and uses test_quorum_<run>
    assert connection.settings_dict["NAME"] == f"test_quorum_{run_name}", (
        "the test database is not derived from the run name: was DATABASE_URL set by hand? "
        "Then two runs on that server share it."
    )


def test_redis_keys_and_celery_queues_carry_the_runs_prefix(run_name):
    prefix = f"{run_name}:"
    assert settings.REDIS_KEY_PREFIX == prefix
    assert settings.CACHES["default"]["KEY_PREFIX"] == prefix
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] == prefix


def test_media_files_go_to_the_runs_own_folder(run_name):
    media = Path(settings.MEDIA_ROOT)
    assert media.name == f"quorum-test-media-{run_name}"
    assert not media.is_relative_to(Path(settings.BASE_DIR) / "var")


def test_export_attempts_write_under_the_runs_own_folder(run_name):
    # An attempt removes the folders whose job its database does not hold as running
    # (annotation.services.exports.exports_clean_workdirs): another run's are not its own.
    assert Path(settings.QUORUM_EXPORT_TMP_DIR).name == f"quorum-test-exports-{run_name}"


def test_each_xdist_worker_is_a_run_of_its_own(monkeypatch):
    """``make test`` runs two pytest-xdist workers: tests/xdist_worker.py gives each the run name
    ``<run>_<worker id>`` before the settings are read, so the tests above hold for each worker, and
    the two workers share none of their database, Redis keys, queues, media and export folders."""
    from config import devservices

    for key, value in devservices.run_environment("rtest").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("QUORUM_REDIS_PREFIX", "chosen-by-hand:")  # set by hand: kept as it is

    assert devservices.adopt_worker_run_name("gw1") == "rtest_gw1"
    assert os.environ["QUORUM_RUN_NAME"] == "rtest_gw1"
    assert Path(os.environ["QUORUM_MEDIA_ROOT"]).name == "quorum-test-media-rtest_gw1"
    # An export attempt clears the folders there whose job its own database does not hold as
    # running; shared between the workers (two test databases), one removed the other's files.
    assert Path(os.environ["QUORUM_EXPORT_TMP_DIR"]).name == "quorum-test-exports-rtest_gw1"
    assert os.environ["QUORUM_REDIS_PREFIX"] == "chosen-by-hand:"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    assert worker is None or settings.REDIS_KEY_PREFIX.endswith(f"_{worker}:")
