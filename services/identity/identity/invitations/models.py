import uuid

from django.db import models
from django.db.models import Q

from servicekit.django.idempotency import CreatedOnce
from servicekit.principal import TENANT_ROLES
from servicekit.tenancy import AddReadPolicy, TenantOwned

INVITATION_TOKEN_SETTING = "app.invitation_token_hash"  # set by invitations.queries.invitation_token_scope


class Invitation(CreatedOnce, TenantOwned):
    """An owner's or admin's invitation of an e-mail address to the tenant with a role.

    Only the SHA-256 of the single-use token is stored; the raw token travels once, in the
    `identity.invitation.created` event (internal bus) that notifications turns into the e-mail. Tenant-owned (ORM scope
    + RLS); the public accept endpoint reads the one row its token names through the SELECT-only policy
    `invitation_by_token` (invitations.queries.invitation_token_scope)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"
        EXPIRED = "expired"

    ROLE_CHOICES = [(role, role) for role in TENANT_ROLES]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254)  # lower-cased
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.UUIDField()  # the inviting user's id
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user_id = models.UUIDField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "invitation"
        indexes = [models.Index(fields=["tenant_id", "created_at"]), models.Index(fields=["tenant_id", "email"])]
        constraints = [models.UniqueConstraint(fields=["tenant_id", "invited_by", "idempotency_key"],
                                               condition=Q(idempotency_key__isnull=False),
                                               name="invitation_idempotency_key_unique")]

    def __str__(self):
        return f"invitation {self.id} ({self.email} as {self.role})"

    def status_at(self, now) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= now:
            return self.Status.EXPIRED
        return self.Status.PENDING


class AllowInvitationByTokenRead(AddReadPolicy):
    """The holder of an invitation token may read that one invitation row, in whatever tenant (the public accept
    route knows only the token). Writes stay under the tenant policy."""

    policy, setting, default_column = "invitation_by_token", INVITATION_TOKEN_SETTING, "token_hash"
