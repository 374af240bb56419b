import uuid

from django.db import models

from servicekit import limits
from servicekit.django.idempotency import CreatedOnce
from servicekit.tenancy import TenantOwned


class Athlete(CreatedOnce, TenantOwned):
    # CreatedOnce: the creating POST's Idempotency-Key, so that a retried create returns this athlete.
    class Sex(models.TextChoices):
        FEMALE = "female"
        MALE = "male"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    first_name = models.CharField(max_length=limits.NAME)
    last_name = models.CharField(max_length=limits.NAME)
    sex = models.CharField(max_length=6, choices=Sex.choices)
    birth_date = models.DateField(null=True, blank=True)
    height_cm = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    body_mass_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    sport = models.CharField(max_length=limits.NAME, blank=True, default="")
    notes = models.TextField(blank=True, default="", max_length=limits.NOTES)
    # The identity user who *is* this athlete (role `athlete` sees only their own record); optional.
    user_id = models.UUIDField(null=True, blank=True, db_index=True)
    created_by = models.UUIDField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "athlete"
        # (tenant, created_at, id): the list's order (newest first, cursor pages) read from the index, not sorted
        indexes = [models.Index(fields=["tenant_id", "last_name", "first_name"]),
                   models.Index(fields=["tenant_id", "-created_at", "-id"], name="athlete_tenant_newest")]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "created_by", "idempotency_key"],
                                               name="athlete_creator_idempotency_uniq")]

    def __str__(self):
        return f"{self.first_name} {self.last_name}"
