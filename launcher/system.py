"""The process table of VO2max Report and a launcher for it.

Local mode (the embedded default): one SQLite file per service, kombu's filesystem transport, in-process cache and
rate limits. SaaS mode: a PostgreSQL database per service (migrations as the owner role, the service as a non-owner
application role), RabbitMQ and Redis. The same code runs in both; only the environment differs.
The end-to-end tests start the system through this module too, so what they prove is what `./vo2 up` runs.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

DJANGO_SERVICES = ("identity", "measurements", "reports", "notifications")
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

    def common_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "BROKER_", "REDIS_"))}
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
            env.update({
                "BROKER_URL": self.saas.broker_url,
                "REDIS_URL": self.saas.redis_url,
                "DJANGO_SECRET_KEY": "saas-test-" + self.saas.password,
                "SIGNING_KEY_SECRET": "saas-test-signing-" + self.saas.password,
                "SERVICE_CLIENTS": "reports:saas-reports-secret,notifications:saas-notifications-secret",
            })
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
    def plan(self) -> list[Process]:
        base = self.common_env()
        procs = []
        for service in DJANGO_SERVICES:
            env = {**base, **self.database_env(service), "DJANGO_SETTINGS_MODULE": f"{service}.settings",
                   "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "services" / service)}
            procs.append(Process(service, [PYTHON, "-m", "gunicorn", f"{service}.wsgi",
                                           "--bind", f"127.0.0.1:{self.ports[service]}",
                                           "--workers", os.environ.get("VO2_WORKERS", "2"),
                                           "--threads", "4", "--worker-class", "gthread",
                                           "--graceful-timeout", "5", "--timeout", "60"],
                                 ROOT / "services" / service, env, self.url(service) + "/healthz"))
        analysis_env = {**base, "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "services" / "analysis")}
        procs.append(Process("analysis", [PYTHON, "-m", "uvicorn", "analysis.app:app", "--host", "127.0.0.1",
                                          "--port", str(self.ports["analysis"]), "--no-access-log"],
                             ROOT / "services" / "analysis", analysis_env, self.url("analysis") + "/healthz"))
        gateway_env = {**base, "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "gateway")}
        procs.append(Process("gateway", [PYTHON, "-m", "uvicorn", "gateway.app:app", "--host", "127.0.0.1",
                                         "--port", str(self.ports["gateway"]), "--no-access-log"],
                             ROOT / "gateway", gateway_env, self.url("gateway") + "/healthz"))
        return procs

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
        for proc in self.plan():
            if proc.name in DJANGO_SERVICES:
                self.manage(proc.name, "migrate", "--noinput", "-v", "0")

    def manage(self, service: str, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        proc = next(p for p in self.plan() if p.name == service)
        return subprocess.run([PYTHON, "manage.py", *args], cwd=proc.cwd, env=proc.env, check=True,
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
            while True:
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
