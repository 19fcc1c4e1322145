"""A default rate card (no client, USD) for every task type, so a project created without a price
is priced. A type that already has a default USD card (seed_demo, staff) keeps it. Staff change
them in the admin (a change is a new version); reversing this migration removes only these rows."""

from django.db import migrations
from django.utils import timezone

# (task type, price per task, pay per answer), in US cents. The pay leaves the platform about a
# third of the price at the default of three answers for the judgement types, and at one answer
# for the drawing types (whose projects usually ask for one).
DEFAULT_CARDS = [
    ("categorization", 15, 3),
    ("comparison", 20, 4),
    ("namedentityrecognition", 30, 6),
    ("textcollection", 60, 20),
    ("imageannotation", 40, 12),
    ("videoannotation", 150, 45),
    ("lidarannotation", 200, 60),
]
SEEDED_BY = "migration:billing.0006"


def seed(apps, schema_editor):
    RateCard = apps.get_model("billing", "RateCard")
    now = timezone.now()
    for task_type, price, pay in DEFAULT_CARDS:
        if RateCard.objects.filter(task_type=task_type, currency="USD", client__isnull=True).exists():
            continue
        RateCard.objects.create(
            task_type=task_type,
            currency="USD",
            price_per_task=price,
            pay_per_answer=pay,
            effective_from=now,
            created_by=SEEDED_BY,
            created_at=now,
        )


def unseed(apps, schema_editor):
    apps.get_model("billing", "RateCard").objects.filter(created_by=SEEDED_BY).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_ledger_functions")]

    operations = [migrations.RunPython(seed, unseed)]
