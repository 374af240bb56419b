"""Issue 17 item 4 end to end: a SaaS system configured with S3 storage (moto in server mode, its own process over
HTTP; see README "Object storage") imports an upload, renders a report and serves the download through the gateway,
with every file in the bucket under its service's and tenant's prefix, encrypted, and none on the local disk."""
import io
import time

import pytest
from pypdf import PdfReader

from .test_tests_and_reports import FORMATS, upload, wait_for_import


@pytest.mark.saas  # local mode keeps files in folders (one computer); SaaS runs against the bucket
def test_upload_report_and_download_with_s3_storage(system, owner):
    tenant = owner.get("/api/v1/auth/me").json()["tenant"]["id"]
    athlete = owner.post("/api/v1/athletes/", {"first_name": "Ida", "last_name": "Bucket", "sex": "female",
                                               "birth_date": "1990-01-01", "body_mass_kg": 60.0}).json()
    state = wait_for_import(owner, upload(owner, athlete, FORMATS["zan"]).json()["id"])
    assert state["status"] == "done", state
    requested = owner.post("/api/v1/reports/", {"test": state["test"], "language": "en", "template": "athlete"})
    assert requested.status_code == 202, requested.text
    report_id = requested.json()["id"]
    deadline = time.monotonic() + 60
    while (report := owner.get(f"/api/v1/reports/{report_id}").json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, report
        time.sleep(0.2)
    assert report["status"] == "done", report
    pdf = owner.get(f"/api/v1/reports/{report_id}/file")  # streamed from the bucket by reports, through the gateway
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "Bucket" in "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)

    bucket = system.extra_env["S3_BUCKET"]
    objects = system.s3.objects(bucket)
    upload_key = f"measurements/uploads/{tenant}/{state['id']}/{FORMATS['zan'].name}"
    report_key = f"reports/reports/{tenant}/{report_id}.pdf"
    assert upload_key in objects and report_key in objects, sorted(objects)
    assert objects[upload_key]["ContentLength"] == FORMATS["zan"].stat().st_size
    assert objects[report_key]["ContentLength"] == len(pdf.content)
    assert {objects[k]["ServerSideEncryption"] for k in (upload_key, report_key)} == {"AES256"}
    on_disk = [p for p in system.data_dir.rglob("*")
               if p.is_file() and (p.name == FORMATS["zan"].name or p.suffix in (".pdf", ".docx"))]
    assert on_disk == []  # nothing went to the local folders
