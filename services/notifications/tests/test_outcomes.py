"""Notifications about a lab's work: import done/failed, analysis changed by someone else, report ready/failed,
each in-app and by e-mail as the user's preferences say, in their language, naming athlete and test, linking to
the public URL; preferences, unread count, mark all read, retention."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from servicekit.events import envelope, registry
from servicekit.events.consumer import EventConsumer
from servicekit.tenancy import tenant_transaction

from notifications.celery import app as celery_app
from notifications.inapp.models import Notification
from notifications.mail.models import EmailDelivery

from .test_mail import start_smtp, subject_of, text_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def smtp(settings, monkeypatch):
    from servicekit import testing

    port = testing.free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", port, False
    settings.PUBLIC_APP_URL = "https://lab.example.org"
    monkeypatch.setattr(celery_app.conf, "task_always_eager", True)  # test_mail proves the worker path
    inbox, controller = start_smtp(port)
    yield inbox
    controller.stop()


def deliver(event_type, data, tenant):
    raw = envelope.make(event_type, data, source="/vo2max/test", tenant_id=tenant)
    event = envelope.parse(json.dumps(raw))
    assert EventConsumer("notifications", registry.load()).process(event) == "handled"
    return event


def member(tenant, role="physiologist", language="en", name="Dr. Petrova"):
    user = str(uuid.uuid4())
    deliver("identity.user.created", {"user_id": user, "tenant_id": tenant, "email": f"{user[:8]}@lab.example.org",
                                      "roles": [role], "language": language, "name": name}, tenant)
    return user


def imported(tenant, by, athlete="Anna Ivanova", date="2026-11-30"):
    test_id, athlete_id = str(uuid.uuid4()), str(uuid.uuid4())
    deliver("measurements.test.imported", {"test_id": test_id, "athlete_id": athlete_id, "format": "zan",
                                           "sample_count": 900, "imported_by": by, "athlete_name": athlete,
                                           "date": date, "import_id": str(uuid.uuid4())}, tenant)
    return test_id, athlete_id


def notifications(tenant, user=None):
    with tenant_transaction(tenant):
        rows = Notification.objects.order_by("created_at")
        return list(rows.filter(user_id=user) if user else rows)


def test_import_done_in_app_in_the_users_language_naming_athlete_and_test(tenant_a, smtp):
    user = member(tenant_a, language="ru")
    test_id, _ = imported(tenant_a, user)
    [note] = notifications(tenant_a, user)
    assert note.kind == "import.done" and note.title == "Импорт завершён: Anna Ivanova"
    assert "тест от 2026-11-30" in note.body
    assert note.data["link"] == f"https://lab.example.org/api/v1/tests/{test_id}/analysis"
    assert smtp.messages == []                                                  # default: in-app only


def test_import_failed_in_app_and_by_email_with_the_reason(tenant_a, smtp):
    user = member(tenant_a)
    import_id = str(uuid.uuid4())
    deliver("measurements.import.failed", {"import_id": import_id, "athlete_id": str(uuid.uuid4()),
                                           "imported_by": user, "filename": "zan_ramp.txt", "stage": "parsing",
                                           "error_code": "malformed-zan", "detail": "line 117 has 44 values",
                                           "athlete_name": "Anna Ivanova"}, tenant_a)
    [note] = notifications(tenant_a, user)
    assert note.kind == "import.failed" and note.title == "Import failed: Anna Ivanova"
    assert "line 117 has 44 values" in note.body and "zan_ramp.txt" in note.body
    [(_, recipients, message)] = smtp.messages
    assert recipients == [f"{user[:8]}@lab.example.org"] and subject_of(message) == "Import failed: Anna Ivanova"
    assert f"https://lab.example.org/api/v1/imports/{import_id}" in text_of(message)


def test_report_ready_and_failed_tell_the_requester_by_preference(caller, tenant_a, smtp):
    user = member(tenant_a, language="ru")
    test_id, athlete_id = imported(tenant_a, user, athlete="Ivan Petrov")
    report = str(uuid.uuid4())
    deliver("reports.report.ready", {"report_id": report, "test_id": test_id, "athlete_id": athlete_id,
                                     "language": "ru", "requested_by": user,
                                     "download_path": f"/api/v1/reports/{report}/file"}, tenant_a)
    ready = notifications(tenant_a, user)[-1]
    assert ready.kind == "report.ready" and ready.title == "Отчёт готов: Ivan Petrov"
    assert ready.data["link"] == f"https://lab.example.org/api/v1/reports/{report}/file"
    [(_, _, message)] = smtp.messages                                           # default: in-app + e-mail
    assert subject_of(message) == "Отчёт готов: Ivan Petrov"
    # the requester turns e-mail off for reports; a failure is in-app by default
    me = caller(tenant_a, "physiologist", user_id=user)
    kinds = me.get("/api/v1/notifications/preferences").json()["kinds"]
    kinds["report.ready"]["email"] = False
    assert me.put("/api/v1/notifications/preferences", {"kinds": kinds}, format="json").status_code == 200
    deliver("reports.report.ready", {"report_id": str(uuid.uuid4()), "test_id": test_id, "athlete_id": athlete_id,
                                     "language": "ru", "requested_by": user}, tenant_a)
    deliver("reports.report.failed", {"report_id": str(uuid.uuid4()), "test_id": test_id, "requested_by": user,
                                      "error_code": "render-failed", "detail": "no samples"}, tenant_a)
    assert len(smtp.messages) == 1
    last = notifications(tenant_a, user)[-1]
    assert last.kind == "report.failed" and "no samples" in last.body and "Ivan Petrov" in last.title


def test_analysis_changed_by_someone_else_tells_the_importer_only(tenant_a, smtp):
    importer = member(tenant_a)
    colleague = member(tenant_a, name="Dr. Smirnov")
    test_id, athlete_id = imported(tenant_a, importer)
    base = {"test_id": test_id, "athlete_id": athlete_id, "overridden": True}
    deliver("measurements.test.analyzed", {**base, "revision": 2, "requested_by": importer}, tenant_a)
    assert [n.kind for n in notifications(tenant_a, importer)] == ["import.done"]      # their own change
    deliver("measurements.test.analyzed", {**base, "revision": 3, "requested_by": colleague}, tenant_a)
    changed = notifications(tenant_a, importer)[-1]
    assert changed.kind == "analysis.changed" and "Dr. Smirnov" in changed.body and "revision 3" in changed.body
    assert notifications(tenant_a, colleague) == []


def test_preferences_defaults_changes_and_bad_input(caller, tenant_a, tenant_b):
    me = caller(tenant_a, "viewer")
    doc = me.get("/api/v1/notifications/preferences").json()
    assert doc["language"] is None
    assert doc["kinds"]["report.ready"] == {"in_app": True, "email": True}
    assert doc["kinds"]["import.failed"] == {"in_app": True, "email": True}
    assert doc["kinds"]["import.done"] == {"in_app": True, "email": False}
    changed = me.put("/api/v1/notifications/preferences",
                     {"language": "ru", "kinds": {"import.done": {"in_app": False, "email": True}}}, format="json")
    assert changed.status_code == 200 and changed.json()["language"] == "ru"
    assert changed.json()["kinds"]["import.done"] == {"in_app": False, "email": True}
    assert changed.json()["kinds"]["report.ready"] == {"in_app": True, "email": True}
    for bad in [{"kinds": {"billing": {"in_app": True, "email": True}}}, {"kinds": {"import.done": {"in_app": 1}}},
                {"language": "de", "kinds": {}}]:
        response = me.put("/api/v1/notifications/preferences", bad, format="json")
        assert response.status_code == 400 and response["Content-Type"] == "application/problem+json", bad
    # someone else's (same tenant or the same user id in another tenant) are their own
    assert caller(tenant_a, "owner").get("/api/v1/notifications/preferences").json()["language"] is None
    other = caller(tenant_b, "viewer", user_id=me.user_id)
    assert other.get("/api/v1/notifications/preferences").json()["kinds"]["import.done"]["in_app"] is True


def test_unread_count_and_mark_all_read(caller, tenant_a, smtp):
    user = member(tenant_a)
    imported(tenant_a, user)
    imported(tenant_a, user)
    someone = member(tenant_a)
    imported(tenant_a, someone)
    me = caller(tenant_a, "physiologist", user_id=user)
    assert me.get("/api/v1/notifications/unread-count").json() == {"unread": 2}
    assert me.post("/api/v1/notifications/read-all").json() == {"marked": 2}
    assert me.get("/api/v1/notifications/unread-count").json() == {"unread": 0}
    assert caller(tenant_a, "physiologist", user_id=someone).get(
        "/api/v1/notifications/unread-count").json() == {"unread": 1}


def test_old_notifications_are_removed_by_the_periodic_job(tenant_a, tenant_b, settings, smtp):
    settings.NOTIFICATION_RETENTION_DAYS = 30
    a, b = member(tenant_a), member(tenant_b)
    imported(tenant_a, a)
    imported(tenant_a, a)
    imported(tenant_b, b)
    old = notifications(tenant_a, a)[0]
    with tenant_transaction(tenant_a):
        Notification.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(days=31))
    with tenant_transaction(tenant_b):
        Notification.objects.update(created_at=old.created_at - dt.timedelta(days=40))
    from servicekit import periodic

    assert periodic.run("notifications.inapp.remove_old") == 2  # as the beat's message runs it: under its lock
    assert len(notifications(tenant_a, a)) == 1 and notifications(tenant_b) == []
    assert periodic.run("notifications.inapp.remove_old") == 0  # idempotent


def test_a_disabled_webhook_tells_the_tenants_owners_and_admins(caller, tenant_a, settings, smtp):
    from notifications.webhooks import actions
    from notifications.webhooks.models import Endpoint

    owner, admin, physio = member(tenant_a, "owner"), member(tenant_a, "admin", language="ru"), member(tenant_a)
    settings.WEBHOOK_PUBLIC_ONLY = False
    made = caller(tenant_a, "admin", user_id=admin).post(
        "/api/v1/webhooks/", {"url": "http://127.0.0.1:9/", "events": ["*"]}, format="json").json()
    with tenant_transaction(tenant_a):
        endpoint = Endpoint.objects.get(pk=made["id"])
        actions._disable_if_failing(endpoint, since=endpoint.created_at)
    told = {str(n.user_id): n for n in notifications(tenant_a) if n.kind == "webhook.disabled"}
    assert set(told) == {owner, admin}
    assert told[admin].title == "Вебхук отключён" and told[owner].title == "Webhook endpoint disabled"
    assert told[owner].data["link"] == f"https://lab.example.org/api/v1/webhooks/{made['id']}"
    assert physio not in told
    with tenant_transaction(tenant_a):
        assert not EmailDelivery.objects.filter(kind__startswith="webhook.disabled").exists()  # in-app by default


def test_the_beat_sends_the_sweep_the_retention_and_the_kits_jobs_to_the_worker(settings):
    """Periodic work moved from a timer thread in every worker to one beat (servicekit.periodic)."""
    celery_app.loader.import_default_modules()
    schedule = celery_app.conf.beat_schedule
    assert set(schedule) == {"notifications.webhooks.sweep", "notifications.inapp.remove_old", "events.prune",
                             "events.dead_letters"}
    assert set(schedule) <= set(celery_app.tasks)  # each is a task the worker runs
    assert schedule["notifications.webhooks.sweep"]["schedule"] == settings.WEBHOOK_SWEEP_SECONDS
    assert celery_app.conf.beat_schedule_filename.endswith("beat-notifications")


def test_progress_events_keep_each_job_s_latest_state_for_its_user(tenant_a):
    """measurements.import.progressed / reports.report.progressed and the done/failed events keep one progress row per
    import or report, for the uploader or requester, never moving back; an automatic report's has nobody."""
    from notifications.inapp.models import Progress

    user, imp, athlete = member(tenant_a), str(uuid.uuid4()), str(uuid.uuid4())
    for stage, progress in (("parsing", 10), ("storing", 40)):
        deliver("measurements.import.progressed", {"import_id": imp, "athlete_id": athlete, "imported_by": user,
                                                   "stage": stage, "progress": progress, "generation": 1}, tenant_a)
    late = {"import_id": imp, "athlete_id": athlete, "imported_by": user, "stage": "parsing", "progress": 10,
            "generation": 1}
    deliver("measurements.import.progressed", late, tenant_a)                 # late: ignored
    with tenant_transaction(tenant_a):
        row = Progress.objects.get(subject_id=imp)
    assert (row.status, row.stage, row.progress, str(row.user_id)) == ("running", "storing", 40, user)
    deliver("measurements.test.imported", {"test_id": str(uuid.uuid4()), "athlete_id": athlete, "format": "zan",
                                           "sample_count": 900, "imported_by": user, "import_id": imp}, tenant_a)
    report = str(uuid.uuid4())
    deliver("reports.report.progressed", {"report_id": report, "test_id": str(uuid.uuid4()), "requested_by": user,
                                          "stage": "rendering", "progress": 50, "generation": 1}, tenant_a)
    deliver("reports.report.failed", {"report_id": report, "test_id": str(uuid.uuid4()), "requested_by": user,
                                      "error_code": "render-failed"}, tenant_a)
    deliver("reports.report.progressed", {"report_id": str(uuid.uuid4()), "test_id": str(uuid.uuid4()),
                                          "requested_by": "00000000-0000-0000-0000-000000000000",
                                          "stage": "rendering", "progress": 10, "generation": 1}, tenant_a)
    with tenant_transaction(tenant_a):
        states = {str(p.subject_id): (p.subject, p.status, p.progress) for p in Progress.objects.all()}
    assert states == {imp: ("import", "done", 100), report: ("report", "failed", 50)}

def test_dead_letters_waiting_are_reported(settings, caplog):
    """The kit's dead-letter job counts the service's dead-letter queue on the real broker and logs an ERROR."""
    import logging

    from kombu import Producer

    from servicekit import periodic
    from servicekit.events import broker

    with broker.connection() as conn:  # clear what earlier tests left there
        channel = conn.channel()
        broker.DEAD_LETTER_EXCHANGE(channel).declare()
        queue = broker.dead_letter_queue("notifications")(channel)
        queue.declare()
        queue.purge()
        for n in range(2):
            Producer(channel).publish({"n": n}, exchange="", routing_key=broker.dead_letter_queue_name("notifications"),
                                      serializer="json")
        channel.close()
    with caplog.at_level(logging.ERROR, logger="vo2.periodic"):
        assert periodic.run("events.dead_letters") == 2
    assert "dead letters waiting: 2 in notifications.events.dlq" in caplog.text
    with broker.connection() as conn:
        channel = conn.channel()
        broker.dead_letter_queue("notifications")(channel).purge()
        channel.close()
    caplog.clear()
    assert periodic.run("events.dead_letters") == 0 and "dead letters waiting" not in caplog.text
