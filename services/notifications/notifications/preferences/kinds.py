"""The kinds of notification and their default channels (a user's preference replaces a default)."""
IMPORT_DONE, IMPORT_FAILED, ANALYSIS_CHANGED = "import.done", "import.failed", "analysis.changed"
REPORT_READY, REPORT_FAILED, INVITATION_ACCEPTED = "report.ready", "report.failed", "invitation.accepted"
WEBHOOK_DISABLED = "webhook.disabled"
EVENT_DEAD_LETTERED = "event.dead_lettered"  # a service gave up on an event of the lab (owners and admins)

DEFAULTS = {
    IMPORT_DONE: {"in_app": True, "email": False},
    IMPORT_FAILED: {"in_app": True, "email": True},
    ANALYSIS_CHANGED: {"in_app": True, "email": False},
    REPORT_READY: {"in_app": True, "email": True},
    REPORT_FAILED: {"in_app": True, "email": False},
    INVITATION_ACCEPTED: {"in_app": True, "email": False},
    WEBHOOK_DISABLED: {"in_app": True, "email": False},
    EVENT_DEAD_LETTERED: {"in_app": True, "email": False},
}
CHANNELS = ("in_app", "email")
