import uuid

from django.db import models
from django.db.models.functions import Lower

from servicekit.principal import TENANT_ROLES
from servicekit.tenancy import AddReadPolicy, TenantOwned

USER_SETTING = "app.user_id"  # set by accounts.queries.user_scope


class User(models.Model):
    """A person who logs in. Users are platform-wide (one e-mail, several tenants); roles live in Membership."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)  # stored lower-cased; unique case-insensitively
    password = models.CharField(max_length=128)  # django.contrib.auth.hashers format; unusable for SSO-only users
    full_name = models.CharField(max_length=200, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_operator = models.BooleanField(default=False)  # platform operator: manages tenants
    # Per-account lockout: failures counted within a window; a lock lasts LOGIN_LOCKOUT_S.
    failed_logins = models.PositiveIntegerField(default=0)
    failed_logins_since = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    # A password someone else chose or printed (bootstrap's generated one) must be replaced at the first login: the
    # session then only reaches POST /api/v1/auth/password (tokens.actions, "restricted audience").
    must_change_password = models.BooleanField(default=False)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    # Profile (/api/v1/users/me): language of e-mails and reports ("" = the tenant's), IANA time zone.
    language = models.CharField(max_length=5, blank=True, default="")
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "identity_user"
        constraints = [models.UniqueConstraint(Lower("email"), name="identity_user_email_ci_unique")]

    def __str__(self):
        return self.email


class Membership(TenantOwned):
    """A user's role in one tenant. Tenant-owned: the ORM scopes `objects` to the request's tenant and PostgreSQL
    enforces it with RLS; login reads a user's memberships across tenants through `all_tenants` plus the SELECT-only
    `member_self` policy (accounts.queries.user_scope)."""

    ROLE_CHOICES = [(role, role) for role in TENANT_ROLES]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=20, choices=ROLE_CHOICES)
    is_active = models.BooleanField(default=True)
    created_by = models.CharField(max_length=100, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "membership"
        constraints = [models.UniqueConstraint(fields=["tenant_id", "user"], name="membership_one_per_tenant")]
        indexes = [models.Index(fields=["tenant_id", "role", "is_active"])]

    def __str__(self):
        return f"{self.user_id}@{self.tenant_id}:{self.role}"


class AllowOwnMembershipRead(AddReadPolicy):
    """A user may read their own membership rows across tenants (login, refresh and /me look across tenants)."""

    policy, setting, cast, default_column = "member_self", USER_SETTING, "::uuid", "user_id"


class PasswordReset(models.Model):
    """A single-use password-reset token, stored as its SHA-256 (the raw token travels once, in the
    `identity.password.reset_requested` event that notifications e-mails). A platform table: it is looked up by its
    hash before any tenant is known."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "password_reset"
        indexes = [models.Index(fields=["user", "used_at"])]
