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
    document = httpx.get(gateway + "/api/openapi.json", timeout=60).json()
    missing = [(m, p) for m, p in routes if m.lower() not in document["paths"].get(p, {})]
    assert not missing, f"the console calls routes the API does not document: {missing}"
    # every path the screens build is one of ROUTES (with ids in the place of {id})
    screens = "\n".join(p.read_text() for p in (ROOT / "web" / "src").rglob("*.ts*"))
    shapes = {re.sub(r"\$?\{[^}]+\}", "{}", p) for _, p in routes}
    used = {re.sub(r"\$?\{[^}]+\}", "{}", p).split("?")[0] for p in re.findall(r'[`"](/api/v1/[^`"]*)[`"]', screens)}
    unknown = sorted(u for u in used if u not in shapes)
    assert not unknown, f"paths in the console that ROUTES does not list: {unknown}"


def test_a_physiologists_session_from_login_to_logout(page, system, gateway, owner):
    mode = system.mode
    log_in(page, gateway, OWNER_EMAIL, OWNER_PASSWORD)
    page.get_by_role("heading", name="Athletes").wait_for()
    assert not check_accessibility(page, "athletes")
    shot(page, mode, "02-athletes")

    # create an athlete
    last = f"Console{uuid.uuid4().hex[:6]}"
    page.get_by_role("button", name="New athlete").click()
    page.get_by_label("First name").fill("Zoya")
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Birth date").fill("1995-04-02")
    page.get_by_label("Body mass, kg").fill("61.5")
    assert not check_accessibility(page, "athlete form")
    shot(page, mode, "03-new-athlete")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name=f"Zoya {last}").wait_for()
    created = owner.get("/api/v1/athletes/", params={"search": last}).json()["results"]
    assert [a["body_mass_kg"] for a in created] == [61.5]

    # log out: the tokens are gone with the page's memory; the login screen is back
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log in").wait_for()
    assert not check_accessibility(page, "login")
    shot(page, mode, "01-login")
    page.reload()
    page.get_by_role("button", name="Log in").wait_for()
