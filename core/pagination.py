"""Cursor pagination shared by every list endpoint of the native API."""

import uuid

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class NewestFirstCursor(CursorPagination):
    """Newest first. Ids are UUIDv7: unique and ordered by their millisecond, so ``-id`` is
    creation order to the millisecond (random within one) with no ties, and a cursor never skips
    or repeats a row even when many share a timestamp."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000

    def decode_cursor(self, request):
        """DRF checks a cursor's syntax, not its position: a forged position must be a 404, not
        a 500 from the database."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                uuid.UUID(cursor.position)
            except ValueError as exc:
                raise NotFound(self.invalid_cursor_message) from exc
        return cursor


def paginated_response(*, request, view, queryset, serializer_class):
    """List views set ``pagination_class = NewestFirstCursor`` (so the OpenAPI schema shows the
    page object and the ``cursor``/``limit`` parameters) and answer through this."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
