import os
import subprocess
import sys
from pathlib import Path

import pytest

from servicekit.pytest_plugin import django_db_setup  # noqa: F401  (PostgreSQL as SaaS runs it, or SQLite)

# `caller`, `tenant_a`, `tenant_b` come from servicekit.pytest_plugin.

# ---- the analysis service, service tokens, the import pipeline --------------------------------------------------

REPO = Path(__file__).resolve().parents[3]
CPET = REPO / "testdata" / "cpet"
LACTATE = REPO / "testdata" / "lactate"


@pytest.fixture(scope="session")
def analysis_url(signing_keys, tmp_path_factory):
    """A real analysis service (uvicorn subprocess from services/analysis) verifying tokens with the test keys."""
    from servicekit import testing

    port = testing.free_port()
    log = open(tmp_path_factory.mktemp("analysis") / "analysis.log", "wb")
    env = {**os.environ, "JWT_JWKS_URL": signing_keys.jwks_url, "VO2_MODE": "local", "LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(REPO / "services" / "analysis")}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "analysis.app:app", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning"],
                               cwd=REPO / "services" / "analysis", env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        testing.wait_for_http(url + "/healthz", timeout=30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


SERVICE_SUB = "00000000-0000-4000-8000-00000000a11a"


@pytest.fixture
def pipeline(analysis_url, signing_keys, settings):
    """Imports run right after the upload's commit (the pipeline function itself, no worker), against the real
    analysis service, with service tokens minted by the test keys (identity is not running here)."""
    from servicekit import service_tokens

    settings.ANALYSIS_URL = analysis_url
    settings.IMPORT_DISPATCH = "inline"
    service_tokens.set_provider(lambda tenant: signing_keys.token(sub=SERVICE_SUB, tid=tenant, roles=["service"]))
    yield
    service_tokens.set_provider(None)


@pytest.fixture(autouse=True)
def _uploads_dir(settings, tmp_path):
    settings.UPLOADS_DIR = str(tmp_path / "uploads")
    settings.IMPORT_DISPATCH = "none"


def upload(client, athlete_id, path, *, key=None, fmt=None, modality=None, name=None):
    data = {"athlete": athlete_id, "file": open(path, "rb") if not isinstance(path, tuple) else path[1]}
    if isinstance(path, tuple):
        from django.core.files.uploadedfile import SimpleUploadedFile

        data["file"] = SimpleUploadedFile(path[0], path[1])
    if fmt:
        data["format"] = fmt
    if modality:
        data["modality"] = modality
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    try:
        return client.post("/api/v1/imports/", data, format="multipart", **headers)
    finally:
        if hasattr(data["file"], "close"):
            data["file"].close()


ATHLETE = {"first_name": "Anna", "last_name": "Ivanova", "sex": "female", "birth_date": "1994-03-12",
           "height_cm": 168.5, "body_mass_kg": 58.2, "sport": "running"}


@pytest.fixture
def athlete(caller, tenant_a):
    response = caller(tenant_a).post("/api/v1/athletes/", ATHLETE, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def outbox(event_type=None):
    """Events written to the outbox (committed), oldest first, as (type, data)."""
    import json

    from servicekit.events.models import OutboxEvent

    rows = OutboxEvent.objects.order_by("id")
    if event_type:
        rows = rows.filter(type=event_type)
    return [(r.type, json.loads(r.body)["data"]) for r in rows]


def db_count(tenant_id, model, **filters):
    """Rows as the tenant sees them (RLS needs the tenant set for the transaction on PostgreSQL)."""
    from servicekit.tenancy import tenant_transaction

    with tenant_transaction(str(tenant_id)):
        return model.objects.filter(**filters).count()
