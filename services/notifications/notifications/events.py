"""The event types notifications consumes and the one it makes up for webhook pings: the one place their names are
written (contracts/events/)."""

# consumed (notifications.consumers)
INVITATION_CREATED = "identity.invitation.created"
INVITATION_ACCEPTED = "identity.invitation.accepted"
USER_CREATED = "identity.user.created"
TEST_IMPORTED = "measurements.test.imported"
TEST_ANALYZED = "measurements.test.analyzed"
TEST_DELETED = "measurements.test.deleted"
ATHLETE_DELETED = "measurements.athlete.deleted"
TENANT_DELETED = "identity.tenant.deleted"
IMPORT_FAILED = "measurements.import.failed"
REPORT_READY = "reports.report.ready"
REPORT_FAILED = "reports.report.failed"
IMPORT_PROGRESSED = "measurements.import.progressed"  # live progress on the stream (not sent to webhooks)
REPORT_PROGRESSED = "reports.report.progressed"

# published (through the outbox): what notifications erased for a deletion request
DELETION_CONFIRMED = "notifications.deletion.confirmed"

# sent to one endpoint on POST /webhooks/{id}/ping, never published on the bus
WEBHOOK_PING = "notifications.webhook.ping"

# what integrators may subscribe to (exact types or fnmatch patterns over these)
WEBHOOK_EVENT_TYPES = (TEST_IMPORTED, TEST_ANALYZED, TEST_DELETED, ATHLETE_DELETED, IMPORT_FAILED, REPORT_READY,
                       REPORT_FAILED)
PASSWORD_RESET_REQUESTED = "identity.password.reset_requested"  # identity (issue 16): a reset link to e-mail
