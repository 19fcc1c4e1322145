"""One foreign key from a task to its project and the project's client, in place of two.

``annotation_task`` had a key on ``client_id`` and one on ``project_id``: two checks per inserted
row (a bulk import inserts 10,000, and each check is a query run at COMMIT), and
nothing said that a task's client is its project's. ``(project_id, client_id)`` referencing the
project's ``(id, client_id)`` says both, with one check. Added ``NOT VALID`` and then validated,
so existing rows are checked without blocking writes for the length of the scan.
"""

import django.db.models.deletion
from django.db import migrations, models

ADD_KEY = """
ALTER TABLE annotation_task ADD CONSTRAINT task_project_client_fk
    FOREIGN KEY (project_id, client_id) REFERENCES annotation_project (id, client_id)
    DEFERRABLE INITIALLY DEFERRED NOT VALID;
ALTER TABLE annotation_task VALIDATE CONSTRAINT task_project_client_fk;
"""
DROP_KEY = "ALTER TABLE annotation_task DROP CONSTRAINT task_project_client_fk;"


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0019_lifecycle_functions_claim_lock_order"),
        ("clients", "0005_outbox_and_events_to_core"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="project",
            constraint=models.UniqueConstraint(fields=("id", "client"), name="project_id_client_uniq"),
        ),
        migrations.RunSQL(ADD_KEY, DROP_KEY),
        migrations.AlterField(
            model_name="task",
            name="client",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tasks",
                to="clients.client",
            ),
        ),
        migrations.AlterField(
            model_name="task",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tasks",
                to="annotation.project",
            ),
        ),
    ]
