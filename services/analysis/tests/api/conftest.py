import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from servicekit import jwt as kit_jwt
from servicekit.testing import SigningKeys

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return SigningKeys(tmp_path_factory.mktemp("keys"))


@contextmanager
def signed_in_client(keys, monkeypatch):
    """The analysis app over HTTP, called with a physiologist's token that the app verifies against `keys`."""
    monkeypatch.setenv("JWT_JWKS_URL", keys.jwks_url)
    kit_jwt.set_verifier(None)
    from analysis.app import create_app

    with TestClient(create_app()) as c:
        c.headers["Authorization"] = "Bearer " + keys.token(tid="7d1c5b1e-0000-4000-8000-000000000001",
                                                            roles=["physiologist"])
        yield c
    kit_jwt.set_verifier(None)


@pytest.fixture
def client(keys, monkeypatch):
    with signed_in_client(keys, monkeypatch) as c:
        yield c
