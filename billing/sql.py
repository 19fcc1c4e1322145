"""The ledger's PL/pgSQL functions (``ledger.sql``), installed by billing migrations with
``LEDGER.installs("<sha256>")`` (``core.sqlfunctions``)."""

from pathlib import Path

from core.sqlfunctions import SqlFile

LEDGER = SqlFile(
    path=Path(__file__).with_name("ledger.sql"),
    functions=(
        "quorum_ledger_post(text, text, uuid, text, text, uuid, text, text, uuid, uuid, timestamptz, jsonb)",
        "quorum_account(text, text, uuid, uuid, timestamptz)",
        "quorum_uuid7()",
    ),
)
