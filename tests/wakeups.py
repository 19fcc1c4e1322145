"""Celery wake-ups that services queue by name (``current_app.send_task``: a service does not import
the tasks module, which imports the services), handled in the test process instead of the broker."""

from __future__ import annotations

from collections.abc import Callable

from celery import current_app


def intercept(monkeypatch, name: str, handler: Callable[..., object]) -> None:
    """From now on (until ``monkeypatch`` undoes it), a wake-up for the task ``name`` calls
    ``handler(*args)`` instead of going to the broker; every other name goes on as before."""
    previous = current_app.send_task

    def send_task(task_name, args=None, kwargs=None, **options):
        if task_name == name:
            return handler(*(args or ()), **(kwargs or {}))
        return previous(task_name, args=args, kwargs=kwargs, **options)

    monkeypatch.setattr(current_app, "send_task", send_task)
