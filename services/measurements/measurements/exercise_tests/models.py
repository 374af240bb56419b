"""An athlete's exercise test, its breath-by-breath samples and its lactate steps."""
import uuid

from django.db import models

from servicekit import limits
from servicekit.django.idempotency import CreatedOnce
from servicekit.tenancy import TenantOwned

# The normalized sample columns (the analysis service's wire order; units in the names).
SAMPLE_COLUMNS = ("time_s", "vo2_ml_min", "vco2_ml_min", "ve_l_min", "hr_bpm", "rf_bpm", "vt_l", "peto2_mmhg",
                  "petco2_mmhg", "power_w", "speed_kmh", "grade_pct")


class ExerciseTest(CreatedOnce, TenantOwned):
    # CreatedOnce: the creating POST's Idempotency-Key, so that a retried create returns this test.
    class Modality(models.TextChoices):
        CYCLING = "cycling"
        RUNNING = "running"
        ROWING = "rowing"
        OTHER = "other"

    class Protocol(models.TextChoices):
        RAMP = "ramp"
        STEPS = "steps"

    class Status(models.TextChoices):
        DRAFT = "draft"          # created by hand, no data yet
        IMPORTING = "importing"  # an import is filling it
        IMPORTED = "imported"    # samples stored, no result yet
        ANALYZED = "analyzed"    # a result is stored
        INSUFFICIENT = "insufficient"  # a result is stored, but the test cannot yield a VO2max (reasons stored)
        FAILED = "failed"        # the analysis could not be stored

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    athlete = models.ForeignKey("athletes.Athlete", on_delete=models.CASCADE, related_name="tests")
    date = models.DateField(null=True, blank=True)  # empty when the file had none (the import warns)
    modality = models.CharField(max_length=10, choices=Modality.choices, default=Modality.OTHER)
    protocol = models.CharField(max_length=5, choices=Protocol.choices, blank=True, default="")
    protocol_start = models.FloatField(null=True, blank=True)          # W or km/h
    protocol_increment = models.FloatField(null=True, blank=True)      # W or km/h per stage (ramp: per minute)
    protocol_stage_length_s = models.FloatField(null=True, blank=True)
    protocol_baseline_s = models.FloatField(null=True, blank=True)     # seconds of baseline before the protocol
    protocol_baseline_load = models.FloatField(null=True, blank=True)  # W or km/h during the baseline
    # the lab entered the protocol (it drives the analysis); False when the analysis only filled in what it found
    protocol_declared = models.BooleanField(default=False)
    # the body mass weighed on the day (beats the file's and the record's); the one the analysis used, per test
    body_mass_kg = models.FloatField(null=True, blank=True)
    body_mass_used_kg = models.FloatField(null=True, blank=True, editable=False)
    insufficient_reasons = models.JSONField(default=list, blank=True)  # why the test cannot yield a VO2max
    device = models.CharField(max_length=200, blank=True, default="")
    temperature_c = models.FloatField(null=True, blank=True)
    humidity_pct = models.FloatField(null=True, blank=True)
    pressure_hpa = models.FloatField(null=True, blank=True)
    notes = models.TextField(blank=True, default="", max_length=limits.NOTES)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    # What the import found in the file (format id, the file's metadata) and a digest of the stored samples.
    source_format = models.CharField(max_length=40, blank=True, default="")
    source_metadata = models.JSONField(default=dict, blank=True)
    sample_count = models.PositiveIntegerField(default=0)
    data_digest = models.CharField(max_length=64, blank=True, default="")
    created_by = models.UUIDField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "exercise_test"
        indexes = [models.Index(fields=["tenant_id", "athlete", "date"])]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "created_by", "idempotency_key"],
                                               name="exercise_test_creator_idempotency_uniq")]

    def __str__(self):
        return f"{self.modality} test {self.date}"


class Sample(TenantOwned):
    """One breath (or one averaged row) of a test, in the normalized columns. Written by COPY, never one by one."""

    # (test, idx) is the key: no sequence, one index to maintain while COPY-ing thousands of rows a second; the
    # tenant column carries no index of its own here (every read is by test).
    pk = models.CompositePrimaryKey("test", "idx")
    tenant_id = models.UUIDField(editable=False)
    # No database FK: PostgreSQL would check each of a test's thousands of rows against `exercise_test` at commit
    # (measured as the largest cost of an import). Samples are written only by `store_samples`, in the transaction
    # that holds their test, and deleted with it (`delete_test`, and the ORM cascade).
    test = models.ForeignKey(ExerciseTest, on_delete=models.CASCADE, related_name="samples", db_index=False,
                             db_constraint=False)
    idx = models.IntegerField()
    time_s = models.FloatField()
    vo2_ml_min = models.FloatField(null=True)
    vco2_ml_min = models.FloatField(null=True)
    ve_l_min = models.FloatField(null=True)
    hr_bpm = models.FloatField(null=True)
    rf_bpm = models.FloatField(null=True)
    vt_l = models.FloatField(null=True)
    peto2_mmhg = models.FloatField(null=True)
    petco2_mmhg = models.FloatField(null=True)
    power_w = models.FloatField(null=True)
    speed_kmh = models.FloatField(null=True)
    grade_pct = models.FloatField(null=True)

    class Meta:
        db_table = "sample"


class LactateStep(TenantOwned):
    id = models.BigAutoField(primary_key=True)
    test = models.ForeignKey(ExerciseTest, on_delete=models.CASCADE, related_name="lactate_steps")
    stage = models.PositiveIntegerField()
    intensity = models.FloatField()                 # W or km/h; 0 = resting baseline
    lactate = models.FloatField()                   # mmol/L
    heart_rate = models.FloatField(null=True, blank=True)
    rpe = models.FloatField(null=True, blank=True)  # Borg 6–20 (or CR10)
    length_s = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "lactate_step"
        ordering = ("stage",)
        constraints = [models.UniqueConstraint(fields=["test", "stage"], name="lactate_step_test_stage_uniq")]
