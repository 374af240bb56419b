"""RLS on the report tables, proven at the database as the application role (the kit's `rls` checks)."""
import uuid

import pytest

pytestmark = pytest.mark.postgres_only

REPORT = ("INSERT INTO report (id, tenant_id, test_id, language, template, status, stage, progress, attempts, "
          "generation, file_path, sha256, requested_by, auto, request_fingerprint, created_at, updated_at) "
          "VALUES (%s, %s, %s, 'en', 'full', 'queued', '', 0, 0, 1, '', '', '', false, '', now(), now())")


def test_report_tables_force_rls_for_a_role_that_neither_owns_nor_bypasses(rls):
    rls.assert_application_role()
    rls.assert_forced()
    assert {"report", "report_settings"} <= set(rls.tables())


def test_raw_sql_sees_only_the_tenant_set_for_the_transaction(rls):
    rls.assert_isolated(REPORT, lambda tenant: [uuid.uuid4(), tenant, uuid.uuid4()], "SELECT tenant_id FROM report")
