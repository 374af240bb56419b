"""Writes to in-app notifications."""
from __future__ import annotations

from django.utils import timezone

from servicekit.events import Event

from .models import Notification

ROLE_NAMES = {
    "en": {"owner": "owner", "admin": "admin", "physiologist": "physiologist", "athlete": "athlete",
           "viewer": "viewer"},
    "ru": {"owner": "владелец", "admin": "администратор", "physiologist": "физиолог", "athlete": "спортсмен",
           "viewer": "наблюдатель"},
}


def notify(*, tenant_id: str, user_id: str, kind: str, title: str, body: str = "", data: dict | None = None,
           event_id: str | None = None) -> Notification:
    return Notification.objects.create(tenant_id=tenant_id, user_id=user_id, kind=kind, title=title, body=body,
                                       data=data or {}, event_id=event_id)


def notify_invitation_accepted(event: Event) -> Notification:
    d = event.data
    language = d.get("language") if d.get("language") in ROLE_NAMES else "en"
    who = d.get("user_name") or d["email"]
    role = ROLE_NAMES[language].get(d["role"], d["role"])
    if language == "ru":
        title = f"{who} принял(а) ваше приглашение"
        body = f"{d['email']} теперь в вашей лаборатории с ролью «{role}»."
    else:
        title = f"{who} accepted your invitation"
        body = f"{d['email']} joined your lab as {role}."
    return notify(tenant_id=event.tenant_id, user_id=d["invited_by"], kind="invitation.accepted", title=title,
                  body=body, event_id=event.id,
                  data={"invitation_id": d["invitation_id"], "user_id": d["user_id"], "email": d["email"],
                        "role": d["role"]})


def mark_read(notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification



def mark_all_read(user_id: str) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).update(read_at=timezone.now())


def remove_older_than(days: int) -> int:
    """Retention: every tenant's notifications older than `days` go. The tenants are the ones events came from (the
    kit's inbox is not tenant-scoped); each is cleaned in its own tenant transaction, as RLS requires."""
    import datetime as dt

    from servicekit.events.models import InboxEvent
    from servicekit.tenancy import tenant_transaction

    cutoff = timezone.now() - dt.timedelta(days=days)
    removed = 0
    tenants = InboxEvent.objects.exclude(tenant_id=None).values_list("tenant_id", flat=True).distinct()
    for tenant_id in list(tenants):
        with tenant_transaction(str(tenant_id)):
            removed += Notification.objects.filter(created_at__lt=cutoff).delete()[0]
    return removed
