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


def notify_webhook_disabled(endpoint, user_id: str, language: str = "en") -> Notification:
    if language == "ru":
        title = "Вебхук отключён"
        body = (f"Доставка на {endpoint.url} не удавалась в течение всего расписания повторов, адрес отключён. "
                "Исправьте приёмник и включите его снова.")
    else:
        title = "Webhook endpoint disabled"
        body = (f"Deliveries to {endpoint.url} failed for the whole retry schedule, so the endpoint was disabled. "
                "Fix the receiver and enable it again.")
    return notify(tenant_id=str(endpoint.tenant_id), user_id=str(user_id), kind="webhook.disabled", title=title,
                  body=body, data={"webhook_id": str(endpoint.id), "url": endpoint.url,
                                   "link": f"/api/v1/webhooks/{endpoint.id}"})
