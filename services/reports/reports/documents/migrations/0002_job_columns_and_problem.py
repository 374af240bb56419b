"""Report becomes a kit job row (servicekit.jobs.JobRow) and a CreatedOnce row: `rendering` is now status `running`
with stage `rendering`, the failure (`error_code`, `error`) a problem object, and the Idempotency-Key fingerprint
the kit's (servicekit.django.idempotency.fingerprint), recomputed for the rows that have a key."""
import hashlib
import json
import uuid

from django.db import migrations, models

from servicekit.tenancy import every_tenants_rows

PROBLEM_STATUS = {"test-not-found": 404, "no-analysis": 422, "measurements-unavailable": 503,
                  "measurements-refused": 502}


def forwards(apps, schema_editor):
    with every_tenants_rows(schema_editor, "report") as cursor:
        cursor.execute("SELECT id, test_id, language, template, status, error_code, error, idempotency_key "
                       "FROM report")
        for pk, test_id, language, template, status, code, detail, key in cursor.fetchall():
            stage, problem = "", None
            if status == "rendering":
                status, stage = "running", "rendering"
            elif status == "failed":
                problem = {"type": "urn:vo2:problem:" + (code or "render-error"),
                           "title": "Report failed", "status": PROBLEM_STATUS.get(code, 500),
                           "detail": detail or "", "stage": "rendering"}
            fingerprint = None
            if key:
                fields = {"test": str(uuid.UUID(str(test_id))), "language": language, "template": template}
                canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
                fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
            cursor.execute("UPDATE report SET status = %s, stage = %s, problem = %s, "
                           "request_fingerprint = COALESCE(%s, request_fingerprint) WHERE id = %s",
                           [status, stage, json.dumps(problem) if problem else None, fingerprint, pk])


def backwards(apps, schema_editor):
    with every_tenants_rows(schema_editor, "report") as cursor:
        cursor.execute("SELECT id, status, problem FROM report")
        for pk, status, problem in cursor.fetchall():
            problem = json.loads(problem) if isinstance(problem, str) else (problem or {})
            code = (problem.get("type") or "").removeprefix("urn:vo2:problem:")
            cursor.execute("UPDATE report SET status = %s, error_code = %s, error = %s WHERE id = %s",
                           ["rendering" if status == "running" else status, code, problem.get("detail", ""), pk])


class Migration(migrations.Migration):

    dependencies = [
        ('documents', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='report',
            name='generation',
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name='report',
            name='problem',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='report',
            name='stage',
            field=models.CharField(blank=True, default='', max_length=20),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(
            model_name='report',
            name='error',
        ),
        migrations.RemoveField(
            model_name='report',
            name='error_code',
        ),
        migrations.AlterField(
            model_name='report',
            name='idempotency_key',
            field=models.CharField(blank=True, editable=False, max_length=200, null=True),
        ),
        migrations.AlterField(
            model_name='report',
            name='request_fingerprint',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name='report',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], db_index=True, default='queued', max_length=10),
        ),
    ]
