"""The web console in real Chromium, through the gateway of a whole system (local and SaaS mode): a physiologist's
session from login to logout, every screen checked with axe-core and saved as a screenshot
(var/console-screenshots/<mode>/), and the console's API routes checked against the merged OpenAPI document."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest

from .browser import ROOT, check_accessibility, launch, need_browser, shot
from .conftest import OWNER_EMAIL, OWNER_PASSWORD, Api, join_by_invitation
from .test_sso_and_passwords import SECRET as SSO_SECRET
from .test_sso_and_passwords import provider  # noqa: F401  (the real OpenID provider, a fixture of this module too)

ZAN_RAMP = ROOT / "testdata" / "cpet" / "spiro" / "zan_ramp"


@pytest.fixture(scope="module")
def browser():
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, system):
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # a CSP violation is reported on the console: none may happen
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_default_timeout(20_000)
    yield page
    context.close()
    assert not errors, errors


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(base + "/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_the_console_is_served_at_the_root_with_a_strict_csp_and_long_cached_hashed_assets(gateway):
    need_browser()
    index = httpx.get(gateway + "/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert index.headers["cache-control"] == "no-cache"
    assert "<script>" not in index.text and "style=" not in index.text  # nothing inline for the CSP to forbid
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert re.search(r"-[A-Za-z0-9_-]{8}\.(js|css)$", asset), asset  # hashed name
        answer = httpx.get(gateway + asset, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["content-encoding"] == "gzip"
        again = httpx.get(gateway + asset, headers={"If-None-Match": answer.headers["etag"]})
        assert again.status_code == 304
    # a route of the single page is the page; an unknown asset is a 404, not the page
    assert httpx.get(gateway + "/athletes/123").text == index.text
    assert httpx.get(gateway + "/assets/missing-12345678.js").status_code == 404
    # the API is untouched: still problem+json, still behind the token
    api = httpx.get(gateway + "/api/v1/athletes/")
    assert api.status_code == 401 and api.headers["content-type"].startswith("application/problem+json")
    assert httpx.post(gateway + "/", content=b"x").status_code in (401, 404, 405)  # only GET/HEAD get the page


def test_every_route_the_console_calls_is_in_the_merged_openapi_document(gateway):
    source = (ROOT / "web" / "src" / "api.ts").read_text()
    block = source[source.index("export const ROUTES"):source.index("];", source.index("export const ROUTES"))]
    routes = re.findall(r'\["(GET|POST|PUT|PATCH|DELETE)", "([^"]+)"\]', block)
    assert len(routes) > 30
    import time

    deadline = time.monotonic() + 90  # a service's schema missing from the merge (slow to build) is retried in 5 s
    while True:
        document = httpx.get(gateway + "/api/openapi.json", timeout=60).json()
        if "/api/v1/auth/login" in document["paths"] or time.monotonic() > deadline:
            break
        time.sleep(2)
    missing = [(m, p) for m, p in routes if m.lower() not in document["paths"].get(p, {})]
    assert not missing, f"the console calls routes the API does not document: {missing}"
    # every path the screens build is one of ROUTES (with ids in the place of {id})
    screens = "\n".join(p.read_text() for p in (ROOT / "web" / "src").rglob("*.ts*")
                         if p.name != "api-schema.d.ts")  # the generated types name every route of the API
    shapes = {re.sub(r"\$?\{[^}]+\}", "{}", p) for _, p in routes}
    used = {re.sub(r"\$?\{[^}]+\}", "{}", p).split("?")[0] for p in re.findall(r'[`"](/api/v1/[^`"]*)[`"]', screens)}
    unknown = sorted(u for u in used if u not in shapes)
    assert not unknown, f"paths in the console that ROUTES does not list: {unknown}"


def test_the_client_type_checks_against_the_live_openapi_document(gateway, tmp_path):
    """The types of every call (path, JSON body, answer) from the document this system serves, not only the copy in
    web/openapi.json: openapi-typescript (web/package-lock.json) makes them, tsc checks a copy of the console's
    sources against them."""
    import json
    import shutil
    import subprocess
    import time

    need_browser()
    deadline = time.monotonic() + 90  # a service's schema missing from the merge (slow to build) is retried in 5 s
    while True:
        document = httpx.get(gateway + "/api/openapi.json", timeout=60).json()
        merged = document["info"].get("description", "")
        if all(name in merged for name in ("identity", "measurements", "reports", "notifications")) \
                or time.monotonic() > deadline:
            break
        time.sleep(2)
    web = ROOT / "web"
    copy = tmp_path / "web"
    shutil.copytree(web / "src", copy / "src")
    for name in ("tsconfig.json", "vite.config.ts"):
        shutil.copy(web / name, copy / name)
    (copy / "node_modules").symlink_to(web / "node_modules")
    (copy / "openapi.json").write_text(json.dumps(document))
    bin_dir = web / "node_modules" / ".bin"
    subprocess.run([str(bin_dir / "openapi-typescript"), "openapi.json", "-o", "src/api-schema.d.ts"],
                   cwd=copy, check=True, capture_output=True, timeout=300)
    checked = subprocess.run([str(bin_dir / "tsc"), "--noEmit", "-p", "tsconfig.json"], cwd=copy,
                             capture_output=True, text=True, timeout=600)
    assert checked.returncode == 0, f"the console does not fit this system's API:\n{checked.stdout}{checked.stderr}"


def drop_file(page, selector: str, path: Path) -> None:
    """Drag a file from the desktop onto the drop zone: a real `drop` event carrying the file's bytes."""
    import base64

    page.evaluate("""([selector, name, data]) => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name));
        const zone = document.querySelector(selector);
        for (const type of ['dragenter', 'dragover', 'drop'])
            zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
    }""", [selector, path.name, base64.b64encode(path.read_bytes()).decode()])


