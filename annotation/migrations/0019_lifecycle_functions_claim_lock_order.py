from django.db import migrations

from annotation.lifecycle.sql import FUNCTIONS


class Migration(migrations.Migration):
    dependencies = [("annotation", "0018_project_deadline")]

    operations = [
        # functions.sql: quorum_claim bounds its wait for a task row with lock_timeout, 1 ms (SKIP LOCKED
        # still waits on a row's update chain, and the claim holds its standing then: a claim /
        # completing submit / completing submit deadlock), and its budget step runs in a
        # subtransaction that a refusal rolls back (a project passed over keeps no budget or credit
        # row locked at the next standing gate). annotation/lifecycle/README.md, "Lock order".
        FUNCTIONS.installs("5346f3abe01dabaf97de479f56e1ddbc3bb9afbccf074c77ec9921b1a4f05e5d"),
    ]
