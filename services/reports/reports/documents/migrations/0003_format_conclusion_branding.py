"""Issue 15: a report may be a DOCX and carry the physiologist's conclusion; the tenant's settings carry its lab's
name, address, contact, accent colour and logo (PNG). Database defaults keep rows written without the new columns
(a rolling deploy, raw SQL) valid."""
from django.db import migrations, models


def text(length):
    return models.CharField(blank=True, default="", db_default="", max_length=length)


class Migration(migrations.Migration):
    dependencies = [("documents", "0002_job_columns_and_problem")]

    operations = [
        migrations.AddField("report", "format", models.CharField(
            choices=[("pdf", "PDF"), ("docx", "Word document (DOCX), for the lab to edit")], default="pdf",
            db_default="pdf", max_length=4)),
        migrations.AddField("report", "conclusion", models.TextField(blank=True, default="", db_default="")),
        migrations.AddField("reportsettings", "lab_name", text(200)),
        migrations.AddField("reportsettings", "lab_address", text(300)),
        migrations.AddField("reportsettings", "lab_contact", text(200)),
        migrations.AddField("reportsettings", "accent_color", text(7)),
        migrations.AddField("reportsettings", "logo_png", models.BinaryField(blank=True, null=True)),
    ]
