import uuid

from django.db import models

from servicekit.tenancy import TenantOwned

LANGUAGES = (("en", "English"), ("ru", "Russian"))
TEMPLATES = (("full", "Full lab report"), ("athlete", "Athlete summary"))


class Report(TenantOwned):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RENDERING = "rendering"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    test_id = models.UUIDField(db_index=True)
    # Filled by the renderer from measurements (the request names only the test).
    athlete_id = models.UUIDField(null=True, blank=True, db_index=True)
    athlete_user_id = models.UUIDField(null=True, blank=True, db_index=True)  # who may read it with role athlete
    language = models.CharField(max_length=2, choices=LANGUAGES)
    template = models.CharField(max_length=10, choices=TEMPLATES)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=100, blank=True, default="")
    error = models.TextField(blank=True, default="")
    file_path = models.CharField(max_length=500, blank=True, default="")  # a ReportStorage key
    sha256 = models.CharField(max_length=64, blank=True, default="")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    requested_by = models.CharField(max_length=100, blank=True, default="")  # user id ("" for automatic reports)
    auto = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "report"
        indexes = [models.Index(fields=["tenant_id", "created_at"]), models.Index(fields=["tenant_id", "test_id"])]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "requested_by", "idempotency_key"],
                                               name="report_idempotency_key_unique")]

    def __str__(self):
        return f"report {self.id} ({self.status})"


class ReportSettings(TenantOwned):
    """Per tenant: request a report automatically for every analysed (or re-analysed) test."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    auto_report = models.BooleanField(default=False)
    language = models.CharField(max_length=2, choices=LANGUAGES, default="en")
    template = models.CharField(max_length=10, choices=TEMPLATES, default="full")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "report_settings"
        constraints = [models.UniqueConstraint(fields=["tenant_id"], name="report_settings_one_per_tenant")]
