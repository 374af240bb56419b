"""The event types identity publishes (it consumes none): the one place their names are written (contracts/events/)."""

INVITATION_CREATED = "identity.invitation.created"
INVITATION_ACCEPTED = "identity.invitation.accepted"
USER_CREATED = "identity.user.created"
PASSWORD_RESET_REQUESTED = "identity.password.reset_requested"
