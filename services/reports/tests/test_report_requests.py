"""Issue 15 through the API: previous test by /progress's rule, insufficient tests refused, conclusion and DOCX,
the lab's branding and logo, and what an athlete user sees (the athlete-user matrix)."""
from __future__ import annotations

import io
import struct
import uuid
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import encode_multipart
from docx import Document
from pypdf import PdfReader

from reports.documents import assemble, tasks
from servicekit.events.envelope import make, parse

pytestmark = pytest.mark.django_db(transaction=True)


def request(caller, test_id, **body):
    return caller.post("/api/v1/reports/", {"test": test_id, "language": "en", "template": "full", **body},
                       format="json")


def download(caller, report_id) -> bytes:
    response = caller.get(f"/api/v1/reports/{report_id}/file")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def pdf_text(pdf: bytes) -> str:
    return " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


def png(width=40, height=20, color=(200, 30, 30)) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(color) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ---- previous test: the rule of /progress ----------------------------------------------------------------------

def point(test, date, vo2, modality="running", change=None, status=None):
    p = {"test": test, "date": date, "modality": modality, "vo2max_ml_min": vo2, "vo2max_ml_kg_min": vo2 / 66,
         "vt1": {"hr_bpm": 150.0}, "vt2": {"hr_bpm": 180.0}, "change": change}
    if status:
        p["status"] = status
    return p


def test_previous_is_the_one_progress_names_not_a_same_day_test_recorded_later():
    this, later_same_day, years_ago, cycling = (str(uuid.uuid4()) for _ in range(4))
    progress = {"meaningful_change_pct": 5.0, "tests": [
        point(years_ago, "2021-03-01", 4300.0), point(cycling, "2023-01-01", 4000.0, modality="cycling"),
        point(this, "2024-05-02", 5000.0, change={"since_test": years_ago, "vo2max_pct": 16.3, "meaningful": True}),
        point(later_same_day, "2024-05-02", 4900.0,
              change={"since_test": this, "vo2max_pct": -2.0, "meaningful": False})]}
    prev = assemble.previous_of(progress, this, None, "running")
    assert prev.date.isoformat() == "2021-03-01" and prev.vo2max_ml_min == 4300.0
    assert prev.meaningful is True and prev.change_pct == 16.3 and prev.meaningful_change_pct == 5.0
    # a test /progress does not list yet: strictly earlier days, same modality, usable results only
    other = str(uuid.uuid4())
    progress["tests"].append(point(str(uuid.uuid4()), "2024-01-01", 4500.0, status="insufficient"))
    prev = assemble.previous_of(progress, other, __import__("datetime").date(2024, 5, 2), "running")
    assert prev.date.isoformat() == "2021-03-01"
    assert assemble.previous_of(progress, years_ago, None, "running") is None


def test_report_compares_with_the_previous_test_and_says_whether_the_change_is_meaningful(
        caller, tenant_a, upstream, measurements, storage, zan_payload):
    earlier = str(uuid.uuid4())
    test_id = str(uuid.uuid4())
    progress = [point(earlier, "2021-03-01", 4300.0)]
    test_id = upstream.add_test(tenant_a, zan_payload, progress=progress)
    progress.append(point(test_id, zan_payload["test"]["date"], 5000.0,
                          change={"since_test": earlier, "vo2max_pct": 16.3, "meaningful": True}))
    owner = caller(tenant_a)
    report = request(owner, test_id).json()
    assert tasks.render(report["id"], tenant_a) == "done"
    text = pdf_text(download(owner, report["id"]))
    assert "Comparison with the previous test" in text and "Previous (1 Mar 2021)" in text
    assert "+16.3 % — beyond measurement noise" in text


# ---- insufficient tests ---------------------------------------------------------------------------------------

