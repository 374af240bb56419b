"""Memberships are tenant-owned: RLS proven at the database, as the application role, with raw SQL."""
import pytest
from django.db import connection, transaction

from identity.accounts.queries import user_scope
from identity.tenants.scope import tenant_scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def member_emails(scope=None):
    with transaction.atomic():
        if scope is None:
            return _select()
        with scope:
            return _select()


def _select():
    with connection.cursor() as cursor:
        cursor.execute("SELECT u.email FROM membership m JOIN identity_user u ON u.id = m.user_id ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def test_application_role_neither_owns_nor_bypasses(rls):
    rls.assert_application_role()
    rls.assert_forced()  # membership and invitation: RLS enabled and forced, with policies
    assert {"membership", "invitation"} <= set(rls.tables())


def test_raw_sql_sees_the_tenants_rows_or_one_users_own_rows_only(make_tenant, add_member):
    a = make_tenant("lab-a", "anna@lab-a.test")
    b = make_tenant("lab-b", "boris@lab-b.test")
    add_member(b, "anna@lab-a.test", "viewer")
    from identity.accounts.queries import user_by_email

    assert member_emails() == []  # no tenant, no user: nothing
    assert member_emails(tenant_scope(a.id)) == ["anna@lab-a.test"]
    assert member_emails(tenant_scope(b.id)) == ["anna@lab-a.test", "boris@lab-b.test"]
    # login's cross-tenant read admits the named user's rows in every tenant, and nobody else's
    assert member_emails(user_scope(user_by_email("anna@lab-a.test").id)) == ["anna@lab-a.test", "anna@lab-a.test"]


def test_the_own_rows_policy_does_not_allow_writes(make_tenant):
    from django.db.utils import ProgrammingError

    from identity.accounts.queries import user_by_email

    a = make_tenant("lab-a", "anna@lab-a.test")
    make_tenant("lab-b", "boris@lab-b.test")
    boris = user_by_email("boris@lab-b.test")
    with transaction.atomic(), user_scope(boris.id), connection.cursor() as cursor:
        cursor.execute("UPDATE membership SET role = 'viewer' WHERE user_id = %s", [boris.id])
        assert cursor.rowcount == 0  # visible for reading, not for changing
    with pytest.raises(ProgrammingError, match="row-level security"):
        with transaction.atomic(), tenant_scope(a.id), connection.cursor() as cursor:
            cursor.execute("INSERT INTO membership (id, tenant_id, user_id, role, is_active, created_by, created_at, "
                           "updated_at) VALUES (gen_random_uuid(), gen_random_uuid(), %s, 'owner', true, '', now(), "
                           "now())", [boris.id])


def test_the_scopes_restore_the_callers_tenant(make_tenant):
    a = make_tenant("lab-a", "anna@lab-a.test")
    b = make_tenant("lab-b", "boris@lab-b.test")
    with transaction.atomic():
        with tenant_scope(a.id):
            with tenant_scope(b.id):
                assert _select() == ["boris@lab-b.test"]
            assert _select() == ["anna@lab-a.test"]
        assert _select() == []
