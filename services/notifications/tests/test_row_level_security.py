"""RLS on notifications' tables, proven at the database as the application role, with raw SQL that forgets the
tenant filter."""
import uuid

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from servicekit.tenancy import set_database_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def insert_notification(tenant_id, title, *, as_tenant=None):
    with transaction.atomic():
        set_database_tenant(as_tenant or tenant_id)
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO notification (id, tenant_id, user_id, kind, title, body, data, created_at) "
                           "VALUES (%s, %s, %s, 'probe', %s, '', '{}', now())",
                           [uuid.uuid4(), tenant_id, uuid.uuid4(), title])


def insert_delivery(tenant_id, to_email):
    with transaction.atomic():
        set_database_tenant(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO email_delivery (id, tenant_id, event_id, kind, to_email, language, subject, "
                           "body, status, attempts, last_error, created_at, updated_at) VALUES (%s, %s, %s, "
                           "'invitation', %s, 'en', 's', '', 'pending', 0, '', now(), now())",
                           [uuid.uuid4(), tenant_id, uuid.uuid4(), to_email])


def seen(sql, tenant_id=None):
    with transaction.atomic():
        if tenant_id:
            set_database_tenant(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return [row[0] for row in cursor.fetchall()]


def test_tables_force_rls_for_a_role_that_neither_owns_nor_bypasses():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT relname, relrowsecurity, relforcerowsecurity, "
                       "pg_get_userbyid(relowner) <> current_user FROM pg_class "
                       "WHERE relname IN ('notification', 'email_delivery') ORDER BY relname")
        assert cursor.fetchall() == [("email_delivery", True, True, True), ("notification", True, True, True)]


def test_raw_sql_sees_only_the_tenant_set_for_the_transaction():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    insert_notification(a, "for A")
    insert_notification(b, "for B")
    insert_delivery(a, "a@example.org")
    insert_delivery(b, "b@example.org")
    titles, emails = "SELECT title FROM notification", "SELECT to_email FROM email_delivery"
    assert seen(titles) == [] and seen(emails) == []  # no tenant set: nothing
    assert seen(titles, a) == ["for A"] and seen(emails, a) == ["a@example.org"]
    assert seen(titles, b) == ["for B"] and seen(emails, b) == ["b@example.org"]


def test_writing_a_row_for_another_tenant_is_refused():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(ProgrammingError, match="row-level security"):
        insert_notification(b, "smuggled", as_tenant=a)
    assert seen("SELECT title FROM notification", b) == []
