"""The Celery path once, with a real worker process, and service tokens from identity by client credentials."""
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from measurements.exercise_tests.models import Sample

from .conftest import CPET, db_count, outbox, upload

# The worker is another process: it must see the committed rows, which the in-memory SQLite test database cannot
# show it. Local mode runs the same task code (IMPORT_DISPATCH=inline proves the pipeline on SQLite).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

SECRET = "s3cret-" + uuid.uuid4().hex


@pytest.fixture
def identity(signing_keys):
    """A stand-in for identity's client-credentials endpoint, minting tokens with the test keys."""
    from servicekit import testing

    calls = []

    def answer(request):
        body = request.json()
        calls.append(body)
        ok = request.path == "/api/v1/auth/service-token" and body.get("client_secret") == SECRET
        if not ok:
            return 401, {"detail": "bad client"}
        return 200, {"access": signing_keys.token(sub=str(uuid.uuid4()), tid=body["tenant"], roles=["service"]),
                     "token_type": "Bearer", "expires_in": 300}

    with testing.JsonStandIn(answer) as stand_in:
        yield stand_in.url, calls


def test_service_token_client_caches_per_tenant_and_refuses_without_secret(identity):
    from servicekit.service_tokens import ServiceTokenError
    from servicekit.service_tokens import ServiceTokens as ServiceTokenClient

    url, calls = identity
    client = ServiceTokenClient(url, "measurements", SECRET)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert client.token(a) == client.token(a) != client.token(b)
    assert [c["tenant"] for c in calls] == [a, b] and calls[0]["client_id"] == "measurements"
    client.invalidate(a)
    client.token(a)
    assert len(calls) == 3
    with pytest.raises(ServiceTokenError, match="refused"):
        ServiceTokenClient(url, "measurements", "wrong").token(a)
    with pytest.raises(ServiceTokenError, match="SERVICE_CLIENT_SECRET"):
        ServiceTokenClient(url, "measurements", None).token(a)


def test_upload_is_imported_by_a_real_celery_worker(caller, tenant_a, athlete, analysis_url, identity, settings,
                                                    tmp_path):
    from servicekit import testing

    testing.need_server("postgres")
    url, calls = identity
    queue = f"measurements.tasks.test-{uuid.uuid4().hex[:8]}"
    settings.IMPORT_DISPATCH, settings.CELERY_QUEUE = "celery", queue
    env = {**os.environ, "ANALYSIS_URL": analysis_url, "IDENTITY_URL": url, "SERVICE_CLIENT_ID": "measurements",
           "SERVICE_CLIENT_SECRET": SECRET, "MEASUREMENTS_QUEUE": queue, "UPLOADS_DIR": settings.UPLOADS_DIR,
           "LOG_LEVEL": "WARNING"}
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "measurements.celery", "worker", "-Q", queue,
                               "--pool", "solo", "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle",
                               "--without-gossip"],
                              cwd=Path(__file__).resolve().parents[1], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        owner = caller(tenant_a)
        accepted = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt")
        assert accepted.status_code == 202 and accepted.json()["status"] == "queued"
        seen, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            imp = owner.get(f"/api/v1/imports/{accepted.json()['id']}").json()
            if not seen or seen[-1] != imp["status"]:
                seen.append(imp["status"])
            if imp["status"] in ("done", "failed") or worker.poll() is not None:
                break
            time.sleep(0.05)
        assert imp["status"] == "done", (imp, (tmp_path / "worker.log").read_text()[-3000:])
        assert seen[0] == "queued" and seen[-1] == "done"
        assert db_count(tenant_a, Sample, test_id=imp["test"]) > 500
        assert owner.get(f"/api/v1/tests/{imp['test']}/analysis").json()["vo2max"]["vo2_ml_min"] > 3000
        assert [t for t, _ in outbox()] == ["measurements.test.imported", "measurements.test.analyzed"]
        assert [c["tenant"] for c in calls] == [tenant_a]  # one service token, cached for parse and cpet
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


def start_worker(queue, env, log_path):
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "measurements.celery", "worker", "-Q", queue,
                             "--pool", "solo", "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle",
                             "--without-gossip", "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
                            cwd=Path(__file__).resolve().parents[1], env=env, stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT)


def test_a_worker_killed_mid_import_leaves_it_to_the_next_worker_once(caller, tenant_a, athlete, analysis_url,
                                                                      signing_keys, settings, tmp_path):
    """SIGKILL while the import waits on identity; late ack + reject-on-worker-lost hand the job to the next worker,
    whose run completes it exactly once (one test, one set of samples, one pair of events)."""
    from measurements.exercise_tests.models import ExerciseTest
    from servicekit import testing

    testing.need_server("postgres")
    started = threading.Event()

    calls = []

    def slow_first_call(request):
        body = request.json()
        calls.append(body)
        if len(calls) == 1:
            started.set()
            time.sleep(30)  # the first worker dies while waiting here
        return 200, {"access": signing_keys.token(sub=str(uuid.uuid4()), tid=body["tenant"], roles=["service"]),
                     "expires_in": 300}

    server = testing.JsonStandIn(slow_first_call)
    queue = f"measurements.tasks.test-{uuid.uuid4().hex[:8]}"
    settings.IMPORT_DISPATCH, settings.CELERY_QUEUE = "celery", queue
    env = {**os.environ, "ANALYSIS_URL": analysis_url, "IDENTITY_URL": server.url,
           "SERVICE_CLIENT_ID": "measurements", "SERVICE_CLIENT_SECRET": SECRET, "MEASUREMENTS_QUEUE": queue,
           "UPLOADS_DIR": settings.UPLOADS_DIR, "LOG_LEVEL": "WARNING"}
    log_path = tmp_path / "workers.log"
    first = start_worker(queue, env, log_path)
    second = None
    try:
        owner = caller(tenant_a)
        accepted = upload(owner, athlete["id"], CPET / "gasexchanger" / "Anton_vo2max.txt")
        assert accepted.status_code == 202
        assert started.wait(60), log_path.read_text()[-3000:]
        first.kill()  # SIGKILL: no cleanup, no ack
        first.wait(10)
        assert owner.get(f"/api/v1/imports/{accepted.json()['id']}").json()["status"] != "done"
        second = start_worker(queue, env, log_path)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            imp = owner.get(f"/api/v1/imports/{accepted.json()['id']}").json()
            if imp["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert imp["status"] == "done", (imp, log_path.read_text()[-3000:])
        assert db_count(tenant_a, ExerciseTest, athlete_id=athlete["id"]) == 1
        assert db_count(tenant_a, Sample, test_id=imp["test"]) > 500
        assert [t for t, _ in outbox()] == ["measurements.test.imported", "measurements.test.analyzed"]
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
        server.close()
