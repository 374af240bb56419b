"""Writes to invitations: create (owner/admin), revoke, and the invitee's accept. Views validate and call these.

Every change publishes its event in the same transaction as the change (servicekit.events.publish → outbox), so an
invitation whose event cannot be written is not stored either, and a stored one is always announced.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from servicekit.django import idempotency
from servicekit.events import publish
from servicekit.principal import OWNER, Principal
from servicekit.problems import ProblemError

from .. import events
from ..accounts import actions as accounts
from ..accounts.models import Membership, User
from ..accounts.queries import normalize_email, user_by_email, user_by_id
from ..audit import actions as audit
from ..tenants import plans
from ..tenants.models import Tenant
from ..tenants.queries import current_tenant, tenant_language
from ..tenants.scope import tenant_scope
from ..tokens import actions as tokens
from ..tokens.crypto import token_hash
from .models import Invitation
from .queries import invitation_by_token_hash

Kind = audit.Kind


class InvitationNotFound(ProblemError):
    def __init__(self):
        super().__init__(404, "invitation-not-found", "This invitation link is not valid.")


class InvitationUsed(ProblemError):
    def __init__(self):
        super().__init__(409, "invitation-used", "This invitation has been used already; log in instead.")


class InvitationExpired(ProblemError):
    """Expired and revoked invitations get the same answer: the link no longer works, ask for a new one."""

    def __init__(self):
        super().__init__(410, "invitation-expired", "This invitation has expired or was withdrawn; ask for a new one.")


def accept_url(raw_token: str) -> str:
    return f"{settings.PUBLIC_APP_URL}/accept-invitation?{urlencode({'token': raw_token})}"


# ---- create ------------------------------------------------------------------------------------------------------

def seats_taken(tenant_id) -> int:
    """What counts towards the plan's member quota: active members and invitations still open."""
    pending = Invitation.objects.filter(tenant_id=tenant_id, accepted_at__isnull=True, revoked_at__isnull=True,
                                        expires_at__gt=timezone.now()).count()
    return Membership.objects.filter(tenant_id=tenant_id, is_active=True).count() + pending


def create_tenant_with_owner(*, by: Principal, name: str, slug: str, owner_email: str,
                             owner_password: str | None = None, owner_full_name: str = "",
                             **fields) -> tuple[Tenant, Invitation | None]:
    """The platform operator's new tenant and its first owner → (tenant, None), or (tenant, the owner's pending
    invitation). An e-mail without an account gets one now, with the initial password the operator gives (the
    person changes it at the first login). An e-mail that has an account already is only invited as owner: that
    person becomes the owner by accepting, never by the operator's word alone (no membership without consent)."""
    if user_by_email(owner_email) is None:
        return accounts.create_tenant(by=by, name=name, slug=slug, owner_email=owner_email,
                                      owner_password=owner_password, owner_full_name=owner_full_name, **fields), None
    with transaction.atomic():
        tenant = accounts.create_tenant(by=by, name=name, slug=slug, owner_email=None, **fields)
        # the operator invites in the new tenant's name, as its owner would
        acting = Principal(user_id=by.user_id, tenant_id=str(tenant.id), roles=frozenset({OWNER}), claims=by.claims)
        with tenant_scope(tenant.id):
            invitation, _ = create_invitation(by=acting, email=owner_email, role=OWNER)
    return tenant, invitation


def create_invitation(*, by: Principal, email: str, role: str,
                      idempotency_key: str | None = None) -> tuple[Invitation, bool]:
    """A pending invitation of `email` to the caller's tenant (created=True), or, for a repeated Idempotency-Key of
    the same caller, the invitation made the first time (created=False). Only an owner may invite an owner; an
    e-mail that is an active member already is refused (409 already-a-member)."""
    tenant_id = by.tenant_id
    email = normalize_email(email)
    if role == OWNER and OWNER not in by.roles:
        raise ProblemError(403, "forbidden", "Only an owner may invite an owner.")
    key, fields, scope = idempotency_key or None, {"email": email, "role": role}, {"invited_by": by.user_id}
    if key:  # a replay answers with the first invitation before anything is checked again
        earlier = idempotency.earlier(Invitation, key=key, fields=fields, scope=scope)
        if earlier is not None:
            return earlier, False
    tenant = current_tenant(by)
    invitee = user_by_email(email)
    if invitee is not None and Membership.objects.filter(tenant_id=tenant_id, user=invitee, is_active=True).exists():
        raise ProblemError(409, "already-a-member", "This e-mail belongs to an active member here already.")
    plans.require_room(tenant, plans.MEMBERS, seats_taken(tenant_id))  # 403 plan-limit (tenants.plans)
    inviter = user_by_id(by.user_id)

    def create(extra: dict) -> Invitation:
        raw = secrets.token_urlsafe(32)  # 256 bits; only its SHA-256 is stored
        expires_at = timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS)
        invitation = Invitation.objects.create(
            tenant_id=tenant_id, email=email, role=role, token_hash=token_hash(raw), invited_by=by.user_id,
            expires_at=expires_at, **extra)
        audit.record(Kind.INVITATION_CREATED, tenant_id=tenant_id, by=by, invitation_id=str(invitation.id), role=role)
        publish(events.INVITATION_CREATED, {
            "invitation_id": invitation.id,
            "tenant_id": tenant_id,
            "tenant_name": tenant.name or tenant.slug,
            "language": tenant_language(tenant),
            "email": email,
            "role": role,
            "invited_by": by.user_id,
            "invited_by_name": ((inviter.full_name or inviter.email) if inviter else "")[:200],
            "accept_token": raw,
            "accept_url": accept_url(raw),
            "expires_at": expires_at,
        }, tenant_id=tenant_id, subject=str(invitation.id))
        return invitation

    # create_once: the row, its audit and its event in one savepoint; a concurrent retry with the key answers with
    # the first one
    return idempotency.create_once(Invitation, by=by, key=key, fields=fields, scope=scope, create=create)


