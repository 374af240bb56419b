"""Reads of users and memberships."""
from __future__ import annotations

import uuid

from contextlib import contextmanager

from servicekit.principal import OPERATOR, Principal
from servicekit.tenancy import database_alias_for

from ..audit import actions as audit
from ..tenants.scope import transaction_setting
from .models import USER_SETTING, Membership, User


@contextmanager
def user_scope(user_id):
    """Let this transaction read the memberships of `user_id` in every tenant (and nobody else's): the SELECT-only
    policy `member_self` (models.AllowOwnMembershipRead) admits them."""
    with transaction_setting(database_alias_for(None), USER_SETTING, str(user_id)):
        yield


def normalize_email(email: str | None) -> str:
    return (email or "").strip().lower()


def user_by_email(email: str) -> User | None:
    return User.objects.filter(email=normalize_email(email)).first()


def user_by_id(user_id) -> User | None:
    """The user, or None (also for ids that are no user id at all, such as "service:reports")."""
    try:
        user_id = uuid.UUID(str(user_id))
    except ValueError:
        return None
    return User.objects.filter(id=user_id).first()


# The three reads below run before (login, refresh) or beside (token checks, /me) the request's tenant: they use the
# `all_tenants` manager on purpose, narrowed to one user, and user_scope lets RLS admit that user's rows only.

def active_memberships_of(user_id) -> list[Membership]:
    with user_scope(user_id):
        return list(Membership.all_tenants.filter(user_id=user_id, is_active=True).order_by("created_at"))


def active_membership(user_id, tenant_id) -> Membership | None:
    with user_scope(user_id):
        return Membership.all_tenants.filter(user_id=user_id, tenant_id=tenant_id, is_active=True).first()


def session_roles(user: User, tenant_id) -> list[str] | None:
    """The roles a token for `user` acting for `tenant_id` carries now; None when it may not be issued."""
    if not user.is_active:
        return None
    roles = []
    if tenant_id:
        membership = active_membership(user.id, tenant_id)
        if membership is None:
            return None
        roles.append(membership.role)
    if user.is_operator:
        roles.append(OPERATOR)
    return roles or None


def principal_is_current(principal: Principal) -> bool:
    """A user's token is honoured while the user, membership and roles it names are still what they were."""
    user = user_by_id(principal.user_id)
    if user is None:
        return False
    roles = session_roles(user, principal.tenant_id)
    return roles is not None and frozenset(roles) == principal.roles


def tenant_member(user_id) -> Membership | None:
    """The active membership of `user_id` in the request's tenant (scoped like tenant_members), or None."""
    return Membership.objects.filter(user_id=user_id, is_active=True, user__is_active=True).first()


def tenant_members():
    """Members of the request's tenant (the TenantManager scopes `objects`; RLS enforces it)."""
    return Membership.objects.select_related("user")


def active_owners(tenant_id, *, for_update: bool = False) -> list[Membership]:
    owners = Membership.objects.filter(tenant_id=tenant_id, role="owner", is_active=True)
    return list(owners.select_for_update() if for_update else owners)


@audit.tenants_of_user
def tenants_of_user(user_id) -> list:
    """The audit log's view of a user's tenants: an event about the user without a tenant goes to each of them."""
    return [m.tenant_id for m in active_memberships_of(user_id)]
