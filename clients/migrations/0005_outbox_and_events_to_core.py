# The outbox (webhook endpoints, deliveries, attempts) and the event log moved into the kernel
# (``core/models.py``, issue 17). State only: the tables stay as they are, under their names, and
# ``core/migrations/0001_initial.py`` takes the models over.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0004_invitation'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name='event', name='client'),
                migrations.RemoveField(model_name='webhookdelivery', name='client'),
                migrations.RemoveField(model_name='webhookdelivery', name='endpoint'),
                migrations.RemoveField(model_name='webhookendpoint', name='client'),
                migrations.DeleteModel(name='DeliveryAttempt'),
                migrations.DeleteModel(name='Event'),
                migrations.DeleteModel(name='WebhookDelivery'),
                migrations.DeleteModel(name='WebhookEndpoint'),
            ],
        ),
    ]
