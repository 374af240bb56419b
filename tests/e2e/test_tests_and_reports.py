"""The lab's daily work end to end: upload each cart format, the import runs in the background, the analysis is
stored, the physiologist overrides VT1 and the zones follow, the analyzed event goes out, the PDF report is made."""
import io
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pypdf import PdfReader

from .probe import EventProbe

ROOT = Path(__file__).resolve().parents[2]
CPET = ROOT / "testdata" / "cpet"
FORMATS = {  # one real export per cart format, with the format the analysis service must detect
    "zan": CPET / "spiro/zan_ramp",
    "cortex-xml": CPET / "spiro/cortex.xml",
    "cortex-xlsx": CPET / "whippr/step_cortex.xlsx",
    "cosmed": CPET / "whippr/ramp_cosmed.xlsx",
    "vyntus": CPET / "spiro/vyntus.txt",
    "medgraphics": CPET / "gasexchanger/Anton_vo2max.txt",
    "oxynet": CPET / "oxynet/oxynet_test_data_ET_dataset001_bbb.csv",
    "generic": CPET / "gasexchanger/metflex101_constant_unavg55.csv",
}


def engine_vo2max(path: Path) -> float | None:
    """What the analysis engine computes for this file, in a separate process (same engine, no services)."""
    code = ("import json,sys; sys.path.insert(0, sys.argv[1]);"
            "from analysis.formats import read_export; from analysis.engine import analyze_cpet;"
            "p = read_export(open(sys.argv[2], 'rb').read(), sys.argv[2]); w = p.to_wire();"
            "r = analyze_cpet(w['samples'], {'body_mass_kg': 70.0, 'age': 30, 'sex': 'male'});"
            "print(json.dumps((r.get('vo2max') or {}).get('vo2_ml_min')))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "services/analysis"), str(path)], check=True,
                         capture_output=True, text=True).stdout
    import json

    return json.loads(out)


def wait_for_import(api, import_id, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = api.get(f"/api/v1/imports/{import_id}").json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"import {import_id} still {state['status']} after {timeout} s")


@pytest.fixture(scope="module")
def athlete(owner):
    created = owner.post("/api/v1/athletes/", {"first_name": "Lena", "last_name": "Sokolova", "sex": "female",
                                               "birth_date": "1996-05-01", "body_mass_kg": 70.0, "height_cm": 172})
    assert created.status_code == 201, created.text
    return created.json()


def upload(api, athlete, path: Path, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/api/v1/imports/", files={"file": (path.name, path.read_bytes())},
                    data={"athlete": athlete["id"]}, headers=headers)


@pytest.mark.parametrize("cart", sorted(FORMATS))
def test_each_cart_format_imports_and_is_analyzed(owner, athlete, cart):
    path = FORMATS[cart]
    response = upload(owner, athlete, path)
    assert response.status_code == 202, response.text
    state = wait_for_import(owner, response.json()["id"])
    assert state["status"] == "done", state
    assert state["progress"] == 100 and state["test"]

    analysis = owner.get(f"/api/v1/tests/{state['test']}/analysis")
    assert analysis.status_code == 200, analysis.text
    result = analysis.json()
    expected = engine_vo2max(path)
    stored = (result.get("vo2max") or {}).get("vo2_ml_min")
    if expected is None:
        assert stored is None
    else:
        assert stored == round(expected)  # the API shows VO2 to 1 mL/min
        assert 100 < stored < 8000, "a human VO2 in mL/min (cortex.xml is a 70-s excerpt near rest)"
    samples = owner.get(f"/api/v1/tests/{state['test']}/samples").json()
    assert samples["count"] > 5 and len(samples["columns"]["time_s"]) == samples["count"]


def test_the_same_idempotency_key_creates_one_test(owner, athlete):
    key = uuid.uuid4().hex
    first = upload(owner, athlete, FORMATS["zan"], key)
    second = upload(owner, athlete, FORMATS["zan"], key)
    assert first.status_code == 202 and second.status_code in (200, 202)
    assert first.json()["id"] == second.json()["id"]
    assert wait_for_import(owner, first.json()["id"])["status"] == "done"


