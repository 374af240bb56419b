import uuid

from django.db import models


class AuditEvent(models.Model):
    """A security event. Not a TenantOwned table: some events belong to no tenant (a failed login before a tenant is
    chosen, a key rotation); `tenant_id` is set whenever one is known and tenant reads filter on it (queries.py)."""

    class Kind(models.TextChoices):
        LOGIN_SUCCEEDED = "login.succeeded"
        LOGIN_FAILED = "login.failed"
        ACCOUNT_LOCKED = "login.locked"
        TOKEN_REFRESH_REUSED = "token.refresh_reused"
        LOGOUT = "logout"
        SERVICE_TOKEN_ISSUED = "token.service_issued"
        MEMBER_ADDED = "member.added"
        MEMBER_CHANGED = "member.changed"
        MEMBER_DEACTIVATED = "member.deactivated"
        USER_DEACTIVATED = "user.deactivated"
        INVITATION_CREATED = "invitation.created"
        INVITATION_ACCEPTED = "invitation.accepted"
        INVITATION_REVOKED = "invitation.revoked"
        TENANT_CREATED = "tenant.created"
        TENANT_CHANGED = "tenant.changed"
        TENANT_DELETED = "tenant.deleted"  # by the operator; ids only (the tenant's own audit goes with it)
        KEY_CREATED = "key.created"
        KEY_ROTATED = "key.rotated"
        KEY_RETIRED = "key.retired"
        PLAN_CHANGED = "tenant.plan_changed"
        API_KEY_CREATED = "api_key.created"
        API_KEY_USED = "api_key.used"  # exchanged for an access token (at most once a minute per gateway process)
        API_KEY_REFUSED = "api_key.refused"
        API_KEY_REVOKED = "api_key.revoked"
        MFA_ENROLMENT_STARTED = "mfa.enrolment_started"
        MFA_ENABLED = "mfa.enabled"
        MFA_DISABLED = "mfa.disabled"
        MFA_CHALLENGED = "mfa.challenged"  # the password matched; a second factor is asked for
        MFA_FAILED = "mfa.failed"
        MFA_LOCKED = "mfa.locked"
        MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
        MFA_ENROLMENT_REQUIRED = "mfa.enrolment_required"
        SSO_LINKED = "sso.linked"
        SSO_LOGIN = "sso.login"
        SSO_CONFIGURED = "sso.configured"
        SSO_REMOVED = "sso.removed"
        SSO_REFUSED = "sso.refused"
        PASSWORD_CHANGED = "password.changed"
        PASSWORD_RESET_REQUESTED = "password.reset_requested"
        PROFILE_CHANGED = "user.profile_changed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant_id = models.UUIDField(null=True, blank=True, db_index=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    actor = models.CharField(max_length=100, blank=True, default="")  # user id, "service:<client>", "system"
    subject_user_id = models.UUIDField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "audit_event"
        indexes = [models.Index(fields=["tenant_id", "created_at"])]
