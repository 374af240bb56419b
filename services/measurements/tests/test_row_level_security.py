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


def test_application_role_neither_owns_nor_bypasses(rls):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT tableowner <> current_user FROM pg_tables WHERE tablename = 'athlete'")
        assert cursor.fetchone() == (True,)
        cursor.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'athlete'")
        assert cursor.fetchone() == (True, True)
    # the kit's checks over every tenant-owned table of the service
    rls.assert_application_role()
    assert set(rls.tables()) == {"athlete", "exercise_test", "sample", "lactate_step", "import_job",
                                 "analysis_result", "analysis_audit", "analysis_settings", "athlete_export",
                                 "deletion_request", "upload_retention"}
    rls.assert_forced()


def test_every_tenant_table_isolates_raw_sql(rls):
    """The kit's isolation check on the two tables the import writes most: each tenant reads its own rows only."""
    def athlete_row(tenant):
        return [uuid.uuid4(), tenant, "X"]

    rls.assert_isolated("INSERT INTO athlete (id, tenant_id, first_name, last_name, sex, sport, notes, created_at, "
                        "updated_at) VALUES (%s, %s, %s, 'X', 'male', '', '', now(), now())", athlete_row,
                        "SELECT tenant_id FROM athlete")
    rls.assert_isolated("INSERT INTO sample (test_id, idx, tenant_id, time_s) VALUES (%s, 0, %s, 0)",
                        lambda tenant: [uuid.uuid4(), tenant], "SELECT tenant_id FROM sample")


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