def test_a_test_that_cannot_be_analysed_is_refused_with_422(caller, tenant_a, upstream, measurements, storage,
                                                          zan_payload):
    test_id = upstream.add_test(tenant_a, zan_payload, status="insufficient")
    response = request(caller(tenant_a), test_id)
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:vo2:problem:test-not-analysable"
    assert caller(tenant_a).get("/api/v1/reports/").json()["results"] == []
    # and a report that reaches the renderer anyway fails with that reason, no empty pages stored
    from reports.documents import actions
    from servicekit.tenancy import tenant_transaction

    with tenant_transaction(tenant_a):
        report, _ = actions.request_report(tenant_id=tenant_a, test_id=test_id, language="en", template="full")
    assert tasks.render(str(report.id), tenant_a) == "failed"
    failed = caller(tenant_a).get(f"/api/v1/reports/{report.id}").json()
    assert failed["error"]["code"] == "test-not-analysable" and failed["file"] is None


def test_auto_report_skips_an_insufficient_test(tenant_a):
    from reports import consumers
    from reports.documents.models import Report, ReportSettings
    from servicekit.events.consumer import EventConsumer
    from servicekit.tenancy import tenant_transaction

    with tenant_transaction(tenant_a):
        ReportSettings.objects.create(tenant_id=tenant_a, auto_report=True)
    c = EventConsumer("reports", {"measurements.test.analyzed": consumers.on_test_analyzed})
    for data in ({"quality_flags": ["insufficient", "too_short"]}, {"status": "insufficient"},
                 {"quality_flags": ["missing_channel:hr_bpm"]}):
        event = parse(make("measurements.test.analyzed", {"test_id": str(uuid.uuid4()), "athlete_id": str(uuid.uuid4()), "revision": 1, **data},
                           source="/vo2max/measurements", tenant_id=tenant_a))
        assert c.process(event) == "handled"
    with tenant_transaction(tenant_a):
        assert Report.objects.count() == 1  # only the usable one


# ---- conclusion and DOCX --------------------------------------------------------------------------------------

def test_conclusion_is_validated_and_printed(caller, tenant_a, upstream, measurements, storage, zan_payload):
    owner = caller(tenant_a)
    test_id = upstream.add_test(tenant_a, zan_payload)
    too_long = request(owner, test_id, conclusion="x" * 4001)
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "conclusion"
    assert request(owner, test_id, format="odt").status_code == 400
    words = "Высокая аэробная подготовленность.\n\nПовторить тест через 10 недель."
    report = request(owner, test_id, language="ru", conclusion=words).json()
    assert report["conclusion"] == words and report["format"] == "pdf"
    assert tasks.render(report["id"], tenant_a) == "done"
    text = pdf_text(download(owner, report["id"]))
    assert "Заключение физиолога" in text and "Повторить тест через 10 недель." in text


def test_docx_report_reads_back_with_sections_tables_images_and_the_conclusion(
        caller, tenant_a, upstream, measurements, storage, zan_payload):
    owner = caller(tenant_a)
    owner.put("/api/v1/reports/settings", {"lab_name": "Sports Lab Zenith"}, format="json")
    test_id = upstream.add_test(tenant_a, zan_payload)
    report = request(owner, test_id, format="docx", conclusion="Good aerobic base.").json()
    assert tasks.render(report["id"], tenant_a) == "done"
    response = owner.get(f"/api/v1/reports/{report['id']}/file")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    assert ".docx" in response["Content-Disposition"]
    doc = Document(io.BytesIO(b"".join(response.streaming_content)))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    for section in ("Cardiopulmonary exercise test", "Maximal oxygen uptake", "Ventilatory thresholds",
                    "Gas exchange (Wasserman panels)", "Training zones", "Methods and data processing",
                    "Physiologist's conclusion"):
        assert section in headings, section
    body = "\n".join(p.text for p in doc.paragraphs)
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert "Good aerobic base." in body and "Иван Петров" in cells
    vt1 = zan_payload["result"]["vt1"]
    assert "VT1" in cells and str(round(vt1["hr_bpm"])) in cells and len(doc.tables) >= 4
    assert len(doc.inline_shapes) >= 6                                  # the panels (and the percentile bar)
    assert "Sports Lab Zenith" in doc.sections[0].header.paragraphs[0].text
    status = owner.get(f"/api/v1/reports/{report['id']}").json()
    assert status["format"] == "docx" and status["pages"] is None


