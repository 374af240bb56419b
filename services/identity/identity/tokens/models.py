import uuid

from django.db import models
from django.db.models import Q


class SigningKey(models.Model):
    """An RS256 key pair. `active` signs new tokens (exactly one); `passive` no longer signs but stays in the JWKS
    until `retire_after` (every token it signed has expired); `retired` is history."""

    class State(models.TextChoices):
        ACTIVE = "active"
        PASSIVE = "passive"
        RETIRED = "retired"

    kid = models.CharField(primary_key=True, max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    public_jwk = models.JSONField()
    private_key_encrypted = models.TextField()  # PKCS#8 PEM, Fernet-encrypted with a key from SIGNING_KEY_SECRET
    created_at = models.DateTimeField(auto_now_add=True)
    passive_since = models.DateTimeField(null=True, blank=True)
    retire_after = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "signing_key"
        constraints = [models.UniqueConstraint(fields=["state"], condition=Q(state="active"),
                                               name="signing_key_one_active")]

    def __str__(self):
        return f"{self.kid} ({self.state})"


class RefreshToken(models.Model):
    """One opaque refresh token, stored as its SHA-256. Tokens rotated from one login form a family; a token used
    twice revokes the family. Not tenant-owned: a refresh token is looked up by its hash before any tenant is known,
    and a user's deactivation revokes their tokens in every tenant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    family_id = models.UUIDField(db_index=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    tenant_id = models.UUIDField(null=True, blank=True, db_index=True)  # None: an operator session without tenant
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "refresh_token"
        indexes = [models.Index(fields=["user", "revoked_at"])]
