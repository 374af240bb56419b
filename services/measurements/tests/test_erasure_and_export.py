"""Issue 18: an athlete's (or test's) deletion is a request every service confirms, re-sent while unconfirmed; a
tenant deleted at identity is erased here whole; an athlete's data export as a ZIP. PostgreSQL (RLS as the
application role) and SQLite."""
import io
import json
import threading
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from servicekit.events import envelope
from servicekit.events.consumer import EventConsumer
from servicekit.events.registry import load as load_handlers
from servicekit.tenancy import tenant_transaction

from .conftest import ATHLETE, CPET, db_count, outbox, upload

pytestmark = pytest.mark.django_db(transaction=True)


def imported_test(client, athlete_id) -> str:
    response = upload(client, athlete_id, CPET / "spiro" / "zan_ramp")
    assert response.status_code == 202, response.content
    done = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert done["status"] == "done", done
    return done["test"]


def event(event_type, data, tenant_id, source="/vo2max/reports"):
    return envelope.parse(json.dumps(envelope.make(event_type, data, source=source, tenant_id=tenant_id)))


@pytest.fixture
def consumer():
    return EventConsumer("measurements", load_handlers())


def test_an_athletes_deletion_is_confirmed_by_every_service_once_each(caller, tenant_a, athlete, pipeline, consumer):
    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    assert owner.delete(f"/api/v1/athletes/{athlete['id']}").status_code == 204

    [(_, request)] = outbox("measurements.athlete.deleted")
    assert request["athlete_id"] == athlete["id"] and request["test_ids"] == [test_id]
    assert request["deleted_by"] == owner.user_id and request["reason"] == "user"
    # the tests' own events still go out (webhooks), marked as part of the athlete's deletion
    assert [d["reason"] for _, d in outbox("measurements.test.deleted")] == ["athlete_deleted"]

    url = f"/api/v1/athletes/{athlete['id']}/deletion"
    body = owner.get(url).json()
    assert body["status"] == "pending" and body["scope"] == "athlete" and body["subject"] == athlete["id"]
    own, reports, notifications = body["services"]
    assert own["service"] == "measurements" and own["status"] == "confirmed"
    assert own["removed"]["tests"] == 1 and own["removed"]["samples"] > 500 and own["removed"]["imports"] == 1
    assert own["removed"]["results"] == 1
    assert (reports["service"], reports["status"]) == ("reports", "pending")
    assert (notifications["service"], notifications["status"]) == ("notifications", "pending")

    subject = {"scope": "athlete", "subject_id": athlete["id"]}
    confirmed = event("reports.deletion.confirmed", {**subject, "removed": {"reports": 2, "files": 2}}, tenant_a)
    assert consumer.process(confirmed) == "handled"
    assert consumer.process(confirmed) == "duplicate"  # a redelivery is a no-op
    again = event("reports.deletion.confirmed", {**subject, "removed": {"reports": 0, "files": 0}}, tenant_a)
    assert consumer.process(again) == "handled"  # a confirmation of a repeated request only counts
    body = owner.get(url).json()
    assert body["status"] == "pending"
    assert body["services"][1]["removed"] == {"reports": 2, "files": 2} and body["services"][1]["confirmations"] == 2
    assert consumer.process(event("notifications.deletion.confirmed", {**subject, "removed": {"notifications": 3}},
                                  tenant_a, source="/vo2max/notifications")) == "handled"
    body = owner.get(url).json()
    assert body["status"] == "confirmed" and body["completed_at"]
    assert [s["status"] for s in body["services"]] == ["confirmed"] * 3
    from measurements.erasure.models import DeletionDue

    assert DeletionDue.objects.count() == 0  # nothing left to re-send

    # another tenant's confirmation of the same id changes nothing here
    assert consumer.process(event("reports.deletion.confirmed", subject, tenant_b := str(uuid.uuid4()))) == "handled"
    assert owner.get(url).json()["services"][1]["confirmations"] == 2