# ---- branding ---------------------------------------------------------------------------------------------------

def test_the_documented_accent_colour_takes_what_the_api_takes(caller, tenant_a):
    """A blank colour clears it: the document's two branches (a colour, a blank) must not both match "" (oneOf)."""
    import jsonschema
    from drf_spectacular.generators import SchemaGenerator

    field = SchemaGenerator().get_schema(public=True)["components"]["schemas"]["ReportSettingsRequest"][
        "properties"]["accent_color"]
    admin = caller(tenant_a, "admin")
    for value, status in (("", 200), ("#aa3300", 200), ("red", 400), ("#aa33001", 400)):
        assert admin.put("/api/v1/reports/settings", {"accent_color": value}, format="json").status_code == status
        assert jsonschema.Draft202012Validator(field).is_valid(value) is (status == 200), value


def test_branding_settings_and_logo_on_every_page(caller, tenant_a, tenant_b, upstream, measurements, storage,
                                                 zan_payload):
    admin = caller(tenant_a, "admin")
    saved = admin.put("/api/v1/reports/settings", {"lab_name": "Лаборатория «Пульс»", "lab_address": "Москва",
                                                   "lab_contact": "lab@pulse.example", "accent_color": "#aa3300"},
                      format="json")
    assert saved.status_code == 200 and saved.json()["lab_name"] == "Лаборатория «Пульс»"
    assert admin.put("/api/v1/reports/settings", {"accent_color": "red"}, format="json").status_code == 400
    logo = png()
    put = admin.client.put("/api/v1/reports/settings/logo", data=logo, content_type="image/png")
    assert put.status_code == 200 and put.json()["logo"].endswith("/api/v1/reports/settings/logo")
    assert admin.get("/api/v1/reports/settings/logo").content == logo
    # issue 12: the file's own type is an Accept the logo answers (it was 406: DRF knew only JSON renderers)
    as_png = admin.client.get("/api/v1/reports/settings/logo", HTTP_ACCEPT="image/png")
    assert as_png.status_code == 200 and as_png["Content-Type"] == "image/png" and as_png.content == logo
    other = png(color=(10, 120, 10))
    form = admin.client.put("/api/v1/reports/settings/logo",
                            data=encode_multipart("BoUnDaRy", {"logo": SimpleUploadedFile("logo.png", other)}),
                            content_type="multipart/form-data; boundary=BoUnDaRy")
    assert form.status_code == 200 and admin.get("/api/v1/reports/settings/logo").content == other
    assert admin.client.put("/api/v1/reports/settings/logo", data=logo, content_type="image/png").status_code == 200
    gif = admin.client.put("/api/v1/reports/settings/logo", data=b"GIF89a\x01\x00", content_type="image/gif")
    assert gif.status_code == 415 and gif.json()["type"] == "urn:vo2:problem:unsupported-logo"
    huge = admin.client.put("/api/v1/reports/settings/logo", data=b"\x89PNG\r\n\x1a\n" + b"0" * 600_000,
                            content_type="image/png")
    assert huge.status_code == 413
    assert caller(tenant_a, "physiologist").client.put("/api/v1/reports/settings/logo", data=logo,
                                                       content_type="image/png").status_code == 403
    assert caller(tenant_b, "owner").get("/api/v1/reports/settings").json()["lab_name"] == ""
    assert caller(tenant_b, "owner").get("/api/v1/reports/settings/logo").status_code == 404
    none = caller(tenant_b, "owner").client.get("/api/v1/reports/settings/logo", HTTP_ACCEPT="image/png")
    assert none.status_code == 404 and none["Content-Type"] == "application/problem+json"
    assert none.json()["type"] == "urn:vo2:problem:not-found"

    test_id = upstream.add_test(tenant_a, zan_payload)
    report = request(admin, test_id, language="ru").json()
    assert tasks.render(report["id"], tenant_a) == "done"
    pdf = download(admin, report["id"])
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        text = page.extract_text()
        assert "Лаборатория «Пульс»" in text and "lab@pulse.example" in text
        assert page["/Resources"].get("/XObject"), "the logo is drawn on every page"
    # another tenant's report carries its own (default) header, never this lab's
    theirs = upstream.add_test(tenant_b, zan_payload)
    other = request(caller(tenant_b), theirs).json()
    tasks.render(other["id"], tenant_b)
    assert "Пульс" not in pdf_text(download(caller(tenant_b), other["id"]))


