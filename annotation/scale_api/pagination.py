"""Scale's two page shapes.

Tasks (``GET tasks``): ``docs, total, limit, offset, has_more, next_token``. Keyset pages, newest
first by id (UUIDv7: creation order, no ties), so a page never skips or repeats a task while
others are being created. ``next_token`` is the id of the last task sent; it is set exactly when
``has_more`` is true, and ``total`` is the count of every task matching the filters.

Batches (``GET batches``): ``docs, totalDocs, limit, offset, has_more``, offset pages. ``limit``
is always the page size used (> 0): the SDK's ``get_batches`` advances ``offset`` by it.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from annotation.scale_api.params import MAX_PAGE, fail, integer, one


def task_page(query, queryset: QuerySet) -> tuple[list, dict]:
    """Return ``(tasks of this page, the page fields except docs)``."""
    limit = integer(query, "limit", default=MAX_PAGE, low=1, high=MAX_PAGE)
    token = one(query, "next_token")
    ordered = queryset.order_by("-id")
    total = queryset.count()
    if token:
        try:
            last = uuid.UUID(hex=token)
        except ValueError as exc:
            raise fail("next_token", "is not a token this API gave") from exc
        offset = queryset.filter(id__gte=last).count()
        ordered = ordered.filter(id__lt=last)
        window = ordered[: limit + 1]
    else:
        offset = integer(query, "offset", default=0, low=0)
        window = ordered[offset : offset + limit + 1]
    rows = list(window)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, {
        "total": total,
        "limit": limit,
        "offset": offset,
        "has_more": has_more,
        "next_token": rows[-1].id.hex if has_more else None,
    }


def batch_page(query, queryset: QuerySet) -> tuple[list, dict]:
    limit = integer(query, "limit", default=MAX_PAGE, low=1, high=MAX_PAGE)
    offset = integer(query, "offset", default=0, low=0)
    total = queryset.count()
    rows = list(queryset.order_by("-created_at", "-id")[offset : offset + limit])
    return rows, {
        "totalDocs": total,
        "limit": limit,
        "offset": offset,
        "has_more": offset + len(rows) < total,
    }
