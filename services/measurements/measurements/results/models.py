"""Stored analysis results: one row per version of a test's result, and who changed what and when."""
import uuid

from django.db import models

from servicekit.tenancy import TenantOwned


class AnalysisResult(TenantOwned):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    test = models.ForeignKey("exercise_tests.ExerciseTest", on_delete=models.CASCADE, related_name="results")
    version = models.PositiveIntegerField()
    result = models.JSONField()                                 # the analysis service's CPET result, as answered
    lactate = models.JSONField(null=True, blank=True)           # the analysis service's lactate result, if steps
    overrides = models.JSONField(default=dict, blank=True)      # {"vt1": {...}, "vt2": {...}, "exclude": [[t0, t1]]}
    engine_version = models.CharField(max_length=40, blank=True, default="")
    cache_key = models.CharField(max_length=64)                 # sha256 of data, overrides, lactate steps, engine
    computed_at = models.DateTimeField(auto_now_add=True)
    computed_by = models.UUIDField(null=True, blank=True)       # None: automatic (import)

    class Meta:
        db_table = "analysis_result"
        constraints = [models.UniqueConstraint(fields=["test", "version"], name="analysis_result_version_uniq")]
        ordering = ("-version",)


class AnalysisAudit(TenantOwned):
    """Who changed what and when: one row per new result version. When the test is deleted the row stays,
    anonymised (no test, no before/after values): staff accountability without the athlete's data."""

    class Action(models.TextChoices):
        IMPORT = "import"
        OVERRIDE = "override"
        LACTATE = "lactate"
        RECOMPUTE = "recompute"
        HEART_RATE = "heart_rate"  # a heart-rate track put onto the test
        PROTOCOL = "protocol"      # the declared protocol (or another input of the test) changed

    id = models.BigAutoField(primary_key=True)
    test = models.ForeignKey("exercise_tests.ExerciseTest", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="audit")
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=10, choices=Action.choices)
    user_id = models.UUIDField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {"overrides": {"before": ..., "after": ...}, ...}
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "analysis_audit"
        ordering = ("version", "id")


class AnalysisSettings(TenantOwned):
    """A tenant's analysis defaults, applied to new analyses and to re-analyses on request."""

    class ZoneModel(models.TextChoices):
        THREE_ZONE = "three_zone"
        FIVE_ZONE = "five_zone"

    id = models.BigAutoField(primary_key=True)
    # the analysis service's averaging strategy, e.g. {"method": "time", "seconds": 30}; {} = its default
    averaging = models.JSONField(default=dict, blank=True)
    # outlier removal: {} = none (the default), {"method": "lamarra", "sd": 3} or {"method": "band", "level": 0.95}
    outliers = models.JSONField(default=dict, blank=True)
    zone_model = models.CharField(max_length=10, choices=ZoneModel.choices, default=ZoneModel.FIVE_ZONE)
    meaningful_change_pct = models.FloatField(null=True, blank=True)  # None: PROGRESS_MEANINGFUL_CHANGE_PCT
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.UUIDField(null=True, blank=True)

    class Meta:
        db_table = "analysis_settings"
        constraints = [models.UniqueConstraint(fields=["tenant_id"], name="analysis_settings_tenant_uniq")]
