"""The import as a kit job row (servicekit.jobs.JobRow) and a CreatedOnce row (per-caller Idempotency-Key).

status keeps the kit's vocabulary (queued, running, done, failed) and the running stage moves to `stage`; `error`
becomes `problem` (the API still calls it `error`). Rows caught mid-run by the upgrade are moved over for every
tenant (FORCEd row-level security is lifted for that update: servicekit.tenancy.every_tenants_rows).
"""
from django.db import migrations, models

from servicekit.tenancy import every_tenants_rows

STAGES = ("parsing", "storing", "analyzing")


def stages_forward(apps, schema_editor):
    Import = apps.get_model("imports", "Import")
    with every_tenants_rows(schema_editor, Import._meta.db_table):
        for stage in STAGES:
            Import._default_manager.filter(status=stage).update(status="running", stage=stage)


def stages_backward(apps, schema_editor):
    Import = apps.get_model("imports", "Import")
    with every_tenants_rows(schema_editor, Import._meta.db_table):
        for stage in STAGES:
            Import._default_manager.filter(status="running", stage=stage).update(status=stage)


class Migration(migrations.Migration):

    dependencies = [
        ("imports", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="import", old_name="error", new_name="problem"),
        migrations.AddField(
            model_name="import",
            name="stage",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
        migrations.AlterField(
            model_name="import",
            name="status",
            field=models.CharField(choices=[("queued", "Queued"), ("running", "Running"), ("done", "Done"),
                                            ("failed", "Failed")], db_index=True, default="queued", max_length=10),
        ),
        migrations.RunPython(stages_forward, stages_backward),
        migrations.AlterField(
            model_name="import",
            name="idempotency_key",
            field=models.CharField(blank=True, editable=False, max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="import",
            name="request_fingerprint",
            field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=64),
        ),
        migrations.RemoveConstraint(model_name="import", name="import_tenant_idempotency_uniq"),
        migrations.AddConstraint(
            model_name="import",
            constraint=models.UniqueConstraint(fields=("tenant_id", "created_by", "idempotency_key"),
                                               name="import_creator_idempotency_uniq"),
        ),
    ]
