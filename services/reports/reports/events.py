"""The event types reports publishes and consumes: the one place their names are written (contracts/events/)."""

# published (through the outbox, in the transaction that changes the report)
REPORT_READY = "reports.report.ready"
REPORT_FAILED = "reports.report.failed"
REPORT_PROGRESSED = "reports.report.progressed"  # rendering started / its progress grew (live progress)
DELETION_CONFIRMED = "reports.deletion.confirmed"  # a deleted athlete's, test's or tenant's reports erased

# consumed (reports.consumers)
TEST_ANALYZED = "measurements.test.analyzed"
TEST_DELETED = "measurements.test.deleted"
ATHLETE_DELETED = "measurements.athlete.deleted"
TENANT_DELETED = "identity.tenant.deleted"
