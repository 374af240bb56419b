"""Issue 15: a report may be a DOCX and carry the physiologist's conclusion; the tenant's settings carry its lab's
name, address, contact, accent colour and logo (PNG)."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("documents", "0002_job_columns_and_problem")]

    operations = [
        migrations.AddField("report", "format", models.CharField(
            choices=[("pdf", "PDF"), ("docx", "Word document (DOCX), for the lab to edit")], default="pdf",
            max_length=4)),
        migrations.AddField("report", "conclusion", models.TextField(blank=True, default="")),
        migrations.AddField("reportsettings", "lab_name", models.CharField(blank=True, default="", max_length=200)),
        migrations.AddField("reportsettings", "lab_address", models.CharField(blank=True, default="", max_length=300)),
        migrations.AddField("reportsettings", "lab_contact", models.CharField(blank=True, default="", max_length=200)),
        migrations.AddField("reportsettings", "accent_color", models.CharField(blank=True, default="", max_length=7)),
        migrations.AddField("reportsettings", "logo_png", models.BinaryField(blank=True, null=True)),
    ]