def wait_until(condition, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page did not change in time"
        time.sleep(0.1)


def marker_x(page, chart: int, time_s: float) -> tuple[float, float]:
    """Where, on the page, the chart draws time `time_s` (its x range is on the chart's element)."""
    host = page.locator(".chart-host").nth(chart)
    lo, hi = float(host.get_attribute("data-x-min")), float(host.get_attribute("data-x-max"))
    box = host.locator(".u-over").bounding_box()
    return box["x"] + (time_s - lo) / (hi - lo) * box["width"], box["y"] + box["height"] / 2


def test_a_physiologists_session_from_login_to_logout(page, system, gateway, owner, tmp_path):
    from pypdf import PdfReader

    mode = system.mode
    seen = {}

    def screen(name: str) -> None:
        seen[name] = check_accessibility(page, name)
        shot(page, mode, name)

    log_in(page, gateway, OWNER_EMAIL, OWNER_PASSWORD)
    page.get_by_role("heading", name="Athletes").wait_for()
    screen("02-athletes")

    # create an athlete
    last = f"Console{uuid.uuid4().hex[:6]}"
    page.get_by_role("button", name="New athlete").click()
    page.get_by_label("First name").fill("Zoya")
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("Birth date").fill("1998-10-04")
    page.get_by_label("Body mass, kg").fill("66")
    screen("03-new-athlete")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name=f"Zoya {last}").wait_for()
    created = owner.get("/api/v1/athletes/", params={"search": last}).json()["results"]
    assert [a["body_mass_kg"] for a in created] == [66.0]

    # upload zan_ramp by dropping it on the athlete, and watch the import finish
    drop_file(page, "[data-testid=dropzone]", ZAN_RAMP)
    page.get_by_text("File: zan_ramp").wait_for()
    screen("04-upload")
    page.get_by_role("button", name="Upload", exact=True).click()
    status = page.get_by_test_id("import-status")
    status.and_(page.locator("[data-status=done]")).wait_for(timeout=180_000)  # generous: a loaded machine
    assert "100 %" in status.inner_text()
    screen("05-upload-done")

    # open the test: four charts, VO2max, the zones
    page.get_by_role("link", name="Open the test").click()
    page.get_by_test_id("charts").wait_for()
    page.locator("body[data-charts-render-ms]").wait_for(state="attached")  # (no eval: the page's CSP forbids it)
    # zan_ramp has no end-tidal pressures: three charts drawn, and the fourth panel says why it is empty
    assert page.locator(".chart-host canvas").count() == 3
    page.get_by_test_id("no-end-tidal").get_by_text("This file has no end-tidal pressures (PetO2, PetCO2)").wait_for()
    assert "5,001" in page.get_by_test_id("summary").inner_text()  # zan_ramp's VO2max, as the API stores it
    vt1 = float(page.get_by_test_id("vt1-time").input_value())
    zones_before = page.get_by_test_id("zones").inner_text()
    screen("06-test")
    in_both_languages(page, mode, "06c-test-no-end-tidal", seen, "В файле нет парциальных давлений")
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, upright
    page.wait_for_timeout(300)  # the charts follow their width
    screen("06b-test-tablet")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(300)

    # drag VT1 on the VO2 chart 60 s later, save it with a reason: the zones follow
    x0, y = marker_x(page, 0, vt1)
    x1, _ = marker_x(page, 0, vt1 + 60)
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=4)
    page.mouse.move(x1, y, steps=4)
    page.mouse.up()
    dragged = float(page.get_by_test_id("vt1-time").input_value())
    assert abs(dragged - (vt1 + 60)) <= 3, (vt1, dragged)
    page.get_by_label("Reason for the change").fill("V-slope breakpoint seen later")
    page.get_by_role("button", name="Save thresholds").click()
    page.get_by_text("Saved as version 2.").wait_for()
    wait_until(lambda: page.get_by_test_id("zones").inner_text() != zones_before)
    assert "manual" in page.get_by_test_id("summary").inner_text()
    test_id = page.url.rsplit("/", 1)[-1]
    stored = owner.get(f"/api/v1/tests/{test_id}/analysis").json()
    assert stored["vt1"]["manual"] and abs(stored["vt1"]["time_s"] - dragged) <= 1
    wait_until(lambda: page.get_by_test_id("history").get_by_text("override").count() >= 1)  # reloaded after the save
    screen("07-test-vt1-moved")

    # a Russian PDF, its status live, then the download
    page.get_by_label("Report language").select_option("ru")
    page.get_by_label("Template").select_option("full")
    page.get_by_label("Conclusion").fill("Аэробная подготовка высокая.")
    page.get_by_role("button", name="Request report").click()
    page.locator("[data-testid=reports] tr[data-status=done]").wait_for(timeout=180_000)
    screen("08-report-ready")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download PDF report (RU)").click()
    pdf = tmp_path / "report.pdf"
    download.value.save_as(pdf)
    reader = PdfReader(pdf)
    assert pdf.read_bytes().startswith(b"%PDF") and len(reader.pages) >= 2
    text = "".join(p.extract_text() for p in reader.pages)
    assert "Аэробная подготовка высокая." in text.replace("\n", " ") and "VO" in text

    # the other screens, checked and shot once
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("heading", name="Reports", exact=True).wait_for()
    page.locator("[data-testid=reports]").wait_for()
    page.locator("[data-testid=reports]").get_by_role("link", name=f"{last} Zoya").first.wait_for()  # whose report
    screen("09-reports")
    page.get_by_role("link", name="Lab settings").click()
    page.get_by_role("heading", name="Members", exact=True).wait_for()
    page.get_by_text(OWNER_EMAIL).first.wait_for()
    screen("10-settings-members")
    for tab, name in (("Analysis defaults", "11-settings-analysis"), ("Report branding", "12-settings-branding"),
                      ("Webhooks", "13-settings-webhooks"), ("API keys", "14-settings-api-keys")):
        page.get_by_role("button", name=tab).click()
        page.get_by_role("heading", name=tab).first.wait_for()
        page.wait_for_load_state("networkidle")
        screen(name)
    # Russian, switched by hand
    page.get_by_label("Language", exact=True).select_option("ru")
    page.get_by_role("link", name="Спортсмены").click()
    page.get_by_role("heading", name="Спортсмены").wait_for()
    screen("15-athletes-ru")
    page.get_by_label("Язык", exact=True).select_option("en")

    # log out: the tokens are gone with the page's memory; the login screen is back
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log in").wait_for()
    screen("01-login")
    page.goto(gateway + "/#/athletes")
    page.reload()
    page.get_by_role("button", name="Log in").wait_for()
    serious = {name: found for name, found in seen.items() if found}
    assert not serious, f"axe found serious or critical violations: {serious}"


