"""RLS proven at the database, as the application role, with raw SQL that forgets the tenant filter."""
import uuid

import pytest
from django.db import connection, transaction

from servicekit.tenancy import set_database_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def insert(tenant_id, name):
    with transaction.atomic():
        set_database_tenant(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO athlete (id, tenant_id, first_name, last_name, sex, sport, notes, created_at, "
                           "updated_at) VALUES (%s, %s, %s, 'X', 'male', '', '', now(), now())",
                           [uuid.uuid4(), tenant_id, name])


def names(tenant_id=None):
    with transaction.atomic():
        if tenant_id:
            set_database_tenant(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute("SELECT first_name FROM athlete ORDER BY first_name")
            return [row[0] for row in cursor.fetchall()]


def test_application_role_neither_owns_nor_bypasses():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT tableowner <> current_user FROM pg_tables WHERE tablename = 'athlete'")
        assert cursor.fetchone() == (True,)
        cursor.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'athlete'")
        assert cursor.fetchone() == (True, True)


def test_raw_sql_sees_only_the_tenant_set_for_the_transaction():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    insert(a, "Alice")
    insert(b, "Boris")
    assert names() == []          # no tenant set: nothing
    assert names(a) == ["Alice"]  # the query forgot the filter; the policy did not
    assert names(b) == ["Boris"]


def test_writing_a_row_for_another_tenant_is_refused():
    from django.db.utils import ProgrammingError

    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(ProgrammingError, match="row-level security"):
        with transaction.atomic():
            set_database_tenant(a)
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO athlete (id, tenant_id, first_name, last_name, sex, sport, notes, "
                               "created_at, updated_at) VALUES (%s, %s, 'Eve', 'X', 'male', '', '', now(), now())",
                               [uuid.uuid4(), b])
