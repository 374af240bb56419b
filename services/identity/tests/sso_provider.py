"""A real OpenID provider for the SSO tests: node's `oidc-provider` (tests/oidc/provider.mjs), on 127.0.0.1 only.

`npm ci` runs once when tests/oidc/node_modules is missing (package-lock.json pins every package). Without node or
npm the tests fail in CI (CI=true) and are skipped elsewhere."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from servicekit import testing

HERE = Path(__file__).parent / "oidc"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed: the SSO tests need node's oidc-provider"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def install() -> None:
    """`npm ci` once; locked, since `npm ci` first deletes node_modules (two test runs must not race)."""
    import fcntl

    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    npm = _need("npm")
    with open(HERE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (HERE / "node_modules" / "oidc-provider").is_dir():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=600,
                           stdout=subprocess.DEVNULL)


class Provider:
    """One running provider. `clients`: oidc-provider client metadata (client_id, client_secret, redirect_uris)."""

    def __init__(self, clients: list[dict]):
        node = _need("node")
        install()
        self.port = testing.free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._config = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"port": self.port, "clients": clients}, self._config)
        self._config.close()
        self.process = subprocess.Popen([node, str(HERE / "provider.mjs"), self._config.name], cwd=HERE,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the OpenID provider exited: {self.process.stdout.read()}")
            try:
                if httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the OpenID provider did not start within 60 s")

    def add_account(self, email: str, *, email_verified: bool = True, sub: str | None = None, name: str = ""):
        body = {"email": email, "email_verified": email_verified, "name": name, **({"sub": sub} if sub else {})}
        assert httpx.post(self.issuer + "/test/accounts", json=body).status_code == 204

    def tamper_next_id_token(self, mode: str):
        assert httpx.post(self.issuer + "/test/tamper", json={"mode": mode}).status_code == 204

    def authorize(self, authorization_url: str) -> dict:
        """Follow the provider's redirects as a browser would (login by login_hint, automatic consent) up to the
        redirect back to us; returns that redirect's query (code, state, iss or error)."""
        assert authorization_url.startswith(self.issuer), authorization_url
        with httpx.Client(follow_redirects=False, timeout=10) as browser:
            url = authorization_url
            for _ in range(10):
                response = browser.get(url)
                assert response.status_code in (302, 303), (response.status_code, response.text[:500])
                url = urljoin(url, response.headers["location"])
                if not url.startswith(self.issuer):
                    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        raise AssertionError("the provider never sent the browser back")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.unlink(self._config.name)
