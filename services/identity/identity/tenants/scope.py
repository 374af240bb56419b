"""Transaction-local database settings for row-level security, beyond the kit's per-request tenant.

Membership and invitation rows are tenant-owned (TenantOwned + EnableTenantRLS). Some of identity's work must reach
them outside the request's tenant; each such reach is a transaction-local setting that one extra SELECT-only policy
admits (accounts: `user_scope`, a user's own memberships; invitations: `invitation_token_scope`, the one invitation
a token names), or acting for another tenant altogether:
- writing memberships of a tenant other than the caller's (an operator creating a tenant, bootstrap, an accepted
  invitation): `tenant_scope(tenant_id)` acts for that tenant in the ORM and for RLS, and restores the caller's
  tenant afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager

from django.db import connections, transaction

from servicekit.principal import acting_for_tenant
from servicekit.tenancy import RLS_SETTING, database_alias_for


def _swap_setting(alias: str, name: str, value: str) -> str:
    """Set a transaction-local setting; returns the value it had."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true), set_config(%s, %s, true)", [name, name, value])
        return cursor.fetchone()[0] or ""


@contextmanager
def transaction_setting(alias: str, name: str, value: str):
    """`name` = `value` for RLS inside a transaction (a savepoint), then the caller's value again."""
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
    with acting_for_tenant(tenant_id), transaction_setting(database_alias_for(tenant_id), RLS_SETTING, tenant_id):
        yield
