"""The task lifecycle: the one package that takes task and assignment locks and moves their
counters — claim and leases (``leases``), the fenced submit (``submit``), settling a round and
completing, cancelling and simulating (``complete``), one task's consensus and the standings it
moves (``consensus``, ``standing``), review and rework (``review``), and the PL/pgSQL functions
that make claim and submit one round trip each (``functions.sql``, installed by ``sql``).

README.md in this folder: the state machine, the lock order, and which consensus runs in SQL.
``annotation.services`` re-exports the public functions under their service names;
``tests/test_architecture.py`` keeps every other module from writing these columns.
"""
