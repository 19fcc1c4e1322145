"""``DB_CONN_HEALTH_CHECKS`` is read from the environment at start-up (default on)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings


def _health_checks(value: str | None) -> bool:
    env = {k: v for k, v in os.environ.items() if k != "DB_CONN_HEALTH_CHECKS"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if value is not None:
        env["DB_CONN_HEALTH_CHECKS"] = value
    show = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['CONN_HEALTH_CHECKS'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", show],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("true", True), ("false", False), ("0", False)]
)
def test_connection_health_checks_follow_the_setting(value, expected):
    assert _health_checks(value) is expected
