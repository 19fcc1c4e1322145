"""SQL function files that migrations install (PL/pgSQL kept beside the code that calls it).

An app keeps its functions in one ``.sql`` file of ``CREATE OR REPLACE`` statements, so running the
file again is its upgrade. A migration installs it with ``SqlFile.installs("<sha256>")``, which
records the file's hash when the migration was written; ``tests/test_sql_functions.py`` checks that
the newest migration of each file records the file as it is now, so a change to the SQL cannot land
without a migration that puts it in every database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db import migrations


@dataclass(frozen=True)
class SqlFile:
    path: Path
    functions: Sequence[str]  # signatures, dropped when the installing migration is reversed

    def text(self) -> str:
        return self.path.read_text()

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def installs(self, sha256: str) -> migrations.RunPython:
        """The migration operation that installs this file; ``sha256`` is the file's hash when the
        migration was written."""

        def install(apps, schema_editor) -> None:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(self.text())  # no parameters: one simple-protocol call, many statements

        def drop(apps, schema_editor) -> None:
            with schema_editor.connection.cursor() as cursor:
                for signature in self.functions:
                    cursor.execute(f"DROP FUNCTION IF EXISTS {signature}")

        operation = migrations.RunPython(install, drop)
        operation.sql_file, operation.sql_sha256 = str(self.path), sha256
        return operation
