"""EmailDelivery becomes a kit job row (servicekit.jobs.JobRow): pending → queued (running at stage "sending" once
attempted), sent → done, failed stays; `last_error` becomes the problem object."""
import json

from django.db import migrations, models

from servicekit.tenancy import every_tenants_rows


def forwards(apps, schema_editor):
    with every_tenants_rows(schema_editor, "email_delivery") as cursor:
        cursor.execute("SELECT id, status, attempts, last_error, sent_at FROM email_delivery")
        for pk, status, attempts, last_error, sent_at in cursor.fetchall():
            stage, problem = "", None
            if last_error:
                problem = {"type": "urn:vo2:problem:smtp-error", "title": "Bad Gateway", "status": 502,
                           "detail": last_error, "stage": "sending"}
            if status == "pending":
                status, stage = ("running", "sending") if attempts else ("queued", "")
            elif status == "sent":
                status = "done"
            cursor.execute("UPDATE email_delivery SET status = %s, stage = %s, problem = %s, finished_at = %s, "
                           "progress = %s WHERE id = %s",
                           [status, stage, json.dumps(problem) if problem else None,
                            sent_at if status == "done" else None, 100 if status == "done" else 0, pk])


def backwards(apps, schema_editor):
    old = {"queued": "pending", "running": "pending", "done": "sent", "failed": "failed"}
    with every_tenants_rows(schema_editor, "email_delivery") as cursor:
        cursor.execute("SELECT id, status, problem FROM email_delivery")
        for pk, status, problem in cursor.fetchall():
            problem = json.loads(problem) if isinstance(problem, str) else (problem or {})
            cursor.execute("UPDATE email_delivery SET status = %s, last_error = %s WHERE id = %s",
                           [old.get(status, status), problem.get("detail", ""), pk])


class Migration(migrations.Migration):

    dependencies = [
        ('mail', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='emaildelivery',
            name='finished_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='emaildelivery',
            name='generation',
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AddField(
            model_name='emaildelivery',
            name='problem',
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='emaildelivery',
            name='progress',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='emaildelivery',
            name='stage',
            field=models.CharField(blank=True, default='', max_length=20),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(
            model_name='emaildelivery',
            name='last_error',
        ),
        migrations.AlterField(
            model_name='emaildelivery',
            name='status',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], db_index=True, default='queued', max_length=10),
        ),
    ]
