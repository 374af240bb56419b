"""RLS on notifications' tables, proven at the database as the application role with raw SQL that forgets the
tenant filter (the kit's `rls` checks)."""
import uuid

import pytest

pytestmark = pytest.mark.postgres_only

NOTIFICATION = ("INSERT INTO notification (id, tenant_id, user_id, kind, title, body, data, created_at) "
                "VALUES (%s, %s, %s, 'probe', 'a title', '', '{}', now())")
DELIVERY = ("INSERT INTO email_delivery (id, tenant_id, event_id, kind, to_email, language, subject, body, status, "
            "stage, progress, attempts, generation, created_at, updated_at) VALUES (%s, %s, %s, 'invitation', "
            "'a@example.org', 'en', 's', '', 'queued', '', 0, 0, 1, now(), now())")

ENDPOINT = ("INSERT INTO webhook_endpoint (id, tenant_id, created_by, url, events, description, enabled, "
            "disabled_reason, secret, previous_secret, created_at, updated_at) VALUES (%s, %s, %s, "
            "'https://example.org/', '[]', '', true, '', 'whsec_x', '', now(), now())")


def test_tables_force_rls_for_a_role_that_neither_owns_nor_bypasses(rls):
    rls.assert_application_role()
    rls.assert_forced()
    assert {"notification", "email_delivery", "webhook_endpoint", "webhook_delivery", "webhook_attempt",
            "webhook_manual_send", "notification_progress"} <= \
        set(rls.tables())


@pytest.mark.parametrize("insert, table", [(NOTIFICATION, "notification"), (DELIVERY, "email_delivery"),
                                           (ENDPOINT, "webhook_endpoint")])
def test_raw_sql_sees_only_the_tenant_set_for_the_transaction(rls, insert, table):
    rls.assert_isolated(insert, lambda tenant: [uuid.uuid4(), tenant, uuid.uuid4()], f"SELECT tenant_id FROM {table}")
