from django.db import migrations

from annotation.lifecycle.sql import FUNCTIONS


class Migration(migrations.Migration):
    dependencies = [("annotation", "0013_scale_import")]

    operations = [
        # functions.sql: gold of taxonomies categorization is scored by its own scorer (Python), not as
        # the legacy single-choice form.
        FUNCTIONS.installs("7d6a6dedd5ce492188afa90893c59cc386b81b3157bedfa189c046882c97fbc9"),
    ]
