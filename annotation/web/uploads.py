"""Task files uploaded on the portal: CSV or JSON Lines, one task per row, read into the items of a
bulk request (``annotation.services.task_bulk_create``).

- JSON Lines: one JSON object per line, exactly a bulk API item (``params``, ``unique_id``,
  ``metadata``, ``callback_url``, ``priority``, ``tags``, ``instruction``). Blank lines are skipped.
- CSV (UTF-8, a header row): the columns ``unique_id``, ``callback_url``, ``instruction``,
  ``priority`` (an integer), ``tags`` (separated by ``;``), ``metadata`` (a JSON object) and
  ``metadata.<key>`` are task fields; every other column is a key of ``params`` (``attachment``,
  ``attachment_type``, ``prompt``…). A cell that starts with ``[`` or ``{`` is read as JSON (lists of
  responses, frames…); an empty cell is left out.

Rows are numbered by their line in the file (the CSV header is line 1), so the report points at
the line to fix. Reading problems (not JSON, a bad integer) are reported per row, like validation
problems; the whole file is then refused (see ``annotation.web.portal``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from clients.web.errors import plain

TASK_COLUMNS = {"unique_id", "callback_url", "instruction", "priority", "tags", "metadata"}
MAX_UPLOAD_BYTES = 32 * 1024 * 1024


@dataclass
class Row:
    line: int
    item: dict | None = None
    error: str | None = None


class UnreadableFile(ValueError):
    pass


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"The file is not UTF-8 text (byte {exc.start} cannot be read).") from exc


def detect_format(filename: str, data: bytes) -> str:
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    first = data.lstrip()[:1]
    return "jsonl" if first == b"{" else "csv"


def read_rows(filename: str, data: bytes) -> list[Row]:
    if not data.strip():
        raise UnreadableFile("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UnreadableFile(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it.")
    text = _text(data)
    return read_jsonl(text) if detect_format(filename, data) == "jsonl" else read_csv(text)


def read_jsonl(text: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append(Row(number, error=f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            rows.append(Row(number, error="must be a JSON object (one task per line)"))
            continue
        rows.append(Row(number, item=value))
    if not rows:
        raise UnreadableFile("The file has no tasks.")
    return rows


def _cell(value: str) -> Any:
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        return json.loads(stripped)
    return value


def read_csv(text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or not any(name and name.strip() for name in reader.fieldnames):
        raise UnreadableFile("The CSV file has no header row.")
    rows = []
    line = reader.line_num + 1
    for record in reader:
        if None in record:
            rows.append(
                Row(
                    line,
                    error=f"has {len(reader.fieldnames) + len(record[None])} cells; the header has "
                    f"{len(reader.fieldnames)}",
                )
            )
        elif any((v or "").strip() for v in record.values()):
            try:
                rows.append(Row(line, item=_csv_item(record)))
            except ValueError as exc:
                rows.append(Row(line, error=str(exc)))
        line = reader.line_num + 1
    if not rows:
        raise UnreadableFile("The file has no tasks.")
    return rows


def _csv_item(record: dict[str, str]) -> dict:
    item: dict[str, Any] = {}
    params: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for raw_name, value in record.items():
        name = (raw_name or "").strip()
        if not name or value is None or not value.strip():
            continue
        try:
            if name == "priority":
                try:
                    item["priority"] = int(value)
                except ValueError:
                    raise ValueError(f"priority: {value!r} is not an integer") from None
            elif name == "tags":
                item["tags"] = [tag.strip() for tag in value.split(";") if tag.strip()]
            elif name == "metadata":
                metadata.update(_object(value, name))
            elif name.startswith("metadata."):
                metadata[name.removeprefix("metadata.")] = _cell(value)
            elif name in TASK_COLUMNS:
                item[name] = value.strip()
            else:
                params[name.removeprefix("params.")] = _cell(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if params:
        item["params"] = params
    if metadata:
        item["metadata"] = metadata
    return item


def _object(value: str, name: str) -> dict:
    parsed = json.loads(value)
    if not isinstance(parsed, dict):
        raise ValueError(f"{name}: must be a JSON object")
    return parsed


_ITEM = re.compile(r"\btasks\[(\d+)\]")


def humanize(message: str, *, lines: dict[int, int] | None = None) -> str:
    """A validation message for a person reading an upload report: Python list and string
    reprs become plain text (``['car', 'bus']`` → ``car, bus``; ``'x'`` → ``“x”``) and another
    item of the same request (``tasks[3]``) becomes its line in the file."""
    if lines:
        message = _ITEM.sub(lambda m: f"line {lines.get(int(m.group(1)), int(m.group(1)))}", message)
    return plain(message)
