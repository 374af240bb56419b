"""Issue 18: the tests, athletes and tenants whose traces notifications erased (ids only), so that a late event
cannot write about them again."""
import django.utils.timezone
from django.db import migrations, models

from servicekit.tenancy import EnableTenantRLS


class Migration(migrations.Migration):
    initial = True

    dependencies = []

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
