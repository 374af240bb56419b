"""RLS on the report tables, proven at the database as the application role."""
import uuid

import pytest
from django.db import connection, transaction

from servicekit.tenancy import set_database_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def test_report_tables_force_rls_for_a_role_that_neither_owns_nor_bypasses():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                       "WHERE relname IN ('report', 'report_settings') ORDER BY relname")
        assert cursor.fetchall() == [("report", True, True), ("report_settings", True, True)]


def test_raw_sql_sees_only_the_tenant_set_for_the_transaction():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    for tenant in (a, b):
        with transaction.atomic():
            set_database_tenant(tenant)
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO report (id, tenant_id, test_id, language, template, status, progress, "
                               "error_code, error, file_path, sha256, requested_by, auto, request_fingerprint, "
                               "attempts, created_at, updated_at) VALUES (%s, %s, %s, 'en', 'full', 'queued', 0, '', "
                               "'', '', '', '', false, '', 0, now(), now())", [uuid.uuid4(), tenant, uuid.uuid4()])
    with transaction.atomic():
        set_database_tenant(a)
        with connection.cursor() as cursor:
            cursor.execute("SELECT tenant_id::text FROM report")
            assert [r[0] for r in cursor.fetchall()] == [a]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM report")
            assert cursor.fetchone() == (0,)