def test_an_athlete_user_sees_only_their_own_tests_and_no_lab_tools(page, system, gateway, owner, mailbox):
    from .conftest import join_by_invitation
    from .test_tests_and_reports import wait_for_import

    email = f"athlete-{uuid.uuid4().hex[:6]}@first.lab"
    athlete_user, _ = join_by_invitation(owner, mailbox, email, "athlete", "athlete-user-pw-1", "Ira Petrova")
    user_id = athlete_user.get("/api/v1/auth/me").json()["user"]["id"]
    mine = owner.post("/api/v1/athletes/", {"first_name": "Ira", "last_name": "Petrova", "sex": "female",
                                            "user_id": user_id}).json()
    other = owner.post("/api/v1/athletes/", {"first_name": "Olga", "last_name": f"Other{uuid.uuid4().hex[:4]}",
                                             "sex": "female"}).json()
    started = owner.post("/api/v1/imports/", files={"file": (ZAN_RAMP.name, ZAN_RAMP.read_bytes())},
                         data={"athlete": mine["id"]})
    assert started.status_code == 202, started.text
    assert wait_for_import(owner, started.json()["id"])["status"] == "done"

    log_in(page, gateway, email, "athlete-user-pw-1")
    page.get_by_role("heading", name="My tests").wait_for()
    page.get_by_role("link", name="Petrova Ira").wait_for()
    assert page.locator("table.list tbody tr").count() == 1
    assert page.get_by_text(other["last_name"]).count() == 0
    assert page.get_by_role("button", name="New athlete").count() == 0
    assert page.get_by_role("link", name="Lab settings").count() == 0
    assert not check_accessibility(page, "athlete user: my tests")
    shot(page, system.mode, "16-athlete-user")
    page.get_by_role("link", name="Petrova Ira").click()
    page.locator("table.list a").first.click()
    page.get_by_test_id("charts").wait_for()
    assert page.get_by_role("button", name="Save thresholds").count() == 0  # reading only
    assert page.get_by_role("button", name="Request report").count() == 0
    assert not check_accessibility(page, "athlete user: a test")
    shot(page, system.mode, "17-athlete-user-test")
    # another athlete, by its address: the API answers 404 and the screen says so
    page.goto(f"{gateway}/#/athletes/{other['id']}")
    page.get_by_role("alert").first.wait_for()
    assert page.get_by_role("heading", name=f"Olga {other['last_name']}").count() == 0


