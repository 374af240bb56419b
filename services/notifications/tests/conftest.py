import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from servicekit import testing
from servicekit.pytest_plugin import django_db_setup  # noqa: F401  (PostgreSQL as SaaS runs it, or SQLite)

SERVICE_DIR = Path(__file__).resolve().parent.parent
REPO = SERVICE_DIR.parent.parent
# test-only event types beside the real contracts
os.environ["VO2_CONTRACTS_DIR"] = os.pathsep.join([str(SERVICE_DIR / "tests" / "contracts"),
                                                   str(REPO / "contracts" / "events")])
os.environ.setdefault("EVENTS_RETRY_DELAY_SECONDS", "0.05")
from servicekit.events import contracts  # noqa: E402

contracts.clear_cache()

_db = settings.DATABASES["default"]
if _db["ENGINE"].endswith("sqlite3"):
    # a file, not memory: consumer, relay and worker processes started by tests share it
    _db.setdefault("TEST", {})["NAME"] = str(Path(os.environ["VO2_DATA_DIR"]) / "notifications-test.sqlite3")


def database_url() -> str:
    if _db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{_db['TEST']['NAME']}"
    return os.environ["DATABASE_URL"]


def process_env(**extra) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(SERVICE_DIR), "DB_CONN_MAX_AGE": "0"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def manage(*args, env=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=SERVICE_DIR, env=env or process_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def stop(proc: subprocess.Popen, timeout=15) -> str:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.stdout.read() if proc.stdout else ""


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    """`what` may be a callable: it is read when the wait times out (logs as they are then, not as they were)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")


class Bus:
    """One broker for a test: a unique consumer name (queue prefix) so runs never share queues."""

    def __init__(self, kind: str):
        self.kind = kind
        self.name = f"t{uuid.uuid4().hex[:10]}"
        self.url = testing.RABBITMQ_URL if kind == "rabbitmq" else "filesystem://"

    def env(self, **extra):
        return process_env(BROKER_URL=self.url, **extra)

    def cleanup(self):
        from servicekit.events import broker

        with broker.connection(self.url) as conn:
            channel = conn.channel()
            for q in (broker.queue_name(self.name), broker.dead_letter_queue_name(self.name), self.name + ".probe",
                      broker.dead_letter_watch_queue_name(self.name)):
                try:
                    channel.queue_delete(q)
                except Exception:
                    channel = conn.channel()


@pytest.fixture(params=["rabbitmq", "filesystem"])
def bus(request):
    if request.param == "rabbitmq":
        testing.need_server("rabbitmq")
    b = Bus(request.param)
    yield b
    b.cleanup()


@pytest.fixture
def rabbit():
    testing.need_server("rabbitmq")
    b = Bus("rabbitmq")
    yield b
    b.cleanup()


# `caller`, `tenant_a`, `tenant_b` come from servicekit.pytest_plugin.
