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
from .conftest import OWNER_EMAIL, OWNER_PASSWORD

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
    screens = "\n".join(p.read_text() for p in (ROOT / "web" / "src").rglob("*.ts*"))
    shapes = {re.sub(r"\$?\{[^}]+\}", "{}", p) for _, p in routes}
    used = {re.sub(r"\$?\{[^}]+\}", "{}", p).split("?")[0] for p in re.findall(r'[`"](/api/v1/[^`"]*)[`"]', screens)}
    unknown = sorted(u for u in used if u not in shapes)
    assert not unknown, f"paths in the console that ROUTES does not list: {unknown}"


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
    assert page.locator(".chart-host canvas").count() == 4
    assert "5,001" in page.get_by_test_id("summary").inner_text()  # zan_ramp's VO2max, as the API stores it
    vt1 = float(page.get_by_test_id("vt1-time").input_value())
    zones_before = page.get_by_test_id("zones").inner_text()
    screen("06-test")
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

