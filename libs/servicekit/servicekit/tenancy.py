"""Tenant isolation, enforced twice: the ORM scopes every query to the current tenant, and in PostgreSQL a
row-level-security policy admits only rows of the tenant set for the transaction (`SET LOCAL app.tenant_id`).

Models inherit `TenantOwned`; migrations add `EnableTenantRLS("<table>")` after creating the table. The database
lookup for a tenant lives here alone (`database_alias_for`), so a dedicated database per enterprise tenant can
follow without touching domain code.
"""
from __future__ import annotations

from contextlib import contextmanager

from django.db import connections, models, transaction
from django.db.migrations.operations.base import Operation

from .principal import acting_for_tenant, current_tenant_id

RLS_SETTING = "app.tenant_id"


def database_alias_for(tenant_id: str | None) -> str:
    """The one place that maps a tenant to its database (all tenants share `default` today)."""
    return "default"


def set_database_tenant(tenant_id: str | None, using: str = "default") -> None:
    """Tell PostgreSQL which tenant this transaction acts for (transaction-local, like SET LOCAL)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("the tenant is set per transaction: call inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [RLS_SETTING, str(tenant_id) if tenant_id else ""])


@contextmanager
def tenant_transaction(tenant_id: str):
    """Background work for one tenant: a transaction with the tenant set in the ORM scope and for RLS."""
    with acting_for_tenant(tenant_id):
        alias = database_alias_for(tenant_id)
        with transaction.atomic(using=alias):
            set_database_tenant(tenant_id, using=alias)
            yield


class TenantScopedQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantScopedQuerySet)):
    """Only the current tenant's rows; no tenant in context means no rows (fail closed)."""

    def get_queryset(self):
        queryset = super().get_queryset()
        tenant_id = current_tenant_id()
        if not tenant_id:
            return queryset.none()
        return queryset.filter(tenant_id=tenant_id)


class TenantOwned(models.Model):
    tenant_id = models.UUIDField(db_index=True, editable=False)

    objects = TenantManager()
    all_tenants = models.Manager()  # for migrations, maintenance commands and cross-tenant operator tasks only

    class Meta:
        abstract = True


@contextmanager
def every_tenants_rows(schema_editor, table: str):
    """A cursor for a data migration that rewrites every tenant's rows of `table`. The owner role runs migrations and
    FORCEd row-level security binds it too, so FORCE is lifted for the block and set again after it (inside the
    migration's transaction: a failure rolls both back). A no-op wrapper on SQLite."""
    pg = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        if pg:
            cursor.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        yield cursor
        if pg:
            cursor.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')


class EnableTenantRLS(Operation):
    """Row-level security on a tenant-owned table (PostgreSQL only; a no-op on SQLite).

    FORCE makes the policy apply to the table owner too; the application connects as a role that neither owns the
    tables nor bypasses RLS. After a SET LOCAL transaction the setting reads '' rather than NULL, hence NULLIF.
    """

    reversible = True

    def __init__(self, table: str, column: str = "tenant_id"):
        self.table, self.column = table, column

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        t, c = schema_editor.quote_name(self.table), schema_editor.quote_name(self.column)
        # A scalar subquery is evaluated once per statement (an InitPlan), not once per row: bulk inserts and scans
        # of large tenant tables pay for the policy once.
        setting = f"(SELECT NULLIF(current_setting('{RLS_SETTING}', true), '')::uuid)"
        schema_editor.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {t}")
        schema_editor.execute(
            f"CREATE POLICY tenant_isolation ON {t} USING ({c} = {setting}) WITH CHECK ({c} = {setting})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        t = schema_editor.quote_name(self.table)
        schema_editor.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {t}")
        schema_editor.execute(f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Enable tenant row-level security on {self.table}"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.table], {"column": self.column})


class AddReadPolicy(Operation):
    """A second, SELECT-only RLS policy on a tenant-owned table: rows whose `column` equals a transaction setting
    (PostgreSQL only). Permissive policies are OR-ed, so reads see the current tenant's rows plus these; writes stay
    checked by the tenant policy alone. Subclasses name the policy, the setting and the cast."""

    reversible = True
    policy: str = ""
    setting: str = ""
    cast: str = ""  # e.g. "::uuid"
    default_column: str = ""

    def __init__(self, table: str, column: str | None = None):
        self.table, self.column = table, column or self.default_column

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        t, c = schema_editor.quote_name(self.table), schema_editor.quote_name(self.column)
        schema_editor.execute(f"DROP POLICY IF EXISTS {self.policy} ON {t}")
        schema_editor.execute(f"CREATE POLICY {self.policy} ON {t} FOR SELECT "
                              f"USING ({c} = NULLIF(current_setting('{self.setting}', true), ''){self.cast})")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP POLICY IF EXISTS {self.policy} ON {schema_editor.quote_name(self.table)}")

    def describe(self):
        return f"Add the read policy {self.policy} on {self.table}"

    def deconstruct(self):
        return (self.__class__.__qualname__, [self.table], {"column": self.column})
