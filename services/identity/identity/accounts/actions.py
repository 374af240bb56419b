"""Writes to users and memberships, and password checks. Views validate and call these; nothing else writes them.

A user's or a member's access ending is announced to the folders above through hooks (`when_access_ends`), so
that tokens revokes the refresh tokens without this folder importing it.

Refusals are ProblemErrors raised *after* the writes that must outlive them (failure counts, audit rows) have
committed in their own savepoint; the views answer them without rolling the request back.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

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
from .models import Membership, User
from .queries import active_owners, normalize_email, user_by_email

Kind = audit.Kind
_access_ended: list[Callable[..., int]] = []


def when_access_ends(hook: Callable[..., int]) -> Callable[..., int]:
    """Register `hook(user_id, tenant_id=None) -> count`, run in the deactivating transaction when a user (every
    tenant) or a membership (one tenant) stops: tokens revokes the user's refresh tokens and counts them."""
    _access_ended.append(hook)
    return hook


def _end_access(user_id, tenant_id=None) -> int:
    return sum(hook(user_id, tenant_id=tenant_id) for hook in _access_ended)


class InvalidCredentials(ProblemError):
    """The one answer to a wrong e-mail, a wrong password, a locked or a deactivated account."""

    def __init__(self):
        super().__init__(401, "invalid-credentials", "The e-mail or password is wrong.")


# ---- users -------------------------------------------------------------------------------------------------------

def _require_good_password(raw: str, field: str = "password") -> None:
    problems = passwords.problems_with(raw)
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

def create_tenant(*, by: Principal | None, name: str, slug: str, owner_email: str, owner_password: str | None = None,
                  owner_full_name: str = "", settings: dict | None = None, **fields) -> Tenant:
    """A tenant and its first owner (an existing user keeps their password; a new one needs an initial one)."""
    with transaction.atomic():
        tenant = tenants.new_tenant(name=name, slug=slug, settings=settings, **fields)
        add_member(tenant.id, by=None, email=owner_email, role=OWNER, full_name=owner_full_name,
                   password=owner_password, provisioned_by="operator", actor=audit.actor_of(by))
        audit.record(audit.Kind.TENANT_CREATED, tenant_id=tenant.id, by=by, slug=tenant.slug)
    return tenant
