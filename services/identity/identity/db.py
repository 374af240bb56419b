"""Transaction-local database settings for row-level security, beyond the kit's per-request tenant.

Membership rows are tenant-owned (TenantOwned + EnableTenantRLS). Two things in identity must reach them outside the
request's tenant:
- a user's *own* memberships across tenants (login chooses a tenant, /me lists the others, refresh re-checks one):
  `user_scope(user_id)` sets `app.user_id`, which the extra policy `member_self` (SELECT only) admits;
- writing memberships of a tenant other than the caller's (an operator creating a tenant, bootstrap):
  `tenant_scope(tenant_id)` acts for that tenant in the ORM and for RLS, and restores the caller's tenant afterwards.

Invitations are tenant-owned too; the public accept endpoint knows only the token. `invitation_token_scope(hash)` sets
`app.invitation_token_hash`, which the SELECT-only policy `invitation_by_token` admits (that one row, nothing else);
the accept itself then runs in `tenant_scope` of the invitation's tenant.
"""
from __future__ import annotations

from contextlib import contextmanager

from django.db import connections, transaction

from servicekit.principal import acting_for_tenant
from servicekit.tenancy import RLS_SETTING, AddReadPolicy, database_alias_for

USER_SETTING = "app.user_id"
INVITATION_TOKEN_SETTING = "app.invitation_token_hash"


def _swap_setting(alias: str, name: str, value: str) -> str:
    """Set a transaction-local setting; returns the value it had."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true), set_config(%s, %s, true)", [name, name, value])
        return cursor.fetchone()[0] or ""


@contextmanager
def _setting(alias: str, name: str, value: str):
    with transaction.atomic(using=alias):
        if connections[alias].vendor != "postgresql":
            yield
            return
        previous = _swap_setting(alias, name, value)
        yield
        # On success put the caller's value back; on an error the savepoint's rollback undoes the change itself.
        _swap_setting(alias, name, previous)


@contextmanager
def tenant_scope(tenant_id):
    """Act for `tenant_id` (ORM scope and RLS) inside a transaction, then return to the caller's tenant."""
    tenant_id = str(tenant_id)
    with acting_for_tenant(tenant_id), _setting(database_alias_for(tenant_id), RLS_SETTING, tenant_id):
        yield


@contextmanager
def user_scope(user_id):
    """Let this transaction read the memberships of `user_id` in every tenant (and nobody else's)."""
    with _setting(database_alias_for(None), USER_SETTING, str(user_id)):
        yield


@contextmanager
def invitation_token_scope(token_hash: str):
    """Let this transaction read the one invitation whose token hashes to `token_hash` (in whatever tenant)."""
    with _setting(database_alias_for(None), INVITATION_TOKEN_SETTING, token_hash):
        yield


class AllowInvitationByTokenRead(AddReadPolicy):
    """The holder of an invitation token may read that one invitation row, in whatever tenant (the public accept
    route knows only the token). Writes stay under the tenant policy."""

    policy, setting, default_column = "invitation_by_token", INVITATION_TOKEN_SETTING, "token_hash"


class AllowOwnMembershipRead(AddReadPolicy):
    """A user may read their own membership rows across tenants (login, refresh and /me look across tenants)."""

    policy, setting, cast, default_column = "member_self", USER_SETTING, "::uuid", "user_id"
