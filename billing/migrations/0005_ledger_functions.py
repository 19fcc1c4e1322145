from django.db import migrations

from billing.sql import LEDGER


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_billing_engine")]

    operations = [
        # billing/ledger.sql: a posting as one statement (quorum_ledger_post), database-made UUIDv7s.
        LEDGER.installs("55801a3785e62b5f7b9fb34f0ba0fe501e9f7deba3ddc9ac3dbc929ec7e1e9d9"),
    ]
