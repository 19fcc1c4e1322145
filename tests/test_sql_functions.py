"""Every SQL function file is installed, as it is now, by the newest migration that installs it
(core.sqlfunctions): a change to the SQL cannot land without the migration that deploys it."""

import re
from pathlib import Path

import pytest

from annotation.lifecycle.sql import FUNCTIONS
from billing.sql import LEDGER

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("app", "name", "sql_file"), [("annotation", "FUNCTIONS", FUNCTIONS), ("billing", "LEDGER", LEDGER)]
)
def test_the_newest_installing_migration_records_the_file_as_it_is(app, name, sql_file):
    recorded = []
    for path in sorted((ROOT / app / "migrations").glob("0*.py")):
        recorded += re.findall(rf'{name}\.installs\("([0-9a-f]{{64}})"\)', path.read_text())
    assert recorded, f"no {app} migration installs {sql_file.path.name}"
    assert recorded[-1] == sql_file.sha256(), (
        f"{sql_file.path.relative_to(ROOT)} changed: add a migration to {app}/migrations with the operation "
        f'{name}.installs("{sql_file.sha256()}")'
    )


@pytest.mark.django_db
def test_the_installed_functions_exist_in_the_database():
    from django.db import connection

    with connection.cursor() as cursor:
        for signature in (*FUNCTIONS.functions, *LEDGER.functions):
            cursor.execute("SELECT to_regprocedure(%s)", [signature])
            assert cursor.fetchone()[0] is not None, signature