def test_a_broken_file_fails_the_import_with_a_reason_and_stores_nothing(owner, athlete):
    before = owner.get("/api/v1/tests/", params={"athlete": athlete["id"], "page_size": 200}).json()["results"]
    truncated = FORMATS["zan"].read_bytes()[:900]
    response = owner.post("/api/v1/imports/", files={"file": ("zan_truncated", truncated)},
                          data={"athlete": athlete["id"]})
    assert response.status_code == 202, response.text
    state = wait_for_import(owner, response.json()["id"])
    assert state["status"] == "failed" and state["error"]["detail"] and state["test"] is None
    after = owner.get("/api/v1/tests/", params={"athlete": athlete["id"], "page_size": 200}).json()["results"]
    assert len(after) == len(before)


def test_override_moves_vt1_the_zones_follow_and_the_analyzed_event_goes_out(system, owner, athlete):
    probe = EventProbe(system, "measurements.test.analyzed", "reports.report.ready")
    try:
        state = wait_for_import(owner, upload(owner, athlete, FORMATS["zan"]).json()["id"])
        test_id = state["test"]
        probe.wait_for(lambda e: e["type"] == "measurements.test.analyzed" and e["data"]["test_id"] == test_id)
        before = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
        new_vt1 = round(before["vt1"]["time_s"] - 60)
        changed = owner.patch(f"/api/v1/tests/{test_id}/analysis", {"overrides": {"vt1": {"time_s": new_vt1}}})
        assert changed.status_code in (200, 202), changed.text
        after = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
        assert after["version"] > before["version"]
        assert after["vt1"]["manual"] is True and after["vt1"]["time_s"] == pytest.approx(new_vt1, abs=1)
        assert after["zones"] != before["zones"]
        event = probe.wait_for(lambda e: e["type"] == "measurements.test.analyzed"
                               and e["data"]["test_id"] == test_id and e["data"]["revision"] == after["version"] and e["data"].get("overridden"))
        assert event["tenantid"] == owner.get("/api/v1/auth/me").json()["tenant"]["id"]

        # The report of this test, in Russian: rendered by the reports worker, read back from the PDF.
        requested = owner.post("/api/v1/reports/", {"test": test_id, "language": "ru", "template": "full"})
        assert requested.status_code == 202, requested.text
        report_id = requested.json()["id"]
        deadline = time.monotonic() + 60
        while (report := owner.get(f"/api/v1/reports/{report_id}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, report
            time.sleep(0.2)
        assert report["status"] == "done", report
        pdf = owner.get(f"/api/v1/reports/{report_id}/file")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Sokolova" in text
        vo2 = f"{after['vo2max']['vo2_ml_kg_min']:.1f}".replace(".", ",")
        assert vo2 in text, f"VO2max {vo2} (decimal comma) in the Russian report"
        # issue 12: the file link names the gateway; the PDF's ETag answers If-None-Match with 304, no body
        assert report["file"] == f"{owner.base}/api/v1/reports/{report_id}/file"
        again = owner.get(report["file"], headers={"If-None-Match": pdf.headers["etag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == pdf.headers["etag"]
        probe.wait_for(lambda e: e["type"] == "reports.report.ready" and e["data"].get("report_id") == report_id)
    finally:
        probe.close()


def test_another_tenant_cannot_see_tests_imports_or_reports(owner, second_lab, athlete):
    state = wait_for_import(owner, upload(owner, athlete, FORMATS["vyntus"]).json()["id"])
    for path in (f"/api/v1/tests/{state['test']}", f"/api/v1/tests/{state['test']}/analysis",
                 f"/api/v1/tests/{state['test']}/samples", f"/api/v1/imports/{state['id']}",
                 f"/api/v1/athletes/{athlete['id']}/progress"):
        assert second_lab.get(path).status_code == 404, path
    upload_into_foreign = upload(second_lab, athlete, FORMATS["vyntus"])
    assert upload_into_foreign.status_code in (400, 404)
    asked = second_lab.post("/api/v1/reports/", {"test": state["test"], "language": "en", "template": "athlete"})
    assert asked.status_code in (400, 404)


def test_a_200_mb_upload_is_refused_early_without_being_sent_whole(system, owner, athlete):
    """The gateway answers 413 from the declared length, after reading only the headers."""
    import socket

    host, port = "127.0.0.1", system.ports["gateway"]
    boundary = "vo2boundary"
    head = (f"POST /api/v1/imports/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {owner.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n")
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head.encode() + b"--" + boundary.encode() + b"\r\n" + b"x" * 65536)  # 64 KB of the 200 MB
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "application/problem+json" in answer