def test_the_events_about_a_deleted_athlete_leave_the_outbox_sent_or_not(caller, tenant_a, athlete, pipeline):
    """servicekit.erasure.forget_events in the deleting transaction: the athlete's import and analysis events go from
    measurements' outbox whether the relay sent them (their payloads copied names and results) or not yet (they would
    carry them to services being told to erase them); the deletion's own events go out; other athletes' stay."""
    from django.utils import timezone

    from servicekit.events.models import OutboxEvent

    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    other = owner.post("/api/v1/athletes/", {**ATHLETE, "last_name": "Kept"}, format="json").json()
    other_test = imported_test(owner, other["id"])

    def naming(value):
        return OutboxEvent.objects.filter(body__contains=value).exclude(type__endswith=".deleted")
    assert naming(test_id).count() >= 2 and naming(other_test).exists()
    first = naming(test_id).order_by("id").first()  # the relay sent the oldest, the rest wait
    OutboxEvent.objects.filter(pk=first.pk).update(sent_at=timezone.now())
    about = naming(test_id) | naming(athlete["id"])  # progress events name the athlete only
    waiting = about.filter(sent_at__isnull=True).count()
    assert waiting >= 2
    kept = set(naming(other_test).values_list("pk", flat=True))

    assert owner.delete(f"/api/v1/athletes/{athlete['id']}").status_code == 204
    assert not naming(test_id).exists() and not naming(athlete["id"]).exists()
    assert set(naming(other_test).values_list("pk", flat=True)) == kept
    assert len(outbox("measurements.athlete.deleted")) == 1  # the request, and the test's own deletion, go out
    assert [d["test_id"] for _, d in outbox("measurements.test.deleted")] == [test_id]
    removed = owner.get(f"/api/v1/athletes/{athlete['id']}/deletion").json()["services"][0]["removed"]
    assert (removed["sent_events"], removed["unsent_events"]) == (1, waiting)


def test_an_unconfirmed_request_is_sent_again_until_confirmed(caller, tenant_a, athlete, settings, consumer):
    from measurements.erasure import tasks
    from measurements.erasure.models import DeletionDue

    settings.DELETION_CONFIRM_WITHIN_S = 0  # due at once
    owner = caller(tenant_a)
    assert owner.delete(f"/api/v1/athletes/{athlete['id']}").status_code == 204
    assert tasks.reemit_unconfirmed() == 1
    sent = [d for _, d in outbox("measurements.athlete.deleted")]
    assert [d.get("reemitted") for d in sent] == [None, 1] and sent[1]["athlete_id"] == athlete["id"]
    assert owner.get(f"/api/v1/athletes/{athlete['id']}/deletion").json()["emitted"] == 2
    for service in ("reports", "notifications"):
        consumer.process(event(f"{service}.deletion.confirmed", {"scope": "athlete", "subject_id": athlete["id"]},
                               tenant_a, source=f"/vo2max/{service}"))
    assert tasks.reemit_unconfirmed() == 0 and DeletionDue.objects.count() == 0
    assert len(outbox("measurements.athlete.deleted")) == 2


def test_a_tests_own_deletion_has_its_resource(caller, tenant_a, athlete, pipeline, consumer):
    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    assert caller(tenant_a, "physiologist").delete(f"/api/v1/tests/{test_id}").status_code == 204
    body = owner.get(f"/api/v1/tests/{test_id}/deletion").json()
    assert body["scope"] == "test" and body["status"] == "pending" and body["services"][0]["removed"]["tests"] == 1
    for service in ("reports", "notifications"):
        consumer.process(event(f"{service}.deletion.confirmed", {"scope": "test", "subject_id": test_id}, tenant_a,
                               source=f"/vo2max/{service}"))
    assert owner.get(f"/api/v1/tests/{test_id}/deletion").json()["status"] == "confirmed"
    assert outbox("measurements.athlete.deleted") == []


@pytest.mark.parametrize("route", ["athletes", "tests"])
def test_deletion_resources_tenant_and_role_matrix(caller, tenant_a, tenant_b, athlete, route):
    owner = caller(tenant_a)
    if route == "tests":
        subject = owner.post("/api/v1/tests/", {"athlete": athlete["id"], "modality": "cycling", "date": None},
                             format="json").json()["id"]
        assert owner.delete(f"/api/v1/tests/{subject}").status_code == 204
    else:
        subject = athlete["id"]
        assert owner.delete(f"/api/v1/athletes/{subject}").status_code == 204
    url = f"/api/v1/{route}/{subject}/deletion"
    for role in ("owner", "admin", "physiologist"):
        assert caller(tenant_a, role).get(url).status_code == 200, role
    for role in ("viewer", "athlete"):
        response = caller(tenant_a, role).get(url)
        assert response.status_code == 403 and response["Content-Type"].startswith("application/problem+json")
    assert caller(tenant_b).get(url).status_code == 404  # another tenant learns nothing
    assert owner.get(f"/api/v1/{route}/{uuid.uuid4()}/deletion").status_code == 404
    assert owner.post(url).status_code in (403, 405)