def test_login_with_a_choice_of_organisation_and_a_second_factor(page, system, gateway, owner, second_lab, mailbox):
    import time

    import pyotp

    from .conftest import join_by_invitation

    email, password = f"two-labs-{uuid.uuid4().hex[:6]}@first.lab", "two-labs-member-pw-1"
    member, _ = join_by_invitation(owner, mailbox, email, "physiologist", password)
    join_by_invitation(second_lab, mailbox, email, "viewer", password)  # the same account, a second organisation
    secret = member.post("/api/v1/auth/mfa/totp").json()["secret"]
    assert member.post("/api/v1/auth/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}).status_code == 200

    log_in(page, gateway, email, password)
    organisation = page.get_by_label("Organisation")
    organisation.wait_for()
    assert sorted(organisation.locator("option").all_inner_texts()) == ["first-lab", "second-lab"]
    organisation.select_option("second-lab")
    assert not check_accessibility(page, "login: organisation")
    shot(page, system.mode, "00-login-organisation")
    page.get_by_role("button", name="Log in").click()
    code = page.get_by_label("Code from your authenticator app")
    code.wait_for()
    assert not check_accessibility(page, "login: second factor")
    shot(page, system.mode, "00-login-code")
    code.fill(pyotp.TOTP(secret).at(time.time() + 30))  # the next step's: the confirmation used this one
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="Athletes").wait_for()
    assert "Second Lab" in page.locator("header").inner_text()
    assert page.get_by_role("button", name="New athlete").count() == 0  # a viewer there



