import uuid

from django.db import models


class TotpDevice(models.Model):
    """A user's authenticator app (RFC 6238 TOTP). The secret is kept encrypted (Fernet, as the signing keys);
    `confirmed_at` None: enrolment started, not yet proven with a code. Failed codes count towards a lock, with the
    password lockout's settings (LOGIN_MAX_FAILURES within LOGIN_LOCKOUT_S). Platform table: a user's second
    factor serves every tenant they belong to."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, primary_key=True, related_name="+")
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)  # the newest time step accepted: a code works once
    failures = models.PositiveIntegerField(default=0)
    failures_since = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "mfa_totp_device"


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator is lost; only its SHA-256 is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mfa_recovery_code"


class LoginChallenge(models.Model):
    """The password step of a login passed; the second factor is due (`verify`) or must be set up first
    (`enrol`, when the tenant requires it). Single use, short-lived, only its SHA-256 kept."""

    class Purpose(models.TextChoices):
        VERIFY = "verify"
        ENROL = "enrol"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    tenant_id = models.UUIDField(null=True, blank=True)  # the tenant the login chose (None: operator)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "mfa_login_challenge"
