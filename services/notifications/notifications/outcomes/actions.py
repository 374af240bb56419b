"""Telling people what happened to their lab's work: one named home for it. `tell()` writes the in-app
notification and records the e-mail (queued before the commit, as every e-mail is) as the user's preferences say,
in their language, naming the athlete and the test, linking to the resource's public URL."""
from __future__ import annotations

import uuid

from django.conf import settings

from servicekit.events import Event

from ..directory import queries as directory
from ..inapp import actions as inapp
from ..mail import actions as mail, tasks as mail_tasks
from ..preferences import queries as preferences
from . import messages


def link(path: str) -> str:
    return settings.PUBLIC_APP_URL + path


def language_of(user_id, member=None) -> str:
    chosen = preferences.language(user_id)
    if chosen:
        return chosen
    member = member if member is not None else directory.member(user_id)
    return member.language if member else "en"


def tell(*, tenant_id: str, user_id, kind: str, event_id: str, values: dict, data: dict) -> None:
    if not user_id:
        return
    channels = preferences.channels(user_id).get(kind, {"in_app": True, "email": False})
    member = directory.member(user_id)
    language = language_of(user_id, member)
    title, body = messages.render(kind, language, values)
    if channels["in_app"]:
        inapp.notify(tenant_id=tenant_id, user_id=str(user_id), kind=kind, title=title, body=body,
                     data={**data, "link": values.get("link")}, event_id=event_id)
    if channels["email"] and member is not None and member.email:
        delivery = mail.record_email(tenant_id=tenant_id, event_id=event_id, kind=f"{kind}:{user_id}",
                                     to_email=member.email, language=language, subject=title, body=body,
                                     about=data)
        if not delivery.finished:
            mail_tasks.send_later(delivery)


def _test_values(test_id) -> dict:
    known = directory.lab_test(test_id)
    return {"athlete": known.athlete_name, "date": known.date} if known else {}


def import_done(event: Event) -> None:
    d = event.data
    values = {**_test_values(d["test_id"]), "athlete": d.get("athlete_name") or None, "date": d.get("date"),
              "file": d.get("format"), "link": link(f"/api/v1/tests/{d['test_id']}/analysis")}
    tell(tenant_id=event.tenant_id, user_id=d.get("imported_by"), kind="import.done", event_id=event.id,
         values=values, data={"test_id": d["test_id"], "athlete_id": d["athlete_id"], "import_id": d.get("import_id")})
    if d.get("import_id"):
        _progress(event, "import", d["import_id"], d.get("imported_by"), "done", progress=100,
                  data={"athlete_id": d["athlete_id"], "test_id": d["test_id"]})


def import_failed(event: Event) -> None:
    d = event.data
    values = {"athlete": d.get("athlete_name"), "file": d.get("filename"), "stage": d.get("stage"),
              "reason": d.get("detail") or d["error_code"], "link": link(f"/api/v1/imports/{d['import_id']}")}
    tell(tenant_id=event.tenant_id, user_id=d.get("imported_by"), kind="import.failed", event_id=event.id,
         values=values, data={"import_id": d["import_id"], "athlete_id": d["athlete_id"],
                              "error_code": d["error_code"], "detail": d.get("detail", "")})
    _progress(event, "import", d["import_id"], d.get("imported_by"), "failed", stage=d.get("stage") or "",
              data={"athlete_id": d["athlete_id"], "error_code": d["error_code"]})


def analysis_changed(event: Event) -> None:
    """Someone changed a test's analysis: the person who imported it hears of it, unless it was them."""
    d = event.data
    known = directory.lab_test(d["test_id"])
    changed_by = d.get("requested_by")
    if known is None or not known.imported_by or not changed_by or str(known.imported_by) == str(changed_by):
        return
    who = directory.member(changed_by)
    values = {**_test_values(d["test_id"]), "who": (who.name or who.email) if who else None,
              "revision": d["revision"], "link": link(f"/api/v1/tests/{d['test_id']}/analysis")}
    tell(tenant_id=event.tenant_id, user_id=known.imported_by, kind="analysis.changed", event_id=event.id,
         values=values, data={"test_id": d["test_id"], "athlete_id": d["athlete_id"], "revision": d["revision"]})


