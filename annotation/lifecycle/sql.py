"""The lifecycle's PL/pgSQL functions (``functions.sql``), installed by annotation migrations with
``FUNCTIONS.installs("<sha256>")`` (``core.sqlfunctions``). They call billing's
``quorum_ledger_post`` and ``quorum_uuid7`` (``billing/ledger.sql``)."""

from pathlib import Path

from core.sqlfunctions import SqlFile

FUNCTIONS = SqlFile(
    path=Path(__file__).with_name("functions.sql"),
    functions=(
        "quorum_submit(uuid, uuid, integer, jsonb, timestamptz, text)",
        "quorum_majority(uuid, smallint, jsonb)",
        "quorum_majority_of(text[], jsonb)",
        "quorum_claim(uuid, uuid, boolean, timestamptz, integer, text)",
        "quorum_event(text, text, uuid, text, jsonb, jsonb, uuid, timestamptz)",
        "quorum_task_payload(uuid)",
        "quorum_iso(timestamptz)",
    ),
)