CLEAN_SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
             b'xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 120 40">'
             b'<defs><rect id="bar" width="120" height="8" fill="#2255aa"/></defs>'
             b'<style>.mark { fill: #aa3300; }</style>'
             b'<rect class="mark" width="120" height="32"/><use xlink:href="#bar" y="32"/>'
             b'<circle cx="20" cy="16" r="10" fill="#ffffff"/></svg>')

_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
HOSTILE_SVGS = {
    "script": _SVG + b"<script>alert(1)</script></svg>",
    "onload": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)"><rect/></svg>',
    "external image": (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
                       b'width="10" height="10"><image xlink:href="https://evil.example/x.png" width="9" '
                       b'height="9"/></svg>'),
    "entity": (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY leak SYSTEM "file:///etc/passwd">]>'
               + _SVG + b"<text>&leak;</text></svg>"),
    "foreignObject": _SVG + b'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject></svg>',
    "css import": _SVG + b'<style>@import "https://evil.example/a.css";</style></svg>',
    "css url": _SVG + b'<rect width="9" height="9" style="fill: url(https://evil.example/p)"/></svg>',
    "too many elements": _SVG + b"<g/>" * 6000 + b"</svg>",
    "huge": _SVG + b"<g/>" * 140_000 + b"</svg>",
}
REFUSAL_NAMES = {"script": "<script>", "onload": "onload", "external image": "https://evil.example/x.png",
                 "entity": "DOCTYPE", "foreignObject": "<foreignobject>", "css import": "@import",
                 "css url": "url(https://evil.example/p)", "too many elements": "elements"}


def test_a_clean_svg_logo_is_kept_as_a_png_and_drawn_on_every_page(caller, tenant_a, upstream, measurements,
                                                                    storage, zan_payload):
    from PIL import Image

    admin = caller(tenant_a, "admin")
    put = admin.client.put("/api/v1/reports/settings/logo", data=CLEAN_SVG, content_type="image/svg+xml")
    assert put.status_code == 200, put.content
    stored = admin.get("/api/v1/reports/settings/logo")
    assert stored["Content-Type"] == "image/png" and stored.content.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(stored.content)) as image:
        assert image.size == (600, 200)                                     # the 3:1 viewBox, long side 600 px
        assert image.convert("RGB").getpixel((300, 20)) == (170, 51, 0)      # the .mark rule from <style>
        assert image.convert("RGB").getpixel((300, 190)) == (34, 85, 170)    # the <use> of the bar in <defs>
    test_id = upstream.add_test(tenant_a, zan_payload)
    report = request(admin, test_id, language="ru").json()
    assert tasks.render(report["id"], tenant_a) == "done"
    pages = PdfReader(io.BytesIO(download(admin, report["id"]))).pages
    for page in pages:
        images = [x.get_object() for x in page["/Resources"]["/XObject"].values()]
        assert any(x["/Width"] == 600 and x["/Height"] == 200 for x in images), "the logo on every page"
    docx = request(admin, test_id, format="docx").json()
    assert tasks.render(docx["id"], tenant_a) == "done"
    header = Document(io.BytesIO(download(admin, docx["id"]))).sections[0].header
    assert header._element.xpath(".//pic:pic"), "the logo in the DOCX header"


