"""The reports API: request (202), status, file, list; idempotency; the tenant and role matrix."""
import io
import uuid

import pytest
from pypdf import PdfReader

from reports.documents import tasks
from reports.documents.models import Report
from servicekit.tenancy import tenant_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def request(caller, test_id, language="ru", template="full", key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return caller.post("/api/v1/reports/", {"test": test_id, "language": language, "template": template},
                       format="json", **headers)


def test_request_render_poll_and_download(caller, tenant_a, upstream, measurements, storage, zan_payload):
    physiologist = caller(tenant_a, "physiologist")
    test_id = upstream.add_test(tenant_a, zan_payload)
    response = request(physiologist, test_id)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["progress"] == 0 and body["file"] is None
    assert response["Location"] == f"/api/v1/reports/{body['id']}"
    assert physiologist.get(f"/api/v1/reports/{body['id']}/file").status_code == 409
    not_ready = physiologist.get(f"/api/v1/reports/{body['id']}/link")
    assert not_ready.status_code == 409 and not_ready.json()["type"].endswith("report-not-ready")

    assert tasks.render(body["id"], tenant_a) == "done"

    status = physiologist.get(f"/api/v1/reports/{body['id']}").json()
    assert status["status"] == "done" and status["progress"] == 100 and status["pages"] == 3
    assert status["athlete"] is not None and len(status["sha256"]) == 64
    download = physiologist.get(status["file"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert "attachment" in download["Content-Disposition"] and ".pdf" in download["Content-Disposition"]
    pdf = b"".join(download.streaming_content)
    assert len(pdf) == status["size_bytes"]
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Иван Петров" in text and "Вентиляционные пороги" in text


def test_idempotency_key_replays_and_refuses_a_different_body(caller, tenant_a, upstream, measurements, zan_payload):
    owner = caller(tenant_a)
    test_id = upstream.add_test(tenant_a, zan_payload)
    first = request(owner, test_id, key="k-1")
    again = request(owner, test_id, key="k-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    other = request(owner, test_id, language="en", key="k-1")
    assert other.status_code == 422 and other["Content-Type"] == "application/problem+json"
    assert other.json()["type"] == "urn:vo2:problem:idempotency-key-reused"
    assert request(owner, test_id).json()["id"] != first.json()["id"]  # no key: a new report
    with tenant_transaction(tenant_a):
        assert Report.objects.count() == 2


def test_bad_input_is_a_problem_naming_the_field(caller, tenant_a):
    response = caller(tenant_a).post("/api/v1/reports/", {"test": "nope", "language": "de"}, format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"test", "language"}


def test_list_filters_and_cursor_pages(caller, tenant_a, upstream, measurements, zan_payload):
    owner = caller(tenant_a)
    t1, t2 = upstream.add_test(tenant_a, zan_payload), upstream.add_test(tenant_a, zan_payload)
    for _ in range(3):
        request(owner, t1)
    request(owner, t2, language="en")
    page = owner.get("/api/v1/reports/?page_size=2").json()
    assert len(page["results"]) == 2 and "cursor=" in page["next"]
    seen = [r["id"] for r in page["results"]]
    while page["next"]:
        page = owner.client.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
    assert len(set(seen)) == 4
    assert len(owner.get(f"/api/v1/reports/?test={t1}").json()["results"]) == 3
    assert [r["language"] for r in owner.get(f"/api/v1/reports/?test={t2}").json()["results"]] == ["en"]
    athlete_id = str(uuid.uuid4())
    with tenant_transaction(tenant_a):
        Report.objects.filter(test_id=t2).update(athlete_id=athlete_id)
    assert [r["test"] for r in owner.get(f"/api/v1/reports/?athlete={athlete_id}").json()["results"]] == [t2]


def test_another_tenant_gets_404_and_never_sees_the_report(caller, tenant_a, tenant_b, upstream, measurements,
                                                         storage, zan_payload):
    test_id = upstream.add_test(tenant_a, zan_payload)
    report = request(caller(tenant_a), test_id).json()
    tasks.render(report["id"], tenant_a)
    intruder = caller(tenant_b, "owner")
    assert intruder.get(f"/api/v1/reports/{report['id']}").status_code == 404
    assert intruder.get(f"/api/v1/reports/{report['id']}/file").status_code == 404
    assert intruder.get(f"/api/v1/reports/{report['id']}/link").status_code == 404
    assert intruder.get("/api/v1/reports/").json()["results"] == []
    assert intruder.get(f"/api/v1/reports/?test={test_id}").json()["results"] == []
    # tenant B asking for tenant A's test: measurements does not show it to B's token, so 404 at once
    refused = request(intruder, test_id)
    assert refused.status_code == 404 and refused["Content-Type"] == "application/problem+json"
    assert intruder.get("/api/v1/reports/").json()["results"] == []
    # and should such a request reach the renderer (an automatic one), it fails with the reason
    from reports.documents import actions

    with tenant_transaction(tenant_b):
        theirs, _ = actions.request_report(tenant_id=tenant_b, test_id=test_id, language="en", template="full")
    theirs = {"id": str(theirs.id)}
    assert tasks.render(theirs["id"], tenant_b) == "failed"
    failed = intruder.get(f"/api/v1/reports/{theirs['id']}").json()
    assert failed["error"]["code"] == "test-not-found"
    assert caller(tenant_a).get(f"/api/v1/reports/{report['id']}").json()["status"] == "done"


@pytest.mark.parametrize("role,may_request", [("owner", True), ("admin", True), ("physiologist", True),
                                              ("viewer", False), ("athlete", False)])
def test_who_may_request(caller, tenant_a, role, may_request, upstream, measurements, zan_payload):
    response = request(caller(tenant_a, role), upstream.add_test(tenant_a, zan_payload))
    assert response.status_code == (202 if may_request else 403)
    if not may_request:
        assert response["Content-Type"] == "application/problem+json"


def test_viewer_reads_and_athlete_sees_only_reports_of_their_own_tests(caller, tenant_a, upstream, measurements,
                                                                      storage, zan_payload):
    owner = caller(tenant_a)
    me = caller(tenant_a, "athlete")
    mine = upstream.add_test(tenant_a, zan_payload, user_id=me.user_id)
    other = upstream.add_test(tenant_a, zan_payload, user_id=str(uuid.uuid4()))
    r_mine, r_other = request(owner, mine).json(), request(owner, other).json()
    for r in (r_mine, r_other):
        tasks.render(r["id"], tenant_a)
    assert [r["id"] for r in me.get("/api/v1/reports/").json()["results"]] == [r_mine["id"]]
    assert me.get(f"/api/v1/reports/{r_mine['id']}/file").status_code == 200
    assert me.get(f"/api/v1/reports/{r_other['id']}").status_code == 404
    assert me.get(f"/api/v1/reports/{r_other['id']}/file").status_code == 404
    assert me.get(f"/api/v1/reports/{r_mine['id']}/link").json() == {"url": None, "expires_in": None}  # streamed
    assert me.get(f"/api/v1/reports/{r_other['id']}/link").status_code == 404
    viewer = caller(tenant_a, "viewer")
    assert len(viewer.get("/api/v1/reports/").json()["results"]) == 2
    assert viewer.get(f"/api/v1/reports/{r_other['id']}/file").status_code == 200


def test_tenantless_or_missing_token_is_refused(signing_keys):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    response = anonymous.get("/api/v1/reports/")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer " + signing_keys.token(tid=None))
    assert anonymous.get("/api/v1/reports/").status_code == 403


def test_tenant_settings_managers_write_staff_read(caller, tenant_a, tenant_b):
    admin = caller(tenant_a, "admin")
    assert admin.get("/api/v1/reports/settings").json() == {"auto_report": False, "language": "en",
                                                            "template": "full", "lab_name": "", "lab_address": "",
                                                            "lab_contact": "", "accent_color": "", "logo": None}
    saved = admin.put("/api/v1/reports/settings", {"auto_report": True, "language": "ru"}, format="json")
    assert saved.status_code == 200 and saved.json()["auto_report"] is True
    assert caller(tenant_a, "physiologist").get("/api/v1/reports/settings").json()["language"] == "ru"
    assert caller(tenant_a, "physiologist").put("/api/v1/reports/settings", {"auto_report": False},
                                                format="json").status_code == 403
    assert caller(tenant_a, "athlete").get("/api/v1/reports/settings").status_code == 403
    assert caller(tenant_b, "owner").get("/api/v1/reports/settings").json()["auto_report"] is False


def test_accepted_request_is_handed_to_the_queue_after_commit(caller, tenant_a, settings, monkeypatch, upstream,
                                                              measurements, zan_payload):
    from reports.documents import tasks as task_module

    sent = []
    monkeypatch.setattr(task_module.render.task, "apply_async", lambda args, **kwargs: sent.append(tuple(args)))
    settings.REPORT_DISPATCH = "celery"
    body = request(caller(tenant_a), upstream.add_test(tenant_a, zan_payload)).json()
    assert sent == [(body["id"], tenant_a)]


@pytest.mark.postgres_only  # SQLite runs writers one at a time: the two first writes cannot meet
def test_two_first_settings_writes_at_once_both_succeed_and_leave_one_row(caller, tenant_a):
    """The first PUT is inside its transaction with the new row inserted when the second arrives: the second waits
    for it on the one-per-tenant constraint, then writes the same row (an insert of its own was a 500)."""
    from reports.documents.models import ReportSettings
    from servicekit.testing import two_first_writes_at_once

    def put(body):
        return lambda: caller(tenant_a, "admin").put("/api/v1/reports/settings", body, format="json")

    first, second = two_first_writes_at_once(ReportSettings, put({"language": "ru"}), put({"template": "athlete"}))
    assert first.status_code == 200, first.content
    assert second.status_code == 200, second.content
    with tenant_transaction(tenant_a):
        [row] = ReportSettings.objects.all()
    assert (row.language, row.template) == ("ru", "athlete")  # the second wrote after the first, on its row
