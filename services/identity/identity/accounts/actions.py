"""Writes to users and memberships, and password checks. Views validate and call these; nothing else writes them.

A user's or a member's access ending is announced to the folders above through hooks (`when_access_ends`), so
that tokens revokes the refresh tokens without this folder importing it.

Refusals are ProblemErrors raised *after* the writes that must outlive them (failure counts, audit rows) have
committed in their own savepoint; the views answer them without rolling the request back.
"""
from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from servicekit.events import publish
from servicekit.principal import OWNER, Principal
from servicekit.problems import ProblemError

from .. import events
from ..audit import actions as audit
from ..tenants import actions as tenants
from ..tenants.models import Tenant
from ..tenants.queries import tenant_language
from ..tenants.scope import tenant_scope
from . import passwords
from ..tenants.queries import tenants_by_id
from .models import Membership, PasswordReset, User
from .queries import active_memberships_of, active_owners, normalize_email, user_by_email

Kind = audit.Kind
_access_ended: list[Callable[..., int]] = []


def when_access_ends(hook: Callable[..., int]) -> Callable[..., int]:
    """Register `hook(user_id, tenant_id=None) -> count`, run in the deactivating transaction when a user (every
    tenant) or a membership (one tenant) stops: tokens revokes the user's refresh tokens and counts them."""
    _access_ended.append(hook)
    return hook


def _end_access(user_id, tenant_id=None) -> int:
    return sum(hook(user_id, tenant_id=tenant_id) for hook in _access_ended)


_password_changed: list[Callable[..., int]] = []


def when_password_changes(hook: Callable[..., int]) -> Callable[..., int]:
    """Register `hook(user_id, keep_family=None) -> count`, run in the transaction that changes a password: tokens
    ends the user's other sessions there (all of them after a reset)."""
    _password_changed.append(hook)
    return hook


class InvalidCredentials(ProblemError):
    """The one answer to a wrong e-mail, a wrong password, a locked or a deactivated account."""

    def __init__(self):
        super().__init__(401, "invalid-credentials", "The e-mail or password is wrong.")


# ---- users -------------------------------------------------------------------------------------------------------

def _require_good_password(raw: str, field: str = "password", user: User | None = None) -> None:
    problems = passwords.problems_with(raw, user)
    if problems:
        raise ProblemError(400, "validation-error", f"{field}: {problems[0]}",
                           errors=[{"field": field, "detail": p} for p in problems])


def create_user(email: str, password: str | None, *, full_name: str = "", is_operator: bool = False) -> User:
    """A new user; `password=None` makes an account that cannot log in by password (SSO, later)."""
    if password is not None:
        _require_good_password(password)
    return User.objects.create(email=normalize_email(email), full_name=full_name, is_operator=is_operator,
                               password=passwords.hash_password(password))


def deactivate_user(user: User, *, by: Principal | None = None) -> User:
    """The user can no longer log in or refresh, in any tenant; identity refuses their access tokens at once."""
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active", "updated_at"])
        revoked = _end_access(user.id)
        audit.record(Kind.USER_DEACTIVATED, by=by, subject_user_id=user.id, revoked_refresh_tokens=revoked)
    return user


# ---- login -------------------------------------------------------------------------------------------------------