def report_ready(event: Event) -> None:
    d = event.data
    values = {**_test_values(d["test_id"]), "link": link(d.get("download_path") or
                                                          f"/api/v1/reports/{d['report_id']}/file")}
    tell(tenant_id=event.tenant_id, user_id=d["requested_by"], kind="report.ready", event_id=event.id,
         values=values, data={"report_id": d["report_id"], "test_id": d["test_id"]})
    _progress(event, "report", d["report_id"], d["requested_by"], "done", progress=100,
              data={"test_id": d["test_id"]})


def report_failed(event: Event) -> None:
    d = event.data
    values = {**_test_values(d["test_id"]), "reason": d.get("detail") or d["error_code"],
              "link": link(f"/api/v1/reports/{d['report_id']}")}
    tell(tenant_id=event.tenant_id, user_id=d["requested_by"], kind="report.failed", event_id=event.id,
         values=values, data={"report_id": d["report_id"], "test_id": d["test_id"], "error_code": d["error_code"]})
    _progress(event, "report", d["report_id"], d["requested_by"], "failed", stage="rendering",
              data={"test_id": d["test_id"], "error_code": d["error_code"]})


# ---- live progress of imports and reports (the stream's `progress` events) ---------------------------------------

NOBODY = "00000000-0000-0000-0000-000000000000"  # reports' "the system" (an automatic report)


def _progress(event: Event, subject: str, subject_id, user_id, status: str, *, stage: str = "", progress: int = 0,
              generation: int | None = None, data: dict | None = None) -> None:
    if not user_id or str(user_id) == NOBODY:
        return
    inapp.record_progress(tenant_id=event.tenant_id, user_id=str(user_id), subject=subject, subject_id=subject_id,
                          status=status, stage=stage, progress=progress, generation=generation, data=data)


def import_progressed(event: Event) -> None:
    d = event.data
    _progress(event, "import", d["import_id"], d.get("imported_by"), "running", stage=d["stage"],
              progress=d["progress"], generation=d["generation"], data={"athlete_id": d["athlete_id"]})


def report_progressed(event: Event) -> None:
    d = event.data
    _progress(event, "report", d["report_id"], d["requested_by"], "running", stage=d["stage"],
              progress=d["progress"], generation=d["generation"], data={"test_id": d["test_id"]})


def webhook_disabled(endpoint, fallback_user_ids) -> None:
    """The tenant's owners and admins (as identity's events named them), else whoever set the endpoint up."""
    people = [m.user_id for m in directory.managers()] or list(fallback_user_ids)
    event_id = str(uuid.uuid4())  # disabling happens once (under the endpoint's lock): nothing to dedupe
    for user_id in dict.fromkeys(str(u) for u in people if u):
        tell(tenant_id=str(endpoint.tenant_id), user_id=user_id, kind="webhook.disabled", event_id=event_id,
             values={"url": endpoint.url, "link": link(f"/api/v1/webhooks/{endpoint.id}")},
             data={"webhook_id": str(endpoint.id), "url": endpoint.url})


def event_dead_lettered(dead, service: str) -> None:
    """A consumer gave up on one of the tenant's events: its owners and admins (as identity's events named them)."""
    if not dead.tenant_id:
        return  # not a lab's event: the operators' dead-letter queue and logs have it
    for user_id in dict.fromkeys(str(m.user_id) for m in directory.managers()):
        tell(tenant_id=str(dead.tenant_id), user_id=user_id, kind="event.dead_lettered", event_id=dead.event_id,
             values={"service": service, "type": dead.type, "event_id": dead.event_id,
                     "deliveries": dead.deliveries, "link": None},
             data={"service": service, "event_type": dead.type, "event_id": dead.event_id, "reason": dead.reason,
                   "deliveries": dead.deliveries})
