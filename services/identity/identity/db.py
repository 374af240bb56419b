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
from django.db.migrations.operations.base import Operation

from servicekit.principal import acting_for_tenant
from servicekit.tenancy import RLS_SETTING, database_alias_for

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


class AllowInvitationByTokenRead(Operation):
    """A second, SELECT-only RLS policy on invitations: the row whose `token_hash` equals `app.invitation_token_hash`
    (PostgreSQL only). Writes stay under the tenant policy."""

    reversible = True

    def __init__(self, table: str, column: str = "token_hash"):
        self.table, self.column = table, column

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        t, c = schema_editor.quote_name(self.table), schema_editor.quote_name(self.column)
        schema_editor.execute(f"DROP POLICY IF EXISTS invitation_by_token ON {t}")
        schema_editor.execute(f"CREATE POLICY invitation_by_token ON {t} FOR SELECT "
                              f"USING ({c} = NULLIF(current_setting('{INVITATION_TOKEN_SETTING}', true), ''))")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP POLICY IF EXISTS invitation_by_token ON {schema_editor.quote_name(self.table)}")

    def describe(self):
        return f"Let the holder of an invitation token read that row of {self.table}"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.table], {"column": self.column})


class AllowOwnMembershipRead(Operation):
    """A second, SELECT-only RLS policy: rows whose user is the one named by `app.user_id` (PostgreSQL only).

    Permissive policies are OR-ed, so reads see the current tenant's rows plus the named user's own; writes are still
    checked by the tenant policy alone."""

    reversible = True

    def __init__(self, table: str, column: str = "user_id"):
        self.table, self.column = table, column

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        t, c = schema_editor.quote_name(self.table), schema_editor.quote_name(self.column)
        schema_editor.execute(f"DROP POLICY IF EXISTS member_self ON {t}")
        schema_editor.execute(f"CREATE POLICY member_self ON {t} FOR SELECT "
                              f"USING ({c} = NULLIF(current_setting('{USER_SETTING}', true), '')::uuid)")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP POLICY IF EXISTS member_self ON {schema_editor.quote_name(self.table)}")

    def describe(self):
        return f"Let a user read their own rows of {self.table} across tenants"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.table], {"column": self.column})