@pytest.mark.parametrize("kind", sorted(HOSTILE_SVGS))
def test_a_hostile_svg_logo_is_refused_and_nothing_is_stored(caller, tenant_a, kind):
    admin = caller(tenant_a, "admin")
    refused = admin.client.put("/api/v1/reports/settings/logo", data=HOSTILE_SVGS[kind], content_type="image/svg+xml")
    assert refused["Content-Type"] == "application/problem+json"
    body = refused.json()
    if kind == "huge":
        assert refused.status_code == 413 and body["type"] == "urn:vo2:problem:payload-too-large"
    else:
        assert refused.status_code == 422 and body["type"] == "urn:vo2:problem:unsafe-logo", body
        assert REFUSAL_NAMES[kind] in body["detail"]
    assert admin.get("/api/v1/reports/settings/logo").status_code == 404
    assert admin.get("/api/v1/reports/settings").json()["logo"] is None


def test_the_default_header_names_the_lab_by_the_tenant_s_name(caller, tenant_a, upstream, measurements, storage,
                                                               zan_payload):
    upstream.put(tenant_a, "/api/v1/tenants/current/", {"id": tenant_a, "name": "Spb Sports Lab"})
    owner = caller(tenant_a)
    report = request(owner, upstream.add_test(tenant_a, zan_payload)).json()
    assert tasks.render(report["id"], tenant_a) == "done"
    pages = PdfReader(io.BytesIO(download(owner, report["id"]))).pages
    assert all("Spb Sports Lab" in p.extract_text() for p in pages)


# ---- athlete users ----------------------------------------------------------------------------------------------

def test_athlete_user_matrix(caller, tenant_a, tenant_b, upstream, measurements, storage, zan_payload):
    owner = caller(tenant_a)
    me = caller(tenant_a, "athlete")
    # my record is created unlinked; a report is made for it before the lab links me
    before = upstream.add_test(tenant_a, zan_payload)
    athlete_id = upstream.objects[(tenant_a, f"/api/v1/tests/{before}/")]["athlete"]
    r_before = request(owner, before).json()
    tasks.render(r_before["id"], tenant_a)
    assert me.get("/api/v1/reports/").json()["results"] == []      # not linked yet: nothing
    upstream.link(tenant_a, athlete_id, me.user_id)
    after = upstream.add_test(tenant_a, zan_payload, athlete_id=athlete_id)
    r_after = request(owner, after).json()
    tasks.render(r_after["id"], tenant_a)
    someone_else = upstream.add_test(tenant_a, zan_payload, user_id=str(uuid.uuid4()))
    r_other = request(owner, someone_else).json()
    tasks.render(r_other["id"], tenant_a)
    intruder_test = upstream.add_test(tenant_b, zan_payload)
    r_b = request(caller(tenant_b), intruder_test).json()
    tasks.render(r_b["id"], tenant_b)

    listed = {r["id"] for r in me.get("/api/v1/reports/").json()["results"]}
    assert listed == {r_before["id"], r_after["id"]}                     # past and future reports of my record
    for mine in (r_before, r_after):
        assert me.get(f"/api/v1/reports/{mine['id']}").status_code == 200
        assert download(me, mine["id"]).startswith(b"%PDF-")
    for theirs in (r_other, r_b):                                        # another athlete's, another tenant's
        assert me.get(f"/api/v1/reports/{theirs['id']}").status_code == 404
        assert me.get(f"/api/v1/reports/{theirs['id']}/file").status_code == 404
    assert me.get(f"/api/v1/reports/?athlete={athlete_id}").json()["results"]
    assert request(me, after).status_code == 403                         # athletes do not request reports
    # unlinked again: the reports are no longer theirs
    upstream.link(tenant_a, athlete_id, None)
    assert me.get("/api/v1/reports/").json()["results"] == []
    assert me.get(f"/api/v1/reports/{r_after['id']}").status_code == 404
    # measurements down: only what the renderer recorded for the user (never more)
    upstream.link(tenant_a, athlete_id, me.user_id)
    upstream.fail_with = 503
    assert {r["id"] for r in me.get("/api/v1/reports/").json()["results"]} == {r_after["id"]}
    upstream.fail_with = None
