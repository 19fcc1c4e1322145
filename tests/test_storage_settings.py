"""Storage settings: the filesystem by default, S3 through django-storages when asked, and a clear
refusal when S3 is asked for without a bucket. Checked in a fresh process, as settings are read at
start-up."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOW = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.STORAGES['default']['BACKEND'], settings.MEDIA_ROOT)"
)


def _settings(env_extra: dict) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "QUORUM_STORAGE", "QUORUM_MEDIA"))
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env_extra})
    return subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_filesystem_is_the_default_under_var_media():
    result = _settings({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.files.storage.FileSystemStorage",
        str(ROOT / "var" / "media"),
    ]


def test_s3_is_django_storages_with_the_bucket_from_the_environment():
    result = _settings({"QUORUM_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "quorum-files"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "storages.backends.s3.S3Storage"


def test_s3_without_a_bucket_refuses_to_start():
    result = _settings({"QUORUM_STORAGE": "s3"})
    assert result.returncode != 0
    assert "QUORUM_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_an_unknown_storage_refuses_to_start():
    result = _settings({"QUORUM_STORAGE": "ftp"})
    assert result.returncode != 0
    assert "QUORUM_STORAGE must be filesystem or s3" in result.stderr
