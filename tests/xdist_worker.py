"""pytest plugin, loaded early (``-p tests.xdist_worker`` in pyproject.toml): in a pytest-xdist
worker, switch to the worker's own run name before pytest-django imports the settings, so each
worker has its own Redis key prefix, media folder and benchmark smoke databases, as a separate run
would (config/devservices.py, ``adopt_worker_run_name``). pytest-django gives each worker its own
test database (``test_quorum_<run>_gw0``). Outside xdist (``-n 0``) it does nothing."""

from __future__ import annotations

import os

from config import devservices

if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    devservices.adopt_worker_run_name(worker)