# ---- revoke ------------------------------------------------------------------------------------------------------

def revoke_invitation(invitation: Invitation, *, by: Principal) -> Invitation:
    """The link stops working (410 on accept). Revoking twice is harmless; an accepted invitation cannot be revoked
    (409 invitation-used: deactivate the member instead). Only an owner may revoke an owner invitation."""
    if invitation.role == OWNER and OWNER not in by.roles:
        raise ProblemError(403, "forbidden", "Only an owner may revoke an invitation to the owner role.")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(id=invitation.id)
        if invitation.accepted_at is not None:
            raise ProblemError(409, "invitation-used", "This invitation was accepted already; deactivate the member "
                               "instead.")
        if invitation.revoked_at is None:
            invitation.revoked_at, invitation.revoked_by = timezone.now(), audit.actor_of(by)
            invitation.save(update_fields=["revoked_at", "revoked_by", "updated_at"])
            audit.record(Kind.INVITATION_REVOKED, tenant_id=invitation.tenant_id, by=by,
                         invitation_id=str(invitation.id), role=invitation.role)
    return invitation


# ---- accept ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Accepted:
    invitation: Invitation
    membership: Membership
    user: User
    user_created: bool
    tokens: tokens.TokenPair


def _check_usable(invitation: Invitation | None, now) -> Invitation:
    if invitation is None:
        raise InvitationNotFound()
    status = invitation.status_at(now)
    if status == Invitation.Status.ACCEPTED:
        raise InvitationUsed()
    if status in (Invitation.Status.REVOKED, Invitation.Status.EXPIRED):
        raise InvitationExpired()
    return invitation


def accept_invitation(raw_token: str, *, password: str, full_name: str = "") -> Accepted:
    """The invitee joins the tenant with the invited role and gets a session for it.

    - No account for the invited e-mail yet: one is made with `password` (the usual password rules) and `full_name`.
    - An account exists: `password` must be its current password (checked like a login: failures count towards the
      lockout, and a wrong, locked or deactivated account gets the one `invalid-credentials` answer); the account's
      password and name stay as they are.

    Raises InvitationNotFound (404), InvitationUsed (409), InvitationExpired (410, also for a revoked one),
    accounts.InvalidCredentials (401), ProblemError 400 (weak password) or 409 (already a member). The view answers
    refusals without rolling back, so a counted login failure stays counted."""
    now = timezone.now()
    hashed = token_hash(raw_token or "")
    found = _check_usable(invitation_by_token_hash(hashed), now)
    existing = user_by_email(found.email)
    if existing is not None and accounts.authenticate(found.email, password) is None:
        raise accounts.InvalidCredentials()

    with transaction.atomic(), tenant_scope(found.tenant_id):
        # Again, locked: two accepts of one token cannot both succeed, and a revoke in between is seen.
        invitation = _check_usable(Invitation.objects.select_for_update().filter(id=found.id).first(), timezone.now())
        user = user_by_email(invitation.email)
        if (user.id if user else None) != (existing.id if existing else None):
            raise ProblemError(409, "conflict", "The account changed while the invitation was being accepted; "
                               "try again.")
        membership = accounts.add_member(
            invitation.tenant_id, by=None, email=invitation.email, role=invitation.role,
            full_name=full_name if existing is None else "", password=password if existing is None else None,
            provisioned_by="invitation", actor=str(invitation.invited_by))
        user = membership.user
        invitation.accepted_at, invitation.accepted_user_id = timezone.now(), user.id
        invitation.save(update_fields=["accepted_at", "accepted_user_id", "updated_at"])
        audit.record(Kind.INVITATION_ACCEPTED, tenant_id=invitation.tenant_id, actor=str(user.id),
                     subject_user_id=user.id, invitation_id=str(invitation.id), role=invitation.role,
                     new_account=existing is None)
        data = {"invitation_id": invitation.id, "tenant_id": invitation.tenant_id, "user_id": user.id,
                "email": user.email, "role": invitation.role, "invited_by": invitation.invited_by,
                "language": tenant_language(invitation.tenant_id)}
        if user.full_name:
            data["user_name"] = user.full_name[:200]
        publish(events.INVITATION_ACCEPTED, data, tenant_id=invitation.tenant_id, subject=str(invitation.id))
    # After the acceptance is kept: the session is opened like any login's, so its checks apply (a second factor
    # the account has or the tenant requires answers with a challenge; the membership stays).
    pair = tokens.open_session(user, membership, method="invitation")
    return Accepted(invitation, membership, user, existing is None, pair)


def remove_expired_invitations(keep_days: int) -> int:
    """Periodic: invitations never accepted whose link expired (or that were revoked) more than `keep_days` ago go,
    tenant by tenant (the table is under row-level security); accepted ones stay as the membership's origin."""
    from servicekit.tenancy import tenant_transaction

    from ..tenants.models import Tenant

    cutoff = timezone.now() - timedelta(days=keep_days)
    removed = 0
    for tenant_id in Tenant.objects.values_list("id", flat=True):
        with tenant_transaction(str(tenant_id)):
            removed += Invitation.objects.filter(accepted_at__isnull=True, expires_at__lt=cutoff).delete()[0]
    return removed
