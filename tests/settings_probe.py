"""Settings as a fresh process sees them: settings are read from the environment at start-up, so a
test that varies the environment asks a new Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

from django.conf import settings


def settings_value(expression: str, env: dict[str, str], *, unset: Iterable[str] = ()) -> Any:
    """``expression`` (Python over ``settings``, JSON-serialisable) in a new process with
    ``config.settings``, this environment less ``unset`` and plus ``env``."""
    show = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}))"
    )
    drop = set(unset)
    child_env = {k: v for k, v in os.environ.items() if k not in drop}
    child_env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env})
    result = subprocess.run(
        [sys.executable, "-c", show],
        cwd=settings.BASE_DIR,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
