import uuid

from django.db import models

from servicekit import erasure, jobs, limits, storage
from servicekit.django.idempotency import CreatedOnce
from servicekit.problems import TYPE_PREFIX
from servicekit.tenancy import TenantOwned

LANGUAGES = (("en", "English"), ("ru", "Russian"))
TEMPLATES = (("full", "Full lab report"), ("athlete", "Athlete summary"))
FORMATS = (("pdf", "PDF"), ("docx", "Word document (DOCX), for the lab to edit"))
CONCLUSION_MAX = limits.CONCLUSION
LOGO_MAX_BYTES = 512 * 1024
CONTENT_TYPES = {"pdf": "application/pdf",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


class Report(jobs.JobRow, CreatedOnce, TenantOwned):
    """A requested PDF and its rendering job (the kit's job columns: status, stage "rendering", progress, attempts,
    generation, problem, finished_at)."""

    Status = jobs.Status

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    test_id = models.UUIDField(db_index=True)
    # Filled by the renderer from measurements (the request names only the test).
    athlete_id = models.UUIDField(null=True, blank=True, db_index=True)
    athlete_user_id = models.UUIDField(null=True, blank=True, db_index=True)  # who may read it with role athlete
    language = models.CharField(max_length=2, choices=LANGUAGES)
    template = models.CharField(max_length=10, choices=TEMPLATES)
    # db defaults: rows written by code that predates the column (a rolling deploy, raw SQL) stay valid
    format = models.CharField(max_length=4, choices=FORMATS, default="pdf", db_default="pdf")
    conclusion = models.TextField(blank=True, default="", db_default="")  # the physiologist's words, printed as their own section
    file_path = models.CharField(max_length=500, blank=True, default="")  # its report_key in report_files()
    sha256 = models.CharField(max_length=64, blank=True, default="")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    requested_by = models.CharField(max_length=100, blank=True, default="")  # user id ("" for automatic reports)
    auto = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "report"
        indexes = [models.Index(fields=["tenant_id", "created_at"]), models.Index(fields=["tenant_id", "test_id"])]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "requested_by", "idempotency_key"],
                                               name="report_idempotency_key_unique")]

    def __str__(self):
        return f"report {self.id} ({self.public_status})"

    @property
    def error_code(self) -> str:
        """The failure's slug (`render-error`, `no-analysis`, ...), from the problem object; "" unless failed."""
        return (self.problem or {}).get("type", "").removeprefix(TYPE_PREFIX)

    @property
    def error(self) -> str:
        return (self.problem or {}).get("detail", "")


def report_key(tenant_id, report_id, format: str = "pdf") -> str:
    """One report, one key: a re-run (a killed worker's redelivery) replaces the file instead of adding one."""
    return f"{tenant_id}/{report_id}.{format}"


def report_files() -> storage.Storage:
    """Where rendered PDFs live: settings.REPORTS_DIR, of the kind settings.REPORT_STORAGE ("local")."""
    return storage.store("REPORTS_DIR", backend_setting="REPORT_STORAGE")


class ReportSettings(TenantOwned):
    """Per tenant: request a report automatically for every analysed (or re-analysed) test."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    auto_report = models.BooleanField(default=False)
    language = models.CharField(max_length=2, choices=LANGUAGES, default="en")
    template = models.CharField(max_length=10, choices=TEMPLATES, default="full")
    # the lab's branding, on every page's header
    lab_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    lab_address = models.CharField(max_length=300, blank=True, default="", db_default="")
    lab_contact = models.CharField(max_length=200, blank=True, default="", db_default="")
    accent_color = models.CharField(max_length=7, blank=True, default="", db_default="")       # "#rrggbb"
    logo_png = models.BinaryField(null=True, blank=True)                        # PNG only, <= LOGO_MAX_BYTES
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "report_settings"
        constraints = [models.UniqueConstraint(fields=["tenant_id"], name="report_settings_one_per_tenant")]


class ErasedSubject(erasure.Tombstone, TenantOwned):
    """A test or athlete whose reports were erased (ids only): a late `measurements.test.analyzed` for it makes no
    automatic report (servicekit.erasure.Tombstone)."""

    class Meta:
        db_table = "erased_subject"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "scope", "subject_id"],
                                               name="erased_subject_unique")]
