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


class Directory:
    """Who is a member of which tenant with which role, as the identity stand-in answers it."""

    def __init__(self):
        self.members: dict[tuple[str, str], str] = {}
        self.down = False

    def add(self, member, role: str | None = None, tenant_id: str | None = None) -> str:
        """Register a `caller(...)` (or a user id with `role` and `tenant_id`) as a member; returns the user id."""
        user_id = getattr(member, "user_id", member)
        self.members[(str(tenant_id or member.tenant_id), str(user_id))] = role or member.role
        return str(user_id)


@pytest.fixture(scope="session")
def _identity_standin():
    """A real HTTP server in the place of identity's internal membership route
    (`GET /api/v1/internal/members/{user_id}`, identity's own tests prove the route itself): it verifies the
    service token with the kit's verifier and answers from `directory` for the token's tenant only."""
    from servicekit import jwt, testing

    directory = Directory()

    def answer(request):
        prefix = "/api/v1/internal/members/"
        try:
            principal = jwt.verifier_from_env().verify(request.bearer)
        except jwt.InvalidToken:
            return 401, {"type": "urn:vo2:problem:invalid-token", "detail": "bad token"}
        if directory.down:
            return 503, {"detail": "down"}
        if request.method != "GET" or not principal.is_service or not request.path.startswith(prefix):
            return 403, {"type": "urn:vo2:problem:forbidden", "detail": "services only"}
        user_id = request.path[len(prefix):]
        role = directory.members.get((str(principal.tenant_id), user_id))
        if role is None:
            return 404, {"type": "urn:vo2:problem:not-a-member", "detail": "no member"}
        return 200, {"user_id": user_id, "role": role, "is_active": True}

    with testing.JsonStandIn(answer) as stand_in:
        yield stand_in.url, directory


@pytest.fixture(autouse=True)
def directory(_identity_standin, signing_keys, settings):
    """The tenant memberships identity would answer (empty at the start of each test); service tokens are minted
    by the test keys."""
    from servicekit import service_tokens

    url, members = _identity_standin
    settings.IDENTITY_URL = url
    members.members.clear()
    members.down = False
    service_tokens.set_provider(lambda tenant: signing_keys.token(sub=SERVICE_SUB, tid=tenant, roles=["service"]))
    yield members
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
    """Events written to the outbox (committed), oldest first, as (type, data); the live-progress events only when
    asked for by type (test_imports checks them on their own)."""
    import json

    from servicekit.events.models import OutboxEvent

    rows = OutboxEvent.objects.order_by("id")
    if event_type:
        rows = rows.filter(type=event_type)
    else:
        rows = rows.exclude(type="measurements.import.progressed")
    return [(r.type, json.loads(r.body)["data"]) for r in rows]


def db_count(tenant_id, model, **filters):
    """Rows as the tenant sees them (RLS needs the tenant set for the transaction on PostgreSQL)."""
    from servicekit.tenancy import tenant_transaction

    with tenant_transaction(str(tenant_id)):
        return model.objects.filter(**filters).count()
