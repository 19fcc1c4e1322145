"""Vacuum the queue tables by row count, not by a share of the table.

With the default ``autovacuum_vacuum_scale_factor`` of 0.2, a table of 1,000,000 tasks is vacuumed
only after ~200,000 dead rows, and dead index entries pile up at the head of the claim queue
(measured with bench/claim.py: 27 buffers per claim right after a vacuum, up to 193 after a burst
of claims). A fixed threshold keeps the head of ``task_open_queue_idx`` clean at any table size.
"""

from django.db import migrations

TABLES = ("annotation_task", "annotation_assignment")

FORWARD = [
    f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000, "
    f"autovacuum_analyze_scale_factor = 0.02)"
    for table in TABLES
]
BACKWARD = [
    f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_analyze_scale_factor)"
    for table in TABLES
]


class Migration(migrations.Migration):
    dependencies = [("annotation", "0002_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
