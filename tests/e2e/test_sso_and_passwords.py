"""Issue 16 part A through the gateway: SSO against a real OpenID provider (node oidc-provider, started here), a
replayed state refused; a password reset whose e-mail is read from the real SMTP server; /users/me."""
import importlib.util
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from .conftest import OWNER_EMAIL, OWNER_PASSWORD, Api

_spec = importlib.util.spec_from_file_location(
    "identity_sso_provider", Path(__file__).parents[2] / "services" / "identity" / "tests" / "sso_provider.py")
sso_provider = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sso_provider)

SECRET = "first-lab-sso-client-secret-42"


@pytest.fixture(scope="module")
def provider(gateway):
    running = sso_provider.Provider([{"client_id": "first-lab", "client_secret": SECRET,
                                      "redirect_uris": [f"{gateway}/api/v1/auth/sso/callback"]}])
    yield running
    running.stop()


def test_sso_through_the_gateway(owner, gateway, provider):
    domain = f"sso-{uuid.uuid4().hex[:6]}.test"
    configured = owner.put("/api/v1/tenants/current/sso", {
        "issuer": provider.issuer, "client_id": "first-lab", "client_secret": SECRET, "email_domains": [domain],
        "default_role": "viewer"})
    assert configured.status_code == 200, configured.text
    assert configured.json()["redirect_uri"] == f"{gateway}/api/v1/auth/sso/callback"
    email = f"nina@{domain}"
    provider.add_account(email)
    anonymous = httpx.Client(base_url=gateway, timeout=30)
    discovered = anonymous.post("/api/v1/auth/login/discover", json={"email": email}).json()
    assert discovered["method"] == "sso" and discovered["tenant"] == "first-lab"
    started = anonymous.get(discovered["start_url"], params={"login_hint": email})
    assert started.status_code == 302, started.text
    query = provider.authorize(started.headers["location"])
    signed_in = anonymous.get("/api/v1/auth/sso/callback", params=query)
    assert signed_in.status_code == 200, signed_in.text
    api = Api(gateway, signed_in.json()["access"])
    assert api.get("/api/v1/auth/me").json()["roles"] == ["viewer"]
    assert api.get("/api/v1/athletes/").status_code == 200  # our token works on every service
    replayed = anonymous.get("/api/v1/auth/sso/callback", params=query)
    assert replayed.status_code == 400 and replayed.json()["type"] == "urn:vo2:problem:sso-state-invalid"
    assert owner.delete("/api/v1/tenants/current/sso").status_code == 204


def test_password_reset_by_email_and_profile(owner, gateway, mailbox):
    email = f"reset-{uuid.uuid4().hex[:6]}@first.lab"
    from .conftest import join_by_invitation

    member, _ = join_by_invitation(owner, mailbox, email, "physiologist", "first-password-42")
    anonymous = httpx.Client(base_url=gateway, timeout=30)
    assert anonymous.post("/api/v1/auth/password/reset", json={"email": email}).status_code == 202
    assert anonymous.post("/api/v1/auth/password/reset", json={"email": "nobody@first.lab"}).status_code == 202
    deadline = time.monotonic() + 60  # the invitation's e-mail went to this address already: wait for the reset's
    while not (resets := [m for m in mailbox.wait_for(email) if "password" in m["subject"].lower()]):
        assert time.monotonic() < deadline, "no password-reset e-mail within 60 s"
        time.sleep(0.2)
    message = resets[-1]
    token = re.search(r"token=([A-Za-z0-9_\-]+)", message["body"]).group(1)
    confirmed = anonymous.post("/api/v1/auth/password/reset/confirm",
                               json={"token": token, "new_password": "second-password-42"})
    assert confirmed.status_code == 204, confirmed.text
    again = anonymous.post("/api/v1/auth/password/reset/confirm",
                           json={"token": token, "new_password": "third-password-42"})
    assert again.status_code == 400
    fresh = Api(gateway)
    fresh.login(email, "second-password-42")
    assert fresh.patch("/api/v1/users/me", {"time_zone": "Europe/Moscow"}).json()["time_zone"] == "Europe/Moscow"
    changed = fresh.post("/api/v1/auth/password", {"current_password": "second-password-42",
                                                    "new_password": "fourth-password-42"})
    assert changed.status_code == 204, changed.text
    assert anonymous.post("/api/v1/auth/login", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}).status_code == 200
