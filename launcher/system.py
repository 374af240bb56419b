"""The process table of VO2max Report and a launcher for it.

Local mode (the embedded default): one SQLite file per service, kombu's filesystem transport, in-process cache and
rate limits. SaaS mode: a PostgreSQL database per service (migrations as the owner role, the service as a non-owner
application role), RabbitMQ and Redis. The same code runs in both; only the environment differs.
The end-to-end tests start the system through this module too, so what they prove is what `./vo2 up` runs.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

DJANGO_SERVICES = ("identity", "measurements", "reports", "notifications")
PUBLISHERS = {"identity", "measurements", "reports"}  # services with an outbox to relay
SERVICE_CLIENTS = ("measurements", "reports")  # call other services with a service token
PORTS = {"gateway": 8000, "identity": 8001, "measurements": 8002, "analysis": 8003, "reports": 8004,
         "notifications": 8005}


@dataclass
class Process:
    name: str
    argv: list[str]
    cwd: Path
    env: dict
    health_url: str | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)


@dataclass
class SaasServers:
    postgres_admin_dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    postgres_host: str = "127.0.0.1:5432"
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_prefix: str = "vo2"
    password: str = "vo2-local-saas-password"


class System:
    def __init__(self, mode: str = "local", data_dir: Path | None = None, ports: dict | None = None,
                 saas: SaasServers | None = None, extra_env: dict | None = None, log_dir: Path | None = None,
                 quiet: bool = False):
        self.mode = mode
        self.data_dir = Path(data_dir or ROOT / "var" / mode).resolve()
        self.ports = {**PORTS, **(ports or {})}
        self.saas = saas or SaasServers()
        self.extra_env = extra_env or {}
        self.log_dir = Path(log_dir or self.data_dir / "logs")
        self.quiet = quiet
        self.processes: list[Process] = []

    # -- environment ---------------------------------------------------------------------------------------------
    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def secrets(self) -> dict:
        """Secrets of this installation, made once and kept beside its data (never the development defaults)."""
        path = self.data_dir / "secrets.json"
        if path.exists():
            return json.loads(path.read_text())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        made = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(40), "SIGNING_KEY_SECRET": secrets.token_urlsafe(40),
                **{f"client:{name}": secrets.token_urlsafe(24) for name in SERVICE_CLIENTS}}
        path.write_text(json.dumps(made))
        path.chmod(0o600)
        return made

    def common_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "BROKER_", "REDIS_"))}
        made = self.secrets()
        env.update({
            "DJANGO_SECRET_KEY": made["DJANGO_SECRET_KEY"],
            "SIGNING_KEY_SECRET": made["SIGNING_KEY_SECRET"],
            # identity knows every service client; each service knows its own id and secret
            "SERVICE_CLIENTS": ",".join(f"{name}:{made['client:' + name]}" for name in SERVICE_CLIENTS),
        })
        env.update({
            "VO2_MODE": self.mode,
            "VO2_DATA_DIR": str(self.data_dir),
            "PYTHONPATH": str(ROOT / "libs" / "servicekit"),
            "JWT_JWKS_URL": self.url("identity") + "/.well-known/jwks.json",
            "JWT_ISSUER": "vo2max-identity",
            "JWT_AUDIENCE": "vo2max-api",
            "PYTHONUNBUFFERED": "1",
            **{f"{name.upper()}_URL": self.url(name) for name in PORTS},
        })
        if self.mode == "saas":
            env.update({"BROKER_URL": self.saas.broker_url, "REDIS_URL": self.saas.redis_url})
        env.update(self.extra_env)
        return env

    def database_env(self, service: str) -> dict:
        if self.mode != "saas":
            return {}
        s = self.saas
        database, owner, app = f"{s.database_prefix}_{service}", f"{s.database_prefix}_{service}_owner", \
            f"{s.database_prefix}_{service}_app"
        return {
            "DATABASE_URL": f"postgresql://{app}:{s.password}@{s.postgres_host}/{database}",
            "DATABASE_MIGRATE_URL": f"postgresql://{owner}:{s.password}@{s.postgres_host}/{database}",
        }

    # -- the process table ---------------------------------------------------------------------------------------
    def service_env(self, service: str, base: dict) -> dict:
        client = {}
        if service in SERVICE_CLIENTS:
            client = {"SERVICE_CLIENT_ID": service, "SERVICE_CLIENT_SECRET": self.secrets()["client:" + service]}
        return {**base, **self.database_env(service), **client, "DJANGO_SETTINGS_MODULE": f"{service}.settings",
                "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "services" / service)}

    def plan(self) -> list[Process]:
        """Every process: the web server of each service, and its relay, consumer and worker where it has one."""
        base = self.common_env()
        procs = []
        for service in DJANGO_SERVICES:
            env, cwd = self.service_env(service, base), ROOT / "services" / service
            procs.append(Process(service, [PYTHON, "-m", "gunicorn", f"{service}.wsgi",
                                           "--bind", f"127.0.0.1:{self.ports[service]}",
                                           "--workers", os.environ.get("VO2_WORKERS", "2"),
                                           "--threads", "4", "--worker-class", "gthread",
                                           "--graceful-timeout", "5", "--timeout", "60"],
                                 cwd, env, self.url(service) + "/healthz"))
            for kind, argv in self.background_processes(service):
                procs.append(Process(f"{service}-{kind}", argv, cwd, env))
        analysis_env = {**base, "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "services" / "analysis")}
        procs.append(Process("analysis", [PYTHON, "-m", "uvicorn", "analysis.app:app", "--host", "127.0.0.1",
                                          "--port", str(self.ports["analysis"]), "--no-access-log"],
                             ROOT / "services" / "analysis", analysis_env, self.url("analysis") + "/healthz"))
        gateway_env = {**base, "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "gateway")}
        procs.append(Process("gateway", [PYTHON, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1",
                                         "--port", str(self.ports["gateway"]), "--no-access-log"],
                             ROOT / "gateway", gateway_env, self.url("gateway") + "/healthz"))
        return procs

    def background_processes(self, service: str) -> list[tuple[str, list[str]]]:
        package = ROOT / "services" / service / service
        out = []
        if service in PUBLISHERS:
            out.append(("relay", [PYTHON, "manage.py", "run_relay"]))
        if (package / "consumers.py").exists():
            out.append(("consumer", [PYTHON, "manage.py", "run_consumer"]))
        if (package / "celery.py").exists():
            pool = ["-P", "solo"] if self.mode == "local" else ["--concurrency", "2"]
            # a node name of its own: workers of several services (or several systems) on one host must not share
            # the remote-control queue `celery@<host>.celery.pidbox`
            node = f"{service}-{secrets.token_hex(3)}@%h"
            out.append(("worker", [PYTHON, "-m", "celery", "-A", f"{service}.celery", "worker", "-Q",
                                   f"{service}.tasks", "-n", node, "--without-mingle", "--without-gossip",
                                   "-l", "INFO", *pool]))
        return out

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Databases and migrations, before any server starts."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.mode == "saas":
            sys.path.insert(0, str(ROOT / "libs" / "servicekit"))
            from servicekit.pgroles import provision

            s = self.saas
            for service in DJANGO_SERVICES:
                provision(s.postgres_admin_dsn, f"{s.database_prefix}_{service}",
                          f"{s.database_prefix}_{service}_owner", f"{s.database_prefix}_{service}_app", s.password)
        for service in DJANGO_SERVICES:
            self.manage(service, "migrate", "--noinput", "-v", "0")
        for proc in self.plan():
            if proc.name.endswith("-consumer"):  # queues exist before anything publishes
                self.manage(proc.name.rsplit("-", 1)[0], "run_consumer", "--declare-only", capture=True)

    def manage(self, service: str, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        env = self.service_env(service, self.common_env())
        return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT / "services" / service, env=env, check=True,
                              capture_output=capture, text=True)

    def start(self, timeout: float = 60.0) -> None:
        import httpx

        for proc in self.plan():
            log = open(self.log_dir / f"{proc.name}.log", "ab")
            proc.popen = subprocess.Popen(proc.argv, cwd=proc.cwd, env=proc.env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
            self.processes.append(proc)
        deadline = time.monotonic() + timeout
        for proc in self.processes:
            while proc.health_url is None:  # relays, consumers, workers: alive is enough
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see "
                                       f"{self.log_dir / (proc.name + '.log')}")
                break
            while proc.health_url is not None:
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see "
                                       f"{self.log_dir / (proc.name + '.log')}")
                try:
                    if httpx.get(proc.health_url, timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{proc.name} did not become healthy; see {self.log_dir}")
                time.sleep(0.1)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.popen and proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.processes:
            if proc.popen:
                try:
                    proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                    proc.popen.wait()
        self.processes = []

    def __enter__(self):
        self.prepare()
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
