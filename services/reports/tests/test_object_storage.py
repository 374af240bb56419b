"""Report files in S3 (the kit's S3 backend against moto in server mode, its own process over HTTP): rendered into the
bucket under the tenant's prefix, encrypted as asked, downloaded streamed by the service or, with presigned downloads,
by a 307 to a short-lived link; another tenant still gets 404, a reader role 403 stays 403 as before."""
from __future__ import annotations

import io
import uuid

import httpx
import pytest
from pypdf import PdfReader

from reports.documents import tasks
from servicekit import storage as st

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def s3_reports(settings, s3_server, monkeypatch):
    bucket = s3_server.make_bucket(f"reports-{uuid.uuid4().hex[:10]}")
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    settings.REPORT_STORAGE = "s3"
    settings.S3_BUCKET, settings.S3_ENDPOINT_URL, settings.S3_REGION = bucket, s3_server.endpoint_url, "us-east-1"
    settings.S3_PREFIX, settings.S3_SSE, settings.S3_PRESIGN_EXPIRY_S = "", "AES256", 120
    st.override("REPORTS_DIR", None)
    yield bucket


def render(caller, tenant, upstream, payload) -> str:
    test_id = upstream.add_test(tenant, payload)
    report = caller.post("/api/v1/reports/", {"test": test_id, "language": "en", "template": "athlete"},
                         format="json").json()
    assert tasks.render(report["id"], tenant) == "done"
    return report["id"]


def test_report_file_lives_in_the_bucket_and_is_streamed(caller, tenant_a, tenant_b, upstream, measurements,
                                                         s3_server, s3_reports, zan_payload, settings):
    settings.S3_PRESIGNED_DOWNLOADS = False
    owner = caller(tenant_a)
    report_id = render(owner, tenant_a, upstream, zan_payload)
    objects = s3_server.objects(s3_reports)
    assert list(objects) == [f"reports/reports/{tenant_a}/{report_id}.pdf"]  # <service>/<store>/<tenant>/...
    assert objects[f"reports/reports/{tenant_a}/{report_id}.pdf"]["ServerSideEncryption"] == "AES256"
    answer = owner.get(f"/api/v1/reports/{report_id}/file")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    pdf = b"".join(answer.streaming_content)
    assert int(answer["Content-Length"]) == len(pdf)
    assert "VO2" in " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    assert caller(tenant_b).get(f"/api/v1/reports/{report_id}/file").status_code == 404


def test_presigned_download_redirects_to_a_short_lived_link(caller, tenant_a, tenant_b, upstream, measurements,
                                                            s3_server, s3_reports, zan_payload, settings):
    settings.S3_PRESIGNED_DOWNLOADS = True
    owner = caller(tenant_a)
    report_id = render(owner, tenant_a, upstream, zan_payload)
    answer = owner.get(f"/api/v1/reports/{report_id}/file")
    assert answer.status_code == 307 and answer["Cache-Control"] == "no-store"
    link = answer["Location"]
    assert link.startswith(s3_server.endpoint_url) and "X-Amz-Expires=120" in link
    fetched = httpx.get(link)  # no credentials: the link alone, as a browser would follow it
    assert fetched.status_code == 200 and fetched.content.startswith(b"%PDF")
    assert fetched.headers["content-type"] == "application/pdf"
    assert f"{report_id}.pdf" in fetched.headers["content-disposition"]
    assert caller(tenant_b).get(f"/api/v1/reports/{report_id}/file").status_code == 404  # checked before linking


def test_the_link_route_answers_the_presigned_link_as_json(caller, tenant_a, tenant_b, upstream, measurements,
                                                          s3_server, s3_reports, zan_payload, settings):
    """What the console navigates to (its CSP keeps fetch on its own origin, so it cannot follow the 307)."""
    settings.S3_PRESIGNED_DOWNLOADS = True
    owner = caller(tenant_a)
    report_id = render(owner, tenant_a, upstream, zan_payload)
    answer = owner.get(f"/api/v1/reports/{report_id}/link")
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["expires_in"] == 120 and body["url"].startswith(s3_server.endpoint_url)
    fetched = httpx.get(body["url"])  # the link alone, no credentials
    assert fetched.status_code == 200 and fetched.content.startswith(b"%PDF")
    assert fetched.headers["content-disposition"].startswith("attachment;")
    assert caller(tenant_b).get(f"/api/v1/reports/{report_id}/link").status_code == 404
    settings.S3_PRESIGNED_DOWNLOADS = False  # streamed by the service: no link to give
    assert owner.get(f"/api/v1/reports/{report_id}/link").json() == {"url": None, "expires_in": None}


def test_a_file_gone_from_the_bucket_is_410(caller, tenant_a, upstream, measurements, s3_server, s3_reports,
                                            zan_payload):
    owner = caller(tenant_a)
    report_id = render(owner, tenant_a, upstream, zan_payload)
    s3_server.client().delete_object(Bucket=s3_reports, Key=f"reports/reports/{tenant_a}/{report_id}.pdf")
    answer = owner.get(f"/api/v1/reports/{report_id}/file")
    assert answer.status_code == 410 and answer.json()["type"].endswith("report-file-gone")
    gone = owner.get(f"/api/v1/reports/{report_id}/link")
    assert gone.status_code == 410 and gone.json()["type"].endswith("report-file-gone")
