"""The event types identity publishes and consumes: the one place their names are written (contracts/events/)."""

INVITATION_CREATED = "identity.invitation.created"
INVITATION_ACCEPTED = "identity.invitation.accepted"
USER_CREATED = "identity.user.created"
PASSWORD_RESET_REQUESTED = "identity.password.reset_requested"
TENANT_DELETED = "identity.tenant.deleted"  # an operator deleted a tenant: every service erases it

# consumed (identity.consumers): each service's confirmation that it erased a deleted tenant
MEASUREMENTS_DELETION_CONFIRMED = "measurements.deletion.confirmed"
REPORTS_DELETION_CONFIRMED = "reports.deletion.confirmed"
NOTIFICATIONS_DELETION_CONFIRMED = "notifications.deletion.confirmed"