def in_both_languages(page, mode: str, name: str, seen: dict, russian: str) -> None:
    """The screen as it is, checked and shot in English, then in Russian (a text of it named), then back."""
    seen[name] = check_accessibility(page, name)
    shot(page, mode, name)
    page.get_by_label("Language", exact=True).select_option("ru")
    page.get_by_text(russian).first.wait_for()
    seen[name + "-ru"] = check_accessibility(page, name + "-ru")
    shot(page, mode, name + "-ru")
    page.get_by_label("Язык", exact=True).select_option("en")
    page.get_by_label("Language", exact=True).wait_for()


def small_png(path: Path, width: int = 48, height: int = 16) -> Path:
    """A real PNG (a blue bar), written with zlib: the logo the lab uploads."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x1f\x4e\x9c" * width for _ in range(height))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def imported_test(api: Api, path: Path, last_name: str) -> tuple[dict, str]:
    from .test_tests_and_reports import upload, wait_for_import

    athlete = api.post("/api/v1/athletes/", {"first_name": "Vera", "last_name": last_name, "sex": "female",
                                             "birth_date": "1995-03-02", "body_mass_kg": 60.0}).json()
    started = upload(api, athlete, path)
    assert started.status_code == 202, started.text
    state = wait_for_import(api, started.json()["id"], timeout=180)
    assert state["status"] == "done", state
    return athlete, state["test"]


def test_sso_hands_the_token_pair_over_to_the_console(page, system, gateway, owner, provider):  # noqa: F811
    """The SSO button when discovery says the domain signs in by SSO; the flow in a window of its own, through the
    real OpenID provider and back to the callback, whose token pair the console reads; the lab's screens follow."""
    domain = f"sso-console-{uuid.uuid4().hex[:6]}.test"
    configured = owner.put("/api/v1/tenants/current/sso", {
        "issuer": provider.issuer, "client_id": "first-lab", "client_secret": SSO_SECRET, "email_domains": [domain],
        "default_role": "physiologist"})
    assert configured.status_code == 200, configured.text
    email = f"marta@{domain}"
    provider.add_account(email, name="Marta Sso")
    try:
        page.goto(gateway + "/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("E-mail").blur()  # discovery runs when the e-mail is complete
        button = page.get_by_role("button", name="Sign in with your organisation's SSO")
        button.wait_for()
        assert not check_accessibility(page, "login: SSO")
        shot(page, system.mode, "00-login-sso")
        with page.expect_popup() as opened:
            button.click()
        popup = opened.value
        page.get_by_role("heading", name="Athletes").wait_for(timeout=30_000)
        if not popup.is_closed():
            popup.wait_for_event("close", timeout=10_000)  # the console closes the SSO window once it has the tokens
        assert page.locator("header .who").get_attribute("title") == email
        assert page.get_by_role("button", name="New athlete").count() == 1  # the default role: a physiologist
        shot(page, system.mode, "00b-after-sso")
    finally:
        assert owner.delete("/api/v1/tenants/current/sso").status_code == 204


def test_lab_tools_logo_webhook_deliveries_lactate_steps_and_mfa_in_english_and_russian(
        page, system, gateway, owner, mailbox, tmp_path):
    """The screens that were API-only: a logo for the reports, a webhook's deliveries (each attempt, a ping, a
    retry), lactate steps typed in for a test, two-factor enrolment (QR code and secret, a code, the recovery
    codes); each in English and Russian, axe-clean, shot."""
    import pyotp

    from .test_notifications_and_webhooks import Receiver, wait

    mode, seen = system.mode, {}
    email, password = f"lab-admin-{uuid.uuid4().hex[:6]}@first.lab", "lab-admin-password-42"
    admin, _ = join_by_invitation(owner, mailbox, email, "admin", password, "Alla Adminova")
    _, test_id = imported_test(admin, ZAN_RAMP, f"Steps{uuid.uuid4().hex[:6]}")
    log_in(page, gateway, email, password)
    page.get_by_role("heading", name="Athletes").wait_for()

    # the report logo: uploaded, shown as stored
    page.get_by_role("link", name="Lab settings").click()
    page.get_by_role("button", name="Report branding").click()
    page.get_by_label("PNG or SVG, up to 512 KiB").set_input_files(str(small_png(tmp_path / "logo.png")))
    page.get_by_role("button", name="Upload logo").click()
    page.get_by_test_id("logo").wait_for()
    page.get_by_test_id("logo-state").get_by_text("A logo is set.").wait_for()
    assert admin.get("/api/v1/reports/settings/logo").headers["content-type"] == "image/png"
    page.wait_for_load_state("networkidle")
    in_both_languages(page, mode, "18-settings-logo", seen, "Логотип в отчётах")

    # a webhook whose receiver refuses: a ping is tried three times and fails; the receiver mends, a retry succeeds
    receiver = Receiver(500)
    try:
        page.get_by_role("button", name="Webhooks").click()
        page.get_by_label("URL", exact=True).fill(receiver.url)
        page.get_by_label("Events (comma-separated; patterns like reports.*)").fill("reports.report.failed")
        page.get_by_role("button", name="Add", exact=True).click()
        page.get_by_text("Signing secret (shown once):").wait_for()
        page.get_by_role("button", name=f"Send a ping to {receiver.url}").click()
        ping = page.get_by_test_id("deliveries").locator("tr", has_text="notifications.webhook.ping")
        ping.and_(page.locator("[data-status=failed]")).wait_for(timeout=60_000)
        tries = ping.get_by_text("HTTP 500").count()  # a ping is sent once, not on the retry schedule
        assert tries >= 1 and len(receiver.requests) == tries
        receiver.status = 200
        ping.get_by_role("button", name="Send the notifications.webhook.ping delivery again").click()
        ping.and_(page.locator("[data-status=done]")).wait_for(timeout=60_000)
        ping.get_by_text("HTTP 200").wait_for()
        wait(lambda: len(receiver.requests) == tries + 1, what="the retried ping")
        in_both_languages(page, mode, "19-settings-webhook-deliveries", seen, "Доставки на")
    finally:
        receiver.close()

    # lactate steps typed in for the test: the thresholds are computed and shown
    page.goto(f"{gateway}/#/tests/{test_id}")
    steps = page.get_by_test_id("lactate-steps")
    steps.wait_for()
    page.get_by_role("button", name="Add a stage").click()
    page.get_by_role("button", name="Add a stage").click()
    for n, (watts, lactate, hr) in enumerate([(100, "1,1", 118), (150, "1.3", 132), (200, "2.0", 147),
                                              (250, "3.6", 162), (300, "6.4", 176)], start=1):
        page.get_by_label(f"Intensity (W or km/h), stage {n}", exact=True).fill(str(watts))
        page.get_by_label(f"Lactate, mmol/l, stage {n}", exact=True).fill(lactate)
        page.get_by_label(f"HR, bpm, stage {n}", exact=True).fill(str(hr))
    page.get_by_role("button", name="Save lactate steps").click()
    page.get_by_text(re.compile(r"Saved as version \d+\.")).first.wait_for(timeout=60_000)
    page.get_by_test_id("lactate-thresholds").wait_for()
    stored = admin.get(f"/api/v1/tests/{test_id}/lactate-steps").json()["steps"]
    assert [(s["intensity"], s["lactate"]) for s in stored] == [(100, 1.1), (150, 1.3), (200, 2.0), (250, 3.6),
                                                                (300, 6.4)]
    page.get_by_test_id("lactate-steps").scroll_into_view_if_needed()
    in_both_languages(page, mode, "20-test-lactate-steps", seen, "Ступени лактата")

    # two-factor sign-in: the QR code and its secret, a code from the authenticator, the recovery codes once
    page.get_by_role("link", name="My account").click()
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    page.get_by_test_id("totp-qr").wait_for()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    in_both_languages(page, mode, "21-account-mfa-enrol", seen, "Отсканируйте код приложением-аутентификатором")
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    codes = page.get_by_test_id("recovery-codes").locator("li")
    codes.first.wait_for()
    assert codes.count() >= 8
    state = admin.get("/api/v1/auth/mfa/totp").json()
    assert state["enabled"] and state["recovery_codes_left"] == codes.count()
    in_both_languages(page, mode, "22-account-recovery-codes", seen, "Резервные коды")
    serious = {name: found for name, found in seen.items() if found}
    assert not serious, f"axe found serious or critical violations: {serious}"


def test_an_imports_warnings_and_errors_in_russian(page, system, gateway, owner, tmp_path):
    """On a Russian screen an import's warnings and errors are Russian words, from their codes: a cart export whose
    reader warns (Vyntus, no test date, an empty column, the body mass estimated), a file that is no cart export (the
    import fails with the reader's problem type) and an empty file (a validation problem naming the field); each
    axe-checked and shot."""
    mode, seen = system.mode, {}
    last = f"Warn{uuid.uuid4().hex[:6]}"
    athlete = owner.post("/api/v1/athletes/", {"first_name": "Inna", "last_name": last, "sex": "female",
                                               "birth_date": "1990-05-01", "body_mass_kg": 61.0}).json()
    log_in(page, gateway, OWNER_EMAIL, OWNER_PASSWORD)
    page.get_by_role("heading", name="Athletes").wait_for()
    page.get_by_label("Language", exact=True).select_option("ru")
    page.goto(f"{gateway}/#/athletes/{athlete['id']}")
    page.get_by_role("heading", name=f"Inna {last}").wait_for()
    status = page.get_by_test_id("import-status")

    # a cart export whose reader warns: every warning in Russian, none in English
    vyntus = ROOT / "testdata" / "cpet" / "spiro" / "vyntus.txt"
    drop_file(page, "[data-testid=dropzone]", vyntus)
    page.get_by_text("Файл: vyntus.txt").wait_for()
    page.get_by_role("button", name="Загрузить", exact=True).click()
    status.and_(page.locator("[data-status=done]")).wait_for(timeout=180_000)
    warnings = status.locator(".warnings")
    warnings.get_by_role("heading", name="Предупреждения").wait_for()
    words = warnings.locator("li").all_inner_texts()
    stored = owner.get("/api/v1/imports/", params={"athlete": athlete["id"]}).json()["results"][0]
    assert len(words) == len(stored["warning_details"]) >= 3, (words, stored)
    assert "в файле нет даты теста; укажите дату в карточке теста" in words
    assert "power_w: столбец есть, но пуст; считается отсутствующим" in words
    assert any(w.startswith("масса тела 68 кг рассчитана") for w in words), words
    english = set(stored["warnings"])
    assert not english & set(words), words  # not one shown as the server's English text
    seen["23-import-warnings-ru"] = check_accessibility(page, "23-import-warnings-ru")
    shot(page, mode, "23-import-warnings-ru")

    # a file that is no cart export: the import fails, said in Russian by the reader's problem type
    notes = tmp_path / "notes.txt"
    notes.write_text("Dear colleague,\nthe test is on Friday.\n")
    drop_file(page, "[data-testid=dropzone]", notes)
    page.get_by_text("Файл: notes.txt").wait_for()
    page.get_by_role("button", name="Загрузить", exact=True).click()
    status.and_(page.locator("[data-status=failed]")).wait_for(timeout=180_000)
    status.get_by_role("alert").get_by_text(
        "Этот файл не похож на выгрузку газоанализатора, которую умеет читать система.").wait_for()
    failed = owner.get("/api/v1/imports/", params={"athlete": athlete["id"], "status": "failed"}).json()["results"]
    assert failed[0]["error"]["type"] == "urn:vo2:problem:unknown-format"
    assert failed[0]["error"]["detail"] not in status.inner_text()  # the server's English detail is not shown
    seen["24-import-failed-ru"] = check_accessibility(page, "24-import-failed-ru")
    shot(page, mode, "24-import-failed-ru")

    # an empty file: refused at once, the field named and its problem said in Russian
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    drop_file(page, "[data-testid=dropzone]", empty)
    page.get_by_text("Файл: empty.csv").wait_for()
    page.get_by_role("button", name="Загрузить", exact=True).click()
    refusal = page.locator("form.upload > p.error[role=alert]")
    refusal.wait_for()
    assert refusal.inner_text() == "Некоторые поля заполнены неверно. — Файл: файл пустой", refusal.inner_text()
    seen["25-upload-refused-ru"] = check_accessibility(page, "25-upload-refused-ru")
    shot(page, mode, "25-upload-refused-ru")
    # the same screen in English: the server's own words
    page.get_by_label("Язык", exact=True).select_option("en")
    page.get_by_label("Language", exact=True).wait_for()
    assert "empty" in refusal.inner_text().lower() and "file" in refusal.inner_text()
    serious = {name: found for name, found in seen.items() if found}
    assert not serious, f"axe found serious or critical violations: {serious}"


@pytest.mark.saas  # presigned links exist only with S3 storage
def test_a_presigned_report_download_works_under_the_consoles_csp(page, system, gateway, owner, tmp_path):
    """With S3_PRESIGNED_DOWNLOADS the file route is a 307 to the object store, which `fetch` under the console's
    `connect-src 'self'` may not follow: the console asks for the link and navigates to it (an attachment). Reports
    is restarted with the setting for this test and restarted without it after."""
    from pypdf import PdfReader

    system.restart("reports", {"S3_PRESIGNED_DOWNLOADS": "true"})
    try:
        athlete, test_id = imported_test(owner, ZAN_RAMP, f"Presigned{uuid.uuid4().hex[:6]}")
        requested = owner.post("/api/v1/reports/", {"test": test_id, "language": "en", "template": "athlete"})
        assert requested.status_code == 202, requested.text
        report_id = requested.json()["id"]
        from .test_notifications_and_webhooks import wait

        wait(lambda: owner.get(f"/api/v1/reports/{report_id}").json()["status"] == "done", timeout=180,
             what="the report")
        redirect = owner.get(f"/api/v1/reports/{report_id}/file", follow_redirects=False)
        assert redirect.status_code == 307 and redirect.headers["location"].startswith(system.s3.endpoint_url)

        log_in(page, gateway, OWNER_EMAIL, OWNER_PASSWORD)
        page.get_by_role("heading", name="Athletes").wait_for()
        page.get_by_role("link", name="Reports").click()
        row = page.locator("[data-testid=reports] tr", has=page.locator(f"a[href='#/athletes/{athlete['id']}']"))
        row.wait_for()
        with page.expect_download() as download:
            row.get_by_role("button", name="Download PDF report (EN)").click()
        assert download.value.url.startswith(system.s3.endpoint_url)  # straight from the store, never through fetch
        pdf = tmp_path / "presigned.pdf"
        download.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF") and len(PdfReader(pdf).pages) >= 1
        assert page.get_by_role("alert").count() == 0
        shot(page, system.mode, "24-reports-presigned-download")
    finally:
        system.restart("reports", {"S3_PRESIGNED_DOWNLOADS": None})
