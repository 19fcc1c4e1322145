"""Request bodies with a fixed schema refuse fields they do not know.

DRF drops unknown keys silently, so a typo (``"overlapp": 5``) used to answer 201 with the
default (overlap 1). ``validated(SerializerClass, data)`` refuses any key that is not a writable
field of the serializer, at any depth of nested serializers (``options.batchh``,
``items[2].colour``), with a 400 ``unknown_field`` naming it and listing the known fields. Free-form
values (``DictField``/``JSONField``: ``params``, ``metadata``, an answer) are not looked into:
their content is checked by the services.

Only the native API uses it; the Scale-compatible ``/v1/`` API keeps accepting the extra keys the
official SDK sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, serializers


class UnknownField(exceptions.ValidationError):
    error_code = "unknown_field"


def unknown_fields(serializer: serializers.Serializer, data: Any, prefix: str = "") -> list[tuple[str, list]]:
    """``[(path, known field names)]`` for every key of ``data`` the serializer does not take."""
    if not isinstance(data, Mapping):
        return []
    writable = {name: field for name, field in serializer.fields.items() if not field.read_only}
    found: list[tuple[str, list]] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        field = writable.get(key)
        if field is None:
            found.append((path, sorted(writable)))
            continue
        if isinstance(field, serializers.Serializer):
            found += unknown_fields(field, value, f"{path}.")
        elif isinstance(field, serializers.ListSerializer | serializers.ListField) and isinstance(
            value, list
        ):
            child = field.child
            if isinstance(child, serializers.Serializer):
                for i, item in enumerate(value):
                    found += unknown_fields(child, item, f"{path}[{i}].")
    return found


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    """``serializer_class(data=data).validated_data``, refusing unknown fields first (400
    ``unknown_field``) and then anything the serializer refuses (400 ``validation_error``)."""
    serializer = serializer_class(data=data, **kwargs)
    unknown = unknown_fields(serializer, data)
    if unknown:
        path, known = unknown[0]
        raise UnknownField({path: [f"unknown field (the fields here are: {', '.join(known) or 'none'})"]})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
