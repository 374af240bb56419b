import uuid

from django.db import models

from servicekit.erasure import ErasureRequest

LANGUAGES = ("en", "ru")
DEFAULT_SETTINGS = {"language": "en"}


def default_settings():
    return dict(DEFAULT_SETTINGS)


class Tenant(models.Model):
    """An organisation (lab, club, research centre, coach). The tenant registry itself belongs to the platform, so
    it is not a tenant-owned table; reads are narrowed to the caller's own tenant in queries.py."""

    class Plan(models.TextChoices):
        LOCAL = "local"
        TRIAL = "trial"
        STARTER = "starter"
        LAB = "lab"
        PROFESSIONAL = "professional"
        ENTERPRISE = "enterprise"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.STARTER)
    on_trial = models.BooleanField(default=False)
    paid_until = models.DateField(null=True, blank=True)  # paid through this day; read-only from the next one
    trial_ends = models.DateField(null=True, blank=True)  # with on_trial: the last day of the trial
    quotas = models.JSONField(default=dict, blank=True)  # the operator's per-tenant overrides of the plan's quotas
    settings = models.JSONField(default=default_settings)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tenant"

    def __str__(self):
        return self.slug

    @property
    def language(self) -> str:
        return (self.settings or {}).get("language", DEFAULT_SETTINGS["language"])


class TenantDeletion(ErasureRequest):
    """An operator deleted a tenant: identity erased its own part at once (memberships, invitations, keys, SSO,
    audit, users left without a tenant), and measurements, reports and notifications confirm theirs
    (`<service>.deletion.confirmed`, scope tenant). Ids and times only: it outlives the tenant. A platform table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    removed_here = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "tenant_deletion"
        constraints = [models.UniqueConstraint(fields=["subject_id"], name="tenant_deletion_once")]
