"""Single sign-on with OpenID Connect, one provider per tenant.

Platform tables (like `tenant`), not tenant-owned: the e-mail-domain routing (login discover), the start by tenant
slug and the callback by `state` all happen before any tenant is known. Tenant reads and writes are narrowed to the
caller's tenant in queries.py / actions.py; no API answers another tenant's rows."""
import uuid

from django.db import models

from servicekit.principal import TENANT_ROLES

SSO_ROLES = [(role, role) for role in TENANT_ROLES if role != "owner"]  # nobody becomes an owner by SSO


class SSOProvider(models.Model):
    """A tenant's OpenID provider. The client secret is Fernet-encrypted at rest with a key derived from
    SIGNING_KEY_SECRET, as the signing keys are (sso.crypto)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant_id = models.UUIDField(unique=True)
    issuer = models.URLField(max_length=500)
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField()
    scopes = models.CharField(max_length=300, default="openid email profile")
    default_role = models.CharField(max_length=20, choices=SSO_ROLES, default="viewer")
    password_login_allowed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "sso_provider"


class SSODomain(models.Model):
    """An e-mail domain routed to one tenant's provider; unique platform-wide (a domain cannot go to two tenants)."""

    domain = models.CharField(primary_key=True, max_length=253)  # lower-cased
    provider = models.ForeignKey(SSOProvider, on_delete=models.CASCADE, related_name="domains")
    tenant_id = models.UUIDField(db_index=True)

    class Meta:
        db_table = "sso_domain"


class SSOAttempt(models.Model):
    """One sign-in started at /sso/{slug}/start: `state` (stored as its SHA-256), `nonce` and the PKCE verifier,
    single-use and short-lived (SSO_STATE_TTL_S)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state_hash = models.CharField(max_length=64, unique=True)
    tenant_id = models.UUIDField()
    nonce = models.CharField(max_length=128)
    code_verifier = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "sso_attempt"


class SSOLink(models.Model):
    """The provider's subject (`iss` + `sub`) linked to one of our users within a tenant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant_id = models.UUIDField()
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "sso_link"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "issuer", "subject"], name="sso_link_one_subject")]
