from django.apps import AppConfig


class CoreConfig(AppConfig):
    """An app only so that the kernel can own its models (``core/models.py``) and their migrations."""

    name = "core"
    verbose_name = "Kernel: outbox and event log"
