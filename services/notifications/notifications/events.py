"""The event types notifications consumes (it publishes none yet): the one place their names are written
(contracts/events/)."""

# consumed (notifications.consumers)
INVITATION_CREATED = "identity.invitation.created"
INVITATION_ACCEPTED = "identity.invitation.accepted"
