"""A client generated from the gateway's `/api/openapi.json` (openapi-python-client, pinned in
requirements/test.txt) runs the lab's main flow in local and SaaS mode (issue 12): log in, create an athlete, upload
zan_ramp (multipart), poll the import, read the analysis, override VT1, request a Russian report, poll it, download
the PDF. Nothing here speaks HTTP by hand: where the client cannot say or read something, the document is wrong.

The client is generated at test time from the running system's document, into a temporary folder, and never
committed: what it proves is that today's document describes today's server, so there is nothing to keep in step.
"""
from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from .conftest import OWNER_EMAIL, OWNER_PASSWORD, Api

ROOT = Path(__file__).resolve().parents[2]
ZAN = ROOT / "testdata" / "cpet" / "spiro" / "zan_ramp"
# The generator reads JSON bodies only unless told how to treat other content types: files come back as bytes.
CONFIG = """\
project_name_override: vo2_client
package_name_override: vo2_client
post_hooks: []
content_type_overrides:
  application/pdf: application/octet-stream
  application/zip: application/octet-stream
  application/vnd.openxmlformats-officedocument.wordprocessingml.document: application/octet-stream
  image/png: application/octet-stream
  image/svg+xml: application/octet-stream
  text/csv: application/octet-stream
"""


@pytest.fixture(scope="module")
def vo2_client(gateway, tmp_path_factory):
    """The generated package, imported (one per system: each is generated from that system's document)."""
    anonymous = Api(gateway)
    deadline = time.monotonic() + 60
    while "Not available" in (document := anonymous.get("/api/openapi.json").json())["info"]["description"]:
        assert time.monotonic() < deadline, document["info"]["description"]  # a service still starting
        time.sleep(1)
    folder = tmp_path_factory.mktemp("generated-client")
    (folder / "openapi.json").write_text(json.dumps(document))
    (folder / "config.yaml").write_text(CONFIG)
    generated = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--path",
                                str(folder / "openapi.json"), "--output-path", str(folder / "vo2_client"), "--meta",
                                "none", "--config", str(folder / "config.yaml"), "--fail-on-warning"],
                               capture_output=True, text=True, timeout=600)
    assert generated.returncode == 0, generated.stdout[-5000:] + generated.stderr[-3000:]
    for name in [m for m in sys.modules if m == "vo2_client" or m.startswith("vo2_client.")]:
        del sys.modules[name]  # the other system's generated package
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("vo2_client")
    finally:
        sys.path.remove(str(folder))


def op(package, tag: str, name: str):
    return importlib.import_module(f"vo2_client.api.{tag}.{name}")


def models(package):
    return importlib.import_module("vo2_client.models")


def poll(fetch, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while (state := fetch()).status.value not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.25)
    assert state.status.value == "done", state.to_dict()
    return state


def test_the_main_flow_through_the_generated_client(vo2_client, gateway):
    from vo2_client import AuthenticatedClient, Client
    from vo2_client.types import File

    m = models(vo2_client)
    tokens = op(vo2_client, "auth", "auth_login_create").sync(
        client=Client(base_url=gateway, raise_on_unexpected_status=True),
        body=m.LoginRequestRequest(email=OWNER_EMAIL, password=OWNER_PASSWORD))
    assert isinstance(tokens, m.TokenPair), tokens
    # follow_redirects: with S3 presigned downloads the file is a 307 to the object store (documented)
    api = AuthenticatedClient(base_url=gateway, token=tokens.access, raise_on_unexpected_status=True,
                              timeout=httpx.Timeout(60.0), follow_redirects=True)

    athlete = op(vo2_client, "athletes", "athletes_create").sync(client=api, body=m.AthleteRequest.from_dict(
        {"first_name": "Zan", "last_name": "Client", "sex": "male", "birth_date": "1998-10-04",
         "body_mass_kg": 66.0}), idempotency_key=uuid.uuid4().hex)
    assert isinstance(athlete, m.Athlete), athlete

    upload = op(vo2_client, "imports", "imports_create").sync_detailed(client=api, body=m.UploadRequest(
        file=File(payload=io.BytesIO(ZAN.read_bytes()), file_name=ZAN.name), athlete=athlete.id))
    assert upload.status_code == 202 and isinstance(upload.parsed, m.Import), upload
    assert upload.headers["location"].endswith(f"/api/v1/imports/{upload.parsed.id}")
    done = poll(lambda: op(vo2_client, "imports", "imports_retrieve").sync(client=api, id=upload.parsed.id))
    assert done.progress == 100 and done.test

    analysis = op(vo2_client, "tests", "tests_analysis_retrieve").sync(client=api, id=done.test)
    result = analysis.to_dict()
    assert result["test"] == str(done.test) and result["version"] >= 1, result
    vo2max = result["vo2max"]["vo2_ml_min"]
    assert 2500 < vo2max < 6000, vo2max  # zan_ramp: a trained young man
    new_vt1 = round(result["vt1"]["time_s"] - 60)

    # the analysis service's answer is typed too: the generated models read it (CpetFileResult, not a free dict)
    direct = op(vo2_client, "analysis", "cpet_file_api_v1_analysis_cpet_file_post").sync(
        client=api, body=m.BodyCpetFileApiV1AnalysisCpetFilePost(
            file=File(payload=io.BytesIO(ZAN.read_bytes()), file_name=ZAN.name)))
    assert isinstance(direct, m.CpetFileResult) and isinstance(direct.result, m.CpetResult), direct
    assert isinstance(direct.result.vt1, m.Threshold) and direct.result.status.value == "analyzed"
    assert direct.result.vo2max.vo2_ml_min == pytest.approx(vo2max, abs=1)

    patch_body = m.PatchedAnalysisPatchRequest.from_dict(
        {"overrides": {"vt1": {"time_s": new_vt1}}, "reason": "visual check of the V-slope"})
    changed = op(vo2_client, "tests", "tests_analysis_partial_update").sync(client=api, id=done.test,
                                                                            body=patch_body).to_dict()
    assert changed["version"] == result["version"] + 1 and changed["recomputed"] is True, changed
    assert changed["vt1"]["manual"] is True and changed["vt1"]["time_s"] == pytest.approx(new_vt1, abs=1)

    requested = op(vo2_client, "reports", "reports_create").sync_detailed(client=api, body=m.NewReportRequest.from_dict(
        {"test": str(done.test), "language": "ru", "template": "full"}))
    assert requested.status_code == 202 and requested.parsed.language.value == "ru", requested
    report = poll(lambda: op(vo2_client, "reports", "reports_retrieve").sync(client=api, id=requested.parsed.id))
    assert report.file and report.pages >= 1

    download = op(vo2_client, "reports", "reports_file_retrieve").sync_detailed(client=api, id=report.id)
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    pdf = download.content
    assert pdf.startswith(b"%PDF-") and len(pdf) == report.size_bytes
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "VO2max" in text or "МПК" in text, text[:500]  # the Russian report reads back