def test_a_deleted_tenant_is_erased_here_whole_and_confirmed(caller, tenant_a, tenant_b, athlete, pipeline, consumer,
                                                             settings):
    owner = caller(tenant_a)
    imported_test(owner, athlete["id"])
    other = caller(tenant_b).post("/api/v1/athletes/", {"first_name": "B", "last_name": "Other", "sex": "male"},
                                  format="json").json()
    uploads = Path(settings.UPLOADS_DIR) / tenant_a
    assert uploads.is_dir()
    from measurements.athletes.models import Athlete
    from measurements.exercise_tests.models import ExerciseTest, Sample
    from measurements.imports.models import Import
    from measurements.results.models import AnalysisAudit, AnalysisResult

    deleted = event("identity.tenant.deleted", {"tenant_id": tenant_a}, tenant_a, source="/vo2max/identity")
    assert consumer.process(deleted) == "handled"
    for model in (Athlete, ExerciseTest, Sample, Import, AnalysisResult, AnalysisAudit):
        assert db_count(tenant_a, model) == 0, model
    assert not uploads.exists()
    assert db_count(tenant_b, Athlete, pk=other["id"]) == 1  # another tenant untouched
    [(_, confirmation)] = outbox("measurements.deletion.confirmed")
    assert confirmation["scope"] == "tenant" and confirmation["subject_id"] == tenant_a
    assert confirmation["removed"]["athlete"] == 1 and confirmation["removed"]["sample"] > 500
    assert consumer.process(deleted) == "duplicate"
    # identity asking again: nothing left to remove, confirmed again
    assert consumer.process(event("identity.tenant.deleted", {"tenant_id": tenant_a, "reemitted": 1}, tenant_a,
                                  source="/vo2max/identity")) == "handled"
    again = outbox("measurements.deletion.confirmed")[1][1]
    assert again["removed"] == {}


# ---- the export ------------------------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n% a rendered report\n%%EOF\n"


