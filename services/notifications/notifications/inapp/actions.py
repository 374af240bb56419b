"""Writes to in-app notifications. Inside a consumer's batch (servicekit.events.batch) the rows are inserted
together at the end of the batch and each job's progress row is read once (or for the whole batch, `lock_progress`)."""
from __future__ import annotations

import uuid

from django.utils import timezone

from servicekit.events import Event, batch

from . import fanout
from .models import Notification, Progress

ROLE_NAMES = {
    "en": {"owner": "owner", "admin": "admin", "physiologist": "physiologist", "athlete": "athlete",
           "viewer": "viewer"},
    "ru": {"owner": "владелец", "admin": "администратор", "physiologist": "физиолог", "athlete": "спортсмен",
           "viewer": "наблюдатель"},
}


def notify(*, tenant_id: str, user_id: str, kind: str, title: str, body: str = "", data: dict | None = None,
           event_id: str | None = None) -> Notification:
    made = batch.create(Notification(tenant_id=tenant_id, user_id=user_id, kind=kind, title=title, body=body,
                                     data=data or {}, event_id=event_id))
    fanout.announce(tenant_id, user_id)  # after the commit: the user's live streams read it now
    return made


def record_progress(*, tenant_id: str, user_id, subject: str, subject_id, status: str, stage: str = "",
                    progress: int = 0, generation: int | None = None, data: dict | None = None) -> Progress | None:
    """The latest state of one import or report for its user's stream. Steps may come late or twice (an event
    redelivered): a newer run (generation) replaces an older one; within a run a finished job stays finished and
    progress never goes back. `generation` None: the run recorded last (done/failed events do not name it)."""
    if not user_id:
        return None
    known = batch.cache("inapp.progress")
    key = (subject, str(uuid.UUID(str(subject_id))))
    if key not in known:
        known[key] = Progress.objects.select_for_update().filter(subject=subject, subject_id=subject_id).first()
    row = known[key]
    if generation is None:
        generation = row.generation if row is not None else 1
    fields = {"status": status, "stage": stage, "progress": progress, "generation": generation,
              "updated_at": timezone.now()}
    if row is None:
        row = known[key] = batch.create(Progress(tenant_id=tenant_id, user_id=user_id, subject=subject,
                                                 subject_id=subject_id, data=data or {}, **fields))
    else:
        if generation < row.generation or (generation == row.generation and (
                row.status in ("done", "failed") or (status == "running" and progress < row.progress))):
            return row
        if status == "failed" and generation == row.generation:
            fields["progress"] = row.progress  # where it stopped
        fields["data"] = {**row.data, **(data or {})}
        for name, value in fields.items():
            setattr(row, name, value)
        batch.update(row, list(fields))
    fanout.announce(tenant_id, user_id)
    return row


def lock_progress(keys) -> None:
    """The progress rows of these (subject, subject id) pairs, locked, into the batch's cache: one query."""
    keys = {(s, str(uuid.UUID(str(i)))) for s, i in keys if i}
    if not keys or batch.current() is None:
        return
    known = batch.cache("inapp.progress")
    wanted = [k for k in keys if k not in known]
    if not wanted:
        return
    found = {(p.subject, str(p.subject_id)): p for p in
             Progress.objects.select_for_update().filter(subject_id__in=sorted({i for _, i in wanted}))}
    known.update({k: found.get(k) for k in wanted})


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
            # where a job stood matters while it runs and shortly after; a day is plenty for a reconnect
            Progress.objects.filter(updated_at__lt=timezone.now() - dt.timedelta(days=1)).delete()
    return removed
