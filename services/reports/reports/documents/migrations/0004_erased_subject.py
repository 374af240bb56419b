"""Issue 18: the tests and athletes whose reports were erased (ids only), so that a late event cannot make a report
for them again."""
import django.utils.timezone
from django.db import migrations, models

from servicekit.tenancy import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("documents", "0003_format_conclusion_branding")]

    operations = [
        migrations.CreateModel(
            name="ErasedSubject",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("tenant_id", models.UUIDField(db_index=True, editable=False)),
                ("scope", models.CharField(choices=[("athlete", "athlete"), ("test", "test"), ("tenant", "tenant")],
                                           max_length=10)),
                ("subject_id", models.UUIDField()),
                ("erased_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"db_table": "erased_subject"},
        ),
        migrations.AddConstraint(
            model_name="erasedsubject",
            constraint=models.UniqueConstraint(fields=("tenant_id", "scope", "subject_id"),
                                               name="erased_subject_unique"),
        ),
        EnableTenantRLS("erased_subject"),
    ]