class ReportsStandIn:
    """The reports service's two read routes an export uses (list the athlete's finished reports, download one),
    answering only a service token for the tenant: the real service is in the end-to-end test."""

    def __init__(self, tenant_id, report_ids):
        self.tenant_id, self.report_ids, self.seen = tenant_id, report_ids, []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                claims = jwt.decode(self.headers["Authorization"].split()[1], options={"verify_signature": False})
                url = urlsplit(self.path)
                stand_in.seen.append((url.path, parse_qs(url.query), claims["tid"], claims["roles"]))
                if claims["tid"] != stand_in.tenant_id or "service" not in claims["roles"]:
                    return self.answer(404, b'{"detail": "no"}')
                if url.path.endswith("/file"):
                    return self.answer(200, PDF, "application/pdf")
                query = parse_qs(url.query)
                ids = stand_in.report_ids
                page = ids[:1] if "cursor" not in query else ids[1:]
                body = {"results": [{"id": r, "test": None, "format": "pdf", "language": "ru", "template": "full"}
                                    for r in page],
                        "next": f"http://reports.internal{url.path}?{url.query}&cursor=2" if "cursor" not in query
                        else None}
                return self.answer(200, json.dumps(body).encode())

            def answer(self, status, body, content_type="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def exports(settings, tmp_path, pipeline, tenant_a):
    settings.EXPORTS_DIR = str(tmp_path / "exports")
    settings.EXPORT_DISPATCH = "inline"
    stand_in = ReportsStandIn(tenant_a, [str(uuid.uuid4()), str(uuid.uuid4())])
    settings.REPORTS_URL = stand_in.url
    yield stand_in
    stand_in.close()


def test_an_athletes_export_holds_every_part_and_expires(caller, tenant_a, athlete, exports, settings):
    owner = caller(tenant_a)
    test_id = imported_test(owner, athlete["id"])
    owner.patch(f"/api/v1/tests/{test_id}/analysis", {"exclude": [[100, 120]], "reason": "a cough"}, format="json")
    steps = [{"intensity": 100 + 25 * i, "lactate": round(1.0 + 0.1 * i * i, 2), "heart_rate": 110 + 8 * i}
             for i in range(7)]
    assert owner.post(f"/api/v1/tests/{test_id}/lactate-steps", steps, format="json").status_code == 200

    started = owner.post(f"/api/v1/athletes/{athlete['id']}/export", HTTP_IDEMPOTENCY_KEY="export-1")
    assert started.status_code == 202, started.content
    assert set(started.json()) == {"id", "status"}
    export_id = started.json()["id"]
    assert started["Location"].endswith(f"/api/v1/athletes/{athlete['id']}/export/{export_id}")
    replay = owner.post(f"/api/v1/athletes/{athlete['id']}/export", HTTP_IDEMPOTENCY_KEY="export-1")
    assert replay.status_code == 202 and replay.json()["id"] == export_id and replay["Idempotent-Replayed"] == "true"

    status = owner.get(f"/api/v1/athletes/{athlete['id']}/export/{export_id}").json()
    assert status["status"] == "done" and status["progress"] == 100 and status["expires_at"], status
    assert status["contents"]["tests"] == 1 and status["contents"]["reports"] == 2
    # the reports came with a service token for this tenant, both pages followed
    assert [p for p, *_ in exports.seen].count("/api/v1/reports/") == 2
    assert all(tid == tenant_a and "service" in roles for _, _, tid, roles in exports.seen)
    assert exports.seen[0][1]["athlete"] == [athlete["id"]] and exports.seen[0][1]["status"] == ["done"]

    download = owner.get(status["file"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = set(z.namelist())
    folder = next(n.rsplit("/", 1)[0] for n in names if n.endswith("/test.json"))
    assert {"README.txt", "athlete.json", "imports.json", "reports/reports.json", f"{folder}/test.json",
            f"{folder}/samples.csv", f"{folder}/lactate_steps.csv", f"{folder}/results.json",
            f"{folder}/overrides.json"} <= names
    assert json.loads(z.read("athlete.json"))["last_name"] == athlete["last_name"]
    assert json.loads(z.read(f"{folder}/test.json"))["id"] == test_id
    samples = z.read(f"{folder}/samples.csv").decode().splitlines()
    assert samples[0].startswith("time_s,vo2_ml_min,vco2_ml_min") and len(samples) - 1 == status["contents"]["samples"]
    lactate = z.read(f"{folder}/lactate_steps.csv").decode().splitlines()
    assert lactate[0] == "stage,intensity,lactate,heart_rate,rpe,length_s" and len(lactate) == 8
    results = json.loads(z.read(f"{folder}/results.json"))
    assert [r["version"] for r in results] == [3, 2, 1] and results[0]["result"]["vo2max"]["vo2_ml_min"] > 1000
    assert results[0]["lactate"] is not None
    overrides = json.loads(z.read(f"{folder}/overrides.json"))
    assert overrides["current"]["exclude"] == [[100, 120]]
    change = next(h for h in overrides["history"] if h["action"] == "override")
    assert change["changes"]["reason"] == "a cough" and change["by"] == owner.user_id
    [imp] = json.loads(z.read("imports.json"))
    assert z.read(imp["file"]) == (CPET / "spiro" / "zan_ramp").read_bytes()
    assert [r["file"] for r in json.loads(z.read("reports/reports.json"))] == \
        [f"reports/{r}.pdf" for r in exports.report_ids]
    assert all(z.read(f"reports/{r}.pdf") == PDF for r in exports.report_ids)
    readme = z.read("README.txt").decode()
    assert "samples.csv" in readme and "overrides.json" in readme and athlete["id"] in readme

    # past its time: 410, and the periodic job removes the file
    from django.utils import timezone

    from measurements import tasks
    from measurements.exports.models import AthleteExport

    with tenant_transaction(tenant_a):
        AthleteExport.objects.filter(pk=export_id).update(expires_at=timezone.now())
    from measurements.exports.models import ExportExpiry

    ExportExpiry.objects.filter(export_id=export_id).update(expires_at=timezone.now())
    gone = owner.get(status["file"])
    assert gone.status_code == 410 and gone.json()["type"].endswith(":export-expired")
    assert owner.get(f"/api/v1/athletes/{athlete['id']}/export/{export_id}").json()["status"] == "expired"
    assert "remove-expired-exports" in tasks.tick()
    assert not any(Path(settings.EXPORTS_DIR).rglob("*.zip"))


def test_an_export_not_ready_is_409_and_goes_with_its_athlete(caller, tenant_a, athlete, exports, settings):
    settings.EXPORT_DISPATCH = "none"
    owner = caller(tenant_a)
    export_id = owner.post(f"/api/v1/athletes/{athlete['id']}/export").json()["id"]
    body = owner.get(f"/api/v1/athletes/{athlete['id']}/export/{export_id}").json()
    assert body["status"] == "queued" and body["file"] is None
    early = owner.get(f"/api/v1/athletes/{athlete['id']}/export/{export_id}/file")
    assert early.status_code == 409 and early.json()["type"].endswith(":export-not-ready")
    from measurements.exports import tasks

    assert tasks.run_export.run(export_id, tenant_a) == "done"
    assert any(Path(settings.EXPORTS_DIR).rglob("*.zip"))
    assert owner.delete(f"/api/v1/athletes/{athlete['id']}").status_code == 204
    assert not any(Path(settings.EXPORTS_DIR).rglob("*.zip"))
    assert tasks.run_export.run(export_id, tenant_a) == "finished or gone"  # a late redelivery


def test_an_export_waits_for_reports_and_fails_after_its_retries(caller, tenant_a, athlete, exports, settings):
    from servicekit import jobs

    from measurements.exports import tasks

    settings.EXPORT_DISPATCH = "none"
    settings.REPORTS_URL = "http://127.0.0.1:9"  # nothing listens
    owner = caller(tenant_a)
    export_id = owner.post(f"/api/v1/athletes/{athlete['id']}/export").json()["id"]
    with pytest.raises(jobs.RetryLater):
        tasks.run_export.run(export_id, tenant_a, final=False)
    assert tasks.run_export.run(export_id, tenant_a, final=True) == "failed"
    body = owner.get(f"/api/v1/athletes/{athlete['id']}/export/{export_id}").json()
    assert body["status"] == "failed" and body["error"]["type"].endswith(":unavailable") and body["file"] is None


def test_export_routes_tenant_and_role_matrix(caller, tenant_a, tenant_b, athlete, exports, settings, directory):
    settings.EXPORT_DISPATCH = "none"
    own_user = directory.add(str(uuid.uuid4()), role="athlete", tenant_id=tenant_a)
    owner = caller(tenant_a)
    linked = owner.patch(f"/api/v1/athletes/{athlete['id']}", {"user_id": own_user}, format="json")
    assert linked.status_code == 200, linked.content
    base = f"/api/v1/athletes/{athlete['id']}/export"
    for role in ("owner", "admin", "physiologist"):
        assert caller(tenant_a, role).post(base).status_code == 202, role
    himself = caller(tenant_a, "athlete", user_id=own_user)
    created = himself.post(base)
    assert created.status_code == 202
    export = f"{base}/{created.json()['id']}"
    assert himself.get(export).status_code == 200
    assert himself.get(f"{export}/file").status_code == 409
    stranger = caller(tenant_a, "athlete")  # an athlete user, not this athlete
    for path in (export, f"{export}/file"):
        assert stranger.get(path).status_code == 404
        assert caller(tenant_b).get(path).status_code == 404
        viewer = caller(tenant_a, "viewer").get(path)
        assert viewer.status_code == 403 and viewer["Content-Type"].startswith("application/problem+json")
    assert stranger.post(base).status_code == 404
    assert caller(tenant_b).post(base).status_code == 404
    assert caller(tenant_a, "viewer").post(base).status_code == 403
    assert owner.get(f"{base}/{uuid.uuid4()}").status_code == 404
    bad_key = owner.post(base, HTTP_IDEMPOTENCY_KEY="a key with spaces")
    assert bad_key.status_code == 400


def test_every_process_registers_the_deletion_hooks_at_start():
    """A process that has only set Django up (gunicorn's web, the worker, the consumer) erases through the same hooks:
    they register in the apps' ready(), not on the import of some view (SaaS web processes import no consumer)."""
    import os
    import subprocess
    import sys

    code = ("import django; django.setup(); from measurements.athletes import actions as a; "
            "from measurements.exercise_tests import actions as t; "
            "print([h.__name__ for h in a._before_delete]); print([h.__name__ for h in t._before_delete])")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "measurements.settings", "VO2_MODE": "local",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("DATABASE_URL", None)
    athlete_hooks, test_hooks = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                               check=True).stdout.splitlines()[-2:]
    assert athlete_hooks.startswith("['_request_the_athletes_erasure'")  # first: it names the athlete's tests
    assert "_remove_the_athletes_exports" in athlete_hooks and "_remove_the_athletes_uploads" in athlete_hooks
    assert "_request_the_tests_erasure" in test_hooks and "_anonymise_the_tests_audit" in test_hooks