def authenticate(email: str, password: str) -> User | None:
    """The user when the e-mail and password match an active account that is not locked; None otherwise.

    The hasher runs exactly once whatever the case. The account row is locked while the password is checked, so
    parallel guesses are counted one after another and cannot slip past LOGIN_MAX_FAILURES."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=normalize_email(email)).first()
        if user is None:
            passwords.verify(password, None)
            audit.record(Kind.LOGIN_FAILED, actor="anonymous", reason="unknown-account")
            return None
        now = timezone.now()

        def upgrade_hash(raw):  # Django asks for a re-hash when the work factor rose since it was stored
            user.password = passwords.hash_password(raw)

        correct = passwords.verify(password, user.password, setter=upgrade_hash)
        if user.locked_until and user.locked_until > now:
            # Nothing counts while locked, not even the right password; the answer equals a wrong password's.
            audit.record(Kind.LOGIN_FAILED, actor="anonymous", subject_user_id=user.id, reason="locked")
            return None
        if not correct:
            _count_failure(user, now)
            return None
        if not user.is_active:
            audit.record(Kind.LOGIN_FAILED, actor="anonymous", subject_user_id=user.id, reason="inactive")
            return None
        user.failed_logins, user.failed_logins_since, user.locked_until = 0, None, None
        user.last_login_at = now
        user.save(update_fields=["password", "failed_logins", "failed_logins_since", "locked_until",
                                 "last_login_at", "updated_at"])
        return user


def _count_failure(user: User, now) -> None:
    window = timedelta(seconds=settings.LOGIN_LOCKOUT_S)
    if user.failed_logins_since is None or now - user.failed_logins_since > window:
        user.failed_logins, user.failed_logins_since = 0, now
    user.failed_logins += 1
    if user.failed_logins >= settings.LOGIN_MAX_FAILURES:
        user.locked_until = now + window
        user.failed_logins, user.failed_logins_since = 0, None
        audit.record(Kind.ACCOUNT_LOCKED, actor="anonymous", subject_user_id=user.id,
                     locked_until=user.locked_until.isoformat())
    else:
        audit.record(Kind.LOGIN_FAILED, actor="anonymous", subject_user_id=user.id, reason="wrong-password",
                     failures=user.failed_logins)
    user.save(update_fields=["failed_logins", "failed_logins_since", "locked_until", "updated_at"])


# ---- memberships -------------------------------------------------------------------------------------------------

def _only_owner_may(by: Principal | None, detail: str) -> None:
    if by is not None and OWNER not in by.roles:
        raise ProblemError(403, "forbidden", detail)


PROVISIONED_BY = ("password", "invitation", "sso", "operator")  # identity.user.created's `provisioned_by`


def add_member(tenant_id, *, by: Principal | None, email: str, role: str, full_name: str = "",
               password: str | None = None, provisioned_by: str = "password", actor: str | None = None) -> Membership:
    """Add an existing user (their password is left alone) or a new one (an initial password is required) to a
    tenant. `by=None` is the platform itself (operator creating a tenant, bootstrap, an accepted invitation; `actor`
    then names who is recorded). Publishes `identity.user.created` (a user joined the tenant) in the same
    transaction."""
    if role == OWNER:
        _only_owner_may(by, "Only an owner may grant the owner role.")
    with tenant_scope(tenant_id):
        user = user_by_email(email)
        if user is None:
            if not password:
                raise ProblemError(400, "validation-error", "password: a new user needs an initial password",
                                   errors=[{"field": "password", "detail": "a new user needs an initial password"}])
            user = create_user(email, password, full_name=full_name)
        membership = Membership.objects.select_for_update().filter(tenant_id=tenant_id, user=user).first()
        if membership is not None and membership.is_active:
            raise ProblemError(409, "already-a-member", "This user is already an active member here.")
        who = actor if actor is not None else audit.actor_of(by)
        if membership is None:
            membership = Membership.objects.create(tenant_id=tenant_id, user=user, role=role, created_by=who)
        else:  # a former member comes back with the role given now
            membership.role, membership.is_active = role, True
            membership.save(update_fields=["role", "is_active", "updated_at"])
        audit.record(Kind.MEMBER_ADDED, tenant_id=tenant_id, actor=who, subject_user_id=user.id, role=role)
        _publish_user_joined(tenant_id, user, role, provisioned_by)
    return membership


def _publish_user_joined(tenant_id, user: User, role: str, provisioned_by: str) -> None:
    data = {"user_id": user.id, "tenant_id": tenant_id, "email": user.email, "roles": [role],
            "language": tenant_language(tenant_id)}
    if user.full_name:
        data["name"] = user.full_name
    if provisioned_by in PROVISIONED_BY:
        data["provisioned_by"] = provisioned_by
    publish(events.USER_CREATED, data, tenant_id=tenant_id, subject=str(user.id))


def change_member(membership: Membership, *, by: Principal | None, role: str | None = None,
                  is_active: bool | None = None) -> Membership:
    """Change a member's role and/or (de)activate them. Only an owner may grant or change the owner role; the last
    active owner can be neither demoted nor deactivated."""
    role = role if role is not None and role != membership.role else None
    is_active = is_active if is_active is not None and is_active != membership.is_active else None
    if role is None and is_active is None:
        return membership
    if membership.role == OWNER or role == OWNER:
        _only_owner_may(by, "Only an owner may grant or change the owner role.")
    with tenant_scope(membership.tenant_id):
        stops_owning = membership.role == OWNER and membership.is_active and (role is not None or is_active is False)
        if stops_owning:
            owners = active_owners(membership.tenant_id, for_update=True)  # locked: two demotions cannot race
            if len([o for o in owners if o.id != membership.id]) == 0:
                raise ProblemError(409, "last-owner", "The last active owner can be neither demoted nor "
                                   "deactivated; make someone else an owner first.")
        changes = {}
        if role is not None:
            changes["role"] = [membership.role, role]
            membership.role = role
        if is_active is not None:
            changes["is_active"] = [membership.is_active, is_active]
            membership.is_active = is_active
        membership.save(update_fields=["role", "is_active", "updated_at"])
        if is_active is False:
            revoked = _end_access(membership.user_id, tenant_id=membership.tenant_id)
            audit.record(Kind.MEMBER_DEACTIVATED, tenant_id=membership.tenant_id, by=by,
                         subject_user_id=membership.user_id, revoked_refresh_tokens=revoked)
        if role is not None or is_active is True:
            audit.record(Kind.MEMBER_CHANGED, tenant_id=membership.tenant_id, by=by,
                         subject_user_id=membership.user_id, changes=changes)
    return membership


def deactivate_member(membership: Membership, *, by: Principal | None) -> Membership:
    return change_member(membership, by=by, is_active=False)


def make_operator(user: User) -> User:
    """A platform operator manages tenants (set by bootstrap --operator or by another operator's tooling)."""
    user.is_operator = True
    user.save(update_fields=["is_operator", "updated_at"])
    return user


# ---- tenants with their first owner ------------------------------------------------------------------------------

def create_tenant(*, by: Principal | None, name: str, slug: str, owner_email: str | None,
                  owner_password: str | None = None, owner_full_name: str = "", settings: dict | None = None,
                  **fields) -> Tenant:
    """A tenant and its first owner (an existing user keeps their password; a new one needs an initial one).
    `owner_email=None`: no owner yet (the operator's flow invites an existing account instead: invitations)."""
    with transaction.atomic():
        tenant = tenants.new_tenant(name=name, slug=slug, settings=settings, **fields)
        if owner_email is not None:
            add_member(tenant.id, by=None, email=owner_email, role=OWNER, full_name=owner_full_name,
                       password=owner_password, provisioned_by="operator", actor=audit.actor_of(by))
        audit.record(audit.Kind.TENANT_CREATED, tenant_id=tenant.id, by=by, slug=tenant.slug)
    return tenant


def delete_tenant(tenant: Tenant, *, by: Principal | None) -> "TenantDeletion":
    """The operator deletes a tenant (GDPR erasure of an organisation): the request is recorded and
    `identity.tenant.deleted` goes to every service, which erases the tenant and confirms; identity erases its own
    part now, in this transaction: every row naming the tenant (memberships, invitations, refresh tokens, API
    keys, SSO settings and links, audit),
    the users left without any tenant (not operators), and the tenant itself. What is kept: an anonymised audit
    entry (ids only) and the deletion record."""
    from servicekit import erasure

    from ..tenants.models import TenantDeletion

    tenant_id = tenant.id
    with transaction.atomic():
        with tenant_scope(tenant_id):
            member_ids = list(Membership.objects.values_list("user_id", flat=True))
            removed = erasure.erase_tenant(tenant_id)
        # a user with a membership left elsewhere keeps the account (read as that user: RLS shows their own rows)
        alone = User.objects.filter(pk__in=[u for u in member_ids if not _any_membership(u)], is_operator=False)
        removed["users"], _ = alone.delete()
        tenant.delete()
        row = TenantDeletion.objects.create(scope="tenant", subject_id=tenant_id, requested_by=_user_uuid(by),
                                            expected=list(settings.TENANT_DELETION_CONFIRMERS),
                                            removed_here=removed)
        publish(events.TENANT_DELETED, {"tenant_id": str(tenant_id), "deleted_by": _user_uuid(by)},
                tenant_id=str(tenant_id), subject=str(tenant_id))
        audit.record(Kind.TENANT_DELETED, tenant_id=None, by=by, deleted_tenant_id=str(tenant_id),
                     deletion_id=str(row.pk))
    return row


def _any_membership(user_id) -> bool:
    from .queries import user_scope

    with user_scope(user_id):
        return Membership.all_tenants.filter(user_id=user_id).exists()


def _user_uuid(by: Principal | None) -> str | None:
    import uuid

    try:
        return str(uuid.UUID(str(by.user_id))) if by else None
    except ValueError:
        return None


def record_tenant_deletion_confirmation(service: str, data: dict) -> None:
    """A service confirmed it erased a deleted tenant (scope tenant; other scopes are measurements' business)."""
    from servicekit import erasure

    from ..tenants.models import TenantDeletion

    if data.get("scope") != "tenant":
        return
    row = TenantDeletion.objects.select_for_update().filter(subject_id=data["subject_id"]).first()
    if row is not None:
        erasure.record_confirmation(row, service, data.get("removed"))


def reemit_tenant_deletions(*, older_than_s: float) -> int:
    """Send `identity.tenant.deleted` again for every deletion some service has not confirmed after
    `older_than_s` seconds since it last went out (the services that erased already remove nothing and confirm
    again). A plain function: `manage.py reemit_tenant_deletions`, or a periodic task."""
    from servicekit import erasure

    from ..tenants.models import TenantDeletion

    sent = 0
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    for row in TenantDeletion.objects.filter(completed_at__isnull=True, last_emitted_at__lte=cutoff):
        with transaction.atomic():
            row = TenantDeletion.objects.select_for_update().get(pk=row.pk)
            erasure.note_emitted(row)
            publish(events.TENANT_DELETED, {"tenant_id": str(row.subject_id), "reemitted": row.emitted - 1,
                                            **({"deleted_by": str(row.requested_by)} if row.requested_by else {})},
                    tenant_id=str(row.subject_id), subject=str(row.subject_id))
            sent += 1
    return sent


# ---- password lifecycle ------------------------------------------------------------------------------------------

def require_password_change(user: User) -> User:
    """The next login's session reaches only POST /auth/password until a new password is chosen."""
    user.must_change_password = True
    user.save(update_fields=["must_change_password", "updated_at"])
    return user


def _set_password(user: User, raw: str, *, field: str, keep_family=None, reason: str, by_actor: str) -> int:
    _require_good_password(raw, field, user)
    user.password = passwords.hash_password(raw)
    user.must_change_password = False
    user.password_changed_at = timezone.now()
    user.failed_logins, user.failed_logins_since, user.locked_until = 0, None, None
    user.save(update_fields=["password", "must_change_password", "password_changed_at", "failed_logins",
                             "failed_logins_since", "locked_until", "updated_at"])
    revoked = sum(hook(user.id, keep_family=keep_family) for hook in _password_changed)
    audit.record(Kind.PASSWORD_CHANGED, actor=by_actor, subject_user_id=user.id, reason=reason,
                 revoked_refresh_tokens=revoked)
    return revoked


def change_password(user: User, *, current_password: str, new_password: str, keep_family=None) -> User:
    """The user's own change: the current password is checked like a login (failures count towards the lockout; a
    wrong one is 400 on `current_password`), the new one against the policy; every other session ends."""
    if authenticate(user.email, current_password) is None:
        raise ProblemError(400, "validation-error", "current_password: this is not your current password",
                           errors=[{"field": "current_password", "detail": "this is not your current password"}])
    if current_password == new_password:
        raise ProblemError(400, "validation-error", "new_password: choose a password you do not use now",
                           errors=[{"field": "new_password", "detail": "choose a password you do not use now"}])
    with transaction.atomic():
        user = User.objects.select_for_update().get(id=user.id)
        _set_password(user, new_password, field="new_password", keep_family=keep_family, reason="changed",
                      by_actor=str(user.id))
    return user


def reset_url(raw_token: str) -> str:
    return f"{settings.PUBLIC_APP_URL}/reset-password?{urlencode({'token': raw_token})}"


def request_password_reset(email: str) -> PasswordReset | None:
    """A reset link for an active account with an active membership, e-mailed through notifications
    (`identity.password.reset_requested`, written to the outbox with the row). Unknown, deactivated or
    tenant-less accounts get nothing and the same 202: the answer never tells which."""
    user = user_by_email(email)
    if user is None or not user.is_active:
        return None
    memberships = active_memberships_of(user.id)
    tenants = tenants_by_id(m.tenant_id for m in memberships)
    tenant = next((tenants[m.tenant_id] for m in memberships if m.tenant_id in tenants), None)
    if tenant is None:  # the e-mail goes out in a tenant's name (its language, its delivery log)
        audit.record(Kind.PASSWORD_RESET_REQUESTED, actor="anonymous", subject_user_id=user.id, sent=False)
        return None
    raw = secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(minutes=settings.PASSWORD_RESET_TTL_MINUTES)
    language = user.language if user.language in ("en", "ru") else tenant_language(tenant)
    with transaction.atomic():
        reset = PasswordReset.objects.create(user=user, token_hash=passwords.token_hash(raw), expires_at=expires_at)
        audit.record(Kind.PASSWORD_RESET_REQUESTED, tenant_id=tenant.id, actor="anonymous", subject_user_id=user.id,
                     sent=True)
        with tenant_scope(tenant.id):
            publish(events.PASSWORD_RESET_REQUESTED, {
                "user_id": user.id, "tenant_id": tenant.id, "tenant_name": tenant.name or tenant.slug,
                "email": user.email, "language": language, "reset_token": raw, "reset_url": reset_url(raw),
                "expires_at": expires_at,
            }, tenant_id=tenant.id, subject=str(user.id))
    return reset


class ResetTokenInvalid(ProblemError):
    """One answer for an unknown, used or expired reset token."""

    def __init__(self):
        super().__init__(400, "reset-token-invalid", "This password-reset link is not valid any more; ask for a new "
                         "one.")


def confirm_password_reset(raw_token: str, new_password: str) -> User:
    """The token's user gets `new_password` (policy checked); the token and every other pending one of the user are
    used up; every session of the user ends; a lock from failed logins is lifted."""
    now = timezone.now()
    with transaction.atomic():
        reset = (PasswordReset.objects.select_for_update().select_related("user")
                 .filter(token_hash=passwords.token_hash(raw_token or "")).first())
        if reset is None or reset.used_at is not None or reset.expires_at <= now or not reset.user.is_active:
            raise ResetTokenInvalid()
        user = User.objects.select_for_update().get(id=reset.user_id)
        _set_password(user, new_password, field="new_password", reason="reset", by_actor="anonymous")
        PasswordReset.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    return user


# ---- profile -----------------------------------------------------------------------------------------------------

PROFILE_FIELDS = ("full_name", "language", "time_zone")


def is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def update_profile(user: User, **changes) -> User:
    """The user's own name, language ("" = the tenant's) and IANA time zone."""
    changed = [name for name in PROFILE_FIELDS if name in changes and getattr(user, name) != changes[name]]
    for name in changed:
        setattr(user, name, changes[name])
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
        audit.record(Kind.PROFILE_CHANGED, actor=str(user.id), subject_user_id=user.id, fields=changed)
    return user


def remove_expired_password_resets(keep_days: int) -> int:
    """Periodic: password-reset tokens expired (used or not) more than `keep_days` ago go."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import PasswordReset

    return PasswordReset.objects.filter(expires_at__lt=timezone.now() - timedelta(days=keep_days)).delete()[0]
