"""Invitation keeps its Idempotency-Key through the kit's create_once (servicekit.django.idempotency.CreatedOnce):
the same columns, and the fingerprint of the stored keys recomputed the kit's way."""
import hashlib
import json

from django.db import migrations, models

from servicekit.tenancy import every_tenants_rows


def _refingerprint(apps, schema_editor):
    with every_tenants_rows(schema_editor, "invitation") as cursor:
        cursor.execute("SELECT id, email, role FROM invitation WHERE idempotency_key IS NOT NULL")
        for pk, email, role in cursor.fetchall():
            canonical = json.dumps({"email": email, "role": role}, sort_keys=True, separators=(",", ":"))
            cursor.execute("UPDATE invitation SET request_fingerprint = %s WHERE id = %s",
                           [hashlib.sha256(canonical.encode()).hexdigest(), pk])


class Migration(migrations.Migration):

    dependencies = [
        ('invitations', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='invitation',
            name='idempotency_key',
            field=models.CharField(blank=True, editable=False, max_length=200, null=True),
        ),
        migrations.AlterField(
            model_name='invitation',
            name='request_fingerprint',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=64),
        ),
        migrations.RunPython(_refingerprint, migrations.RunPython.noop),
    ]
