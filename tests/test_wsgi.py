"""config/wsgi.py: the URLconf is loaded and the objects of start-up are frozen before serving."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wsgi_module_loads_the_urlconf_and_freezes_startup_objects():
    # A fresh interpreter: what importing config.wsgi does, as granian's workers import it.
    code = (
        "import gc, json, sys\n"
        "import config.wsgi\n"
        "print(json.dumps({'frozen': gc.get_freeze_count(),"
        " 'views_loaded': 'annotation.api.views' in sys.modules}))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # the URLconf (and the views it imports) loads at import, not at the first request
    assert got["views_loaded"]
    assert got["frozen"] > 10_000, got  # Django, the apps and the views: tens of thousands of objects
