# An endpoint's request slots (SendingSlot): claims take a free one with SKIP LOCKED instead of locking the endpoint.

import django.db.models.deletion
from django.db import migrations, models

from servicekit.tenancy import EnableTenantRLS


class Migration(migrations.Migration):

    dependencies = [
        ('webhooks', '0003_manual_send_idempotency'),
    ]

    operations = [
        migrations.CreateModel(
            name='SendingSlot',
            fields=[
                ('tenant_id', models.UUIDField(db_index=True, editable=False)),
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('number', models.PositiveSmallIntegerField()),
                ('delivery_id', models.UUIDField(blank=True, null=True)),
                ('held_until', models.DateTimeField(blank=True, null=True)),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='webhooks.endpoint')),
            ],
            options={
                'db_table': 'webhook_sending_slot',
                'constraints': [models.UniqueConstraint(fields=('endpoint', 'number'), name='webhook_sending_slot_uniq')],
            },
        ),
        EnableTenantRLS("webhook_sending_slot"),
    ]
