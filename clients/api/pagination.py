"""Cursor pagination shared by every list endpoint of the native API."""

from rest_framework.pagination import CursorPagination


class NewestFirstCursor(CursorPagination):
    """Newest first. Ids are UUIDv7: unique and ordered by their millisecond, so ``-id`` is
    creation order to the millisecond (random within one) with no ties, and a cursor never skips
    or repeats a row even when many share a timestamp."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000


def paginated_response(*, request, view, queryset, serializer_class):
    paginator = NewestFirstCursor()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
