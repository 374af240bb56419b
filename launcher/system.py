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
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

DJANGO_SERVICES = ("identity", "measurements", "reports", "notifications")
PUBLISHERS = {"identity", "measurements", "reports", "notifications"}  # services with an outbox to relay
SERVICE_CLIENTS = ("measurements", "reports", "gateway")  # service tokens; the gateway exchanges API keys
# What computes (imports, PDFs, the analysis server): niced (nice_of below). In local mode the Celery workers among
# them get a process of their own; every other loop runs as a thread of its service's web process
# (launcher/local_process.py).
COMPUTING = {("measurements", "worker"), ("reports", "worker"), ("analysis", "web")}
# Services whose Celery worker runs nothing but their periodic jobs: in local mode one thread runs those jobs on the
# beat's schedule (role `jobs` of launcher/local_process.py) instead of a beat sending them to a worker.
ONLY_PERIODIC_JOBS = {"identity"}
# Workers whose Celery app sets its own pool (worker_pool/worker_concurrency; notifications: threads), as compose runs
# them; the others run prefork with 2 children.
POOL_OF_ITS_OWN = {"notifications"}
PORTS = {"gateway": 8000, "identity": 8001, "measurements": 8002, "analysis": 8003, "reports": 8004,
         "notifications": 8005}
# Each process serves its metrics on a port of its own (never through the gateway): a web process on its API port
# + 1000 (9000 gateway, 9001–9005 the services), the background processes on the ports after those, in plan order.
METRICS_OFFSET = 1000
# How long the services' servers keep an idle connection open (gunicorn --keep-alive, uvicorn --timeout-keep-alive; the
# images say the same): well above the gateway's idle expiry (UPSTREAM_KEEPALIVE_S, 4 s), so a server never closes a
# connection the gateway may still reuse. gunicorn's default of 2 s did: a POST sent on a connection closed at that
# moment cannot be replayed, and bench/load.py saw it as a 502 "the reports service is unavailable" about one run in three.
UPSTREAM_KEEP_ALIVE_S = 30
# How a busy machine shares its CPU (nice values; compose's cpu_shares and the k8s CPU requests say the same): first
# what a person waits for (the web servers, the gateway, the relays, the e-mail and webhook worker), then the event
# consumers at CONSUMER_NICE (live notifications, automatic reports: a little later is fine), last the work that
# computes at WORKER_NICE (COMPUTING: imports, PDFs, and the analysis server those imports call). bench/load.py, 20 labs
# on 2 cores, same hour, alternating runs: reads p99 133 / 159 ms with the consumers and analysis niced too against
# 258 / 267 ms with only the two workers (each alone: 184, 204 ms); throughput and upload → analysed no worse.
# Session 9's figures for the workers alone: reads p99 240 vs 567 ms at nice 0. Local mode runs the consumers as
# threads of their web process, so there only the processes that compute are niced.
WORKER_NICE = int(os.environ.get("VO2_WORKER_NICE", "10"))
CONSUMER_NICE = int(os.environ.get("VO2_CONSUMER_NICE", "5"))


def nice_of(service: str, kind: str) -> int:
    """The nice value of a service's process of this kind ("web", "worker", "consumer", ...)."""
    if (service, kind) in COMPUTING:
        return WORKER_NICE
    return CONSUMER_NICE if kind == "consumer" else 0


# Processes with several OS processes behind one metrics port (gunicorn workers, Celery's prefork pool) keep their
# values in files there (servicekit.metrics, PROMETHEUS_MULTIPROC_DIR); emptied when the process starts.
MULTIPROCESS_KINDS = ("gunicorn", "celery")


def healthy(url: str) -> bool:
    import http.client
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):  # not listening yet, or not (yet) answering HTTP
        return False


@dataclass
class Process:
    name: str
    argv: list[str]
    cwd: Path
    env: dict
    health_url: str | None = None
    ready_line: str | None = None  # without a health URL: what its log says once it works
    popen: subprocess.Popen | None = field(default=None, repr=False)
    log_start: int = 0  # where this run's lines begin in its log (the log is kept across runs)
    metrics_port: int | None = None
    nice: int = 0  # above 0: yields the CPU to the others (nice_of)

    @property
    def metrics_url(self) -> str | None:
        return f"http://127.0.0.1:{self.metrics_port}/metrics" if self.metrics_port else None


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
                 quiet: bool = False, metrics_ports: dict | str | None = None):
        """`metrics_ports`: process name → port; "free" for any free ports (tests); None for the defaults (API port
        + 1000 for web processes, then the ports after those)."""
        self.mode = mode
        self.data_dir = Path(data_dir or ROOT / "var" / mode).resolve()
        self.ports = {**PORTS, **(ports or {})}
        self.free_metrics_ports = metrics_ports == "free"
        self.metrics_ports = {} if metrics_ports in (None, "free") else dict(metrics_ports)
        self.saas = saas or SaasServers()
        self.extra_env = extra_env or {}
        self.log_dir = Path(log_dir or self.data_dir / "logs")
        self.quiet = quiet
        self.processes: list[Process] = []
        self._prepared: dict[str, Process] = {}  # local mode: prepared web processes waiting for start()

    # -- environment ---------------------------------------------------------------------------------------------
    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def secrets(self) -> dict:
        """Secrets of this installation, made once and kept beside its data (never the development defaults)."""
        path = self.data_dir / "secrets.json"
        if path.exists():
            made = json.loads(path.read_text())
            missing = [name for name in SERVICE_CLIENTS if f"client:{name}" not in made]
            if not missing:
                return made
            made.update({f"client:{name}": secrets.token_urlsafe(24) for name in missing})  # a client added since
            path.write_text(json.dumps(made))
            return made
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
            "METRICS_ADDR": "127.0.0.1",  # every process's metrics port: this computer only, in either mode
            **{f"{name.upper()}_URL": self.url(name) for name in PORTS},
        })
        if self.mode == "saas":
            env.update({"BROKER_URL": self.saas.broker_url, "REDIS_URL": self.saas.redis_url})
        else:
            # threaded processes on a lab's computer: glibc's default of 8 malloc arenas per core only holds
            # freed memory, with no gain at one lab's load
            env.setdefault("MALLOC_ARENA_MAX", "2")
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
        """Every process. SaaS mode: per Django service a web server (gunicorn, several workers) and each of its
        relay, consumer and worker on its own, as compose runs them. Local mode, for one lab's computer: per Django
        service one web process (waitress, threads) with its relay, consumer and e-mail worker as threads, and a
        process of its own for a worker that computes (launcher/local_process.py)."""
        base = self.common_env()
        procs = []
        for service in DJANGO_SERVICES:
            env, cwd = self.service_env(service, base), ROOT / "services" / service
            kinds = self.background_kinds(service)
            if self.mode == "local":
                script = str(ROOT / "launcher" / "local_process.py")
                if service in ONLY_PERIODIC_JOBS:
                    kinds = [kind for kind in kinds if kind not in ("worker", "beat")] + ["jobs"]
                apart = [kind for kind in kinds if (service, kind) in COMPUTING]
                beside_web = [kind for kind in kinds if kind not in apart]
                procs.append(Process(service, [PYTHON, script, "--listen", f"127.0.0.1:{self.ports[service]}",
                                               "web", *beside_web], cwd, env, self.url(service) + "/healthz",
                                     ready_line=f"{service} process ready: "))
                if apart:
                    procs.append(Process(f"{service}-background", [PYTHON, script, *apart], cwd, env,
                                         ready_line=f"{service} process ready: ",
                                         nice=max(nice_of(service, kind) for kind in apart)))
                continue
            # a service with an ASGI application of its own (notifications: streams on an event loop) runs it on
            # gunicorn's uvicorn worker, as its Dockerfile does; the others their WSGI application on gthread
            server = ([f"{service}.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker"]
                      if (cwd / service / "asgi.py").exists() else
                      [f"{service}.wsgi", "--threads", "4", "--worker-class", "gthread"])
            procs.append(Process(service, [PYTHON, "-m", "gunicorn", *server,
                                           "--bind", f"127.0.0.1:{self.ports[service]}",
                                           "--keep-alive", str(UPSTREAM_KEEP_ALIVE_S),
                                           "--workers", os.environ.get("VO2_WORKERS", "2"),
                                           "--graceful-timeout", "5", "--timeout", "60"],
                                 cwd, env, self.url(service) + "/healthz"))
            for kind in kinds:
                procs.append(Process(f"{service}-{kind}", self.background_argv(service, kind), cwd, env,
                                     nice=nice_of(service, kind)))
        # uvicorn as SaaS runs it; in local mode through launcher/local_asgi.py (what a lab never uses left out) and
        # without WebSocket support (no route of either uses it)
        uvicorn = [PYTHON, "-m", "uvicorn"] if self.mode == "saas" else \
            [PYTHON, str(ROOT / "launcher" / "local_asgi.py")]
        lean = ["--ws", "none"] if self.mode == "local" else []
        analysis_env = {**base, "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "services" / "analysis")}
        procs.append(Process("analysis", [*uvicorn, "analysis.app:app", "--host", "127.0.0.1",
                                          "--port", str(self.ports["analysis"]),
                                          "--timeout-keep-alive", str(UPSTREAM_KEEP_ALIVE_S), "--no-access-log",
                                          *lean],
                             ROOT / "services" / "analysis", analysis_env, self.url("analysis") + "/healthz",
                             nice=nice_of("analysis", "web")))
        gateway_env = {**base, "PYTHONPATH": base["PYTHONPATH"] + os.pathsep + str(ROOT / "gateway"),
                       "SERVICE_CLIENT_ID": "gateway", "SERVICE_CLIENT_SECRET": self.secrets()["client:gateway"]}
        procs.append(Process("gateway", [*uvicorn, "gateway.app:app", "--host", "127.0.0.1",
                                         "--port", str(self.ports["gateway"]), "--no-access-log", "--no-proxy-headers",
                                         *lean],
                             ROOT / "gateway", gateway_env, self.url("gateway") + "/healthz"))
        self._give_metrics_ports(procs)
        return procs

    def _give_metrics_ports(self, procs: list[Process]) -> None:
        """METRICS_PORT per process (see METRICS_OFFSET); the processes that fork get a multiprocess folder."""
        web = [proc for proc in procs if proc.name in self.ports]
        after = max(self.ports.values()) + METRICS_OFFSET
        for proc in web + [proc for proc in procs if proc.name not in self.ports]:
            port = self.metrics_ports.get(proc.name)
            if port is None:
                if self.free_metrics_ports:
                    from servicekit.testing import free_port

                    port = free_port()
                elif proc.name in self.ports:
                    port = self.ports[proc.name] + METRICS_OFFSET
                else:
                    after += 1
                    port = after
                self.metrics_ports[proc.name] = port
            proc.metrics_port = port
            proc.env = {**proc.env, "METRICS_PORT": str(port)}
            if any(kind in arg for arg in proc.argv for kind in MULTIPROCESS_KINDS):
                proc.env["PROMETHEUS_MULTIPROC_DIR"] = str(self.data_dir / "metrics" / proc.name)

    def metrics_urls(self) -> dict[str, str]:
        """Every running process's metrics endpoint, by process name."""
        return {proc.name: proc.metrics_url for proc in self.processes if proc.metrics_url}

    def background_kinds(self, service: str) -> list[str]:
        """What runs beside the web server: the relay where the service has an outbox, the consumer where it
        handles events, the Celery worker where it has jobs, and the beat that sends its periodic jobs."""
        package = ROOT / "services" / service / service
        return [kind for kind, present in (("relay", service in PUBLISHERS),
                                           ("consumer", (package / "consumers.py").exists()),
                                           ("worker", (package / "celery.py").exists()),
                                           # one scheduler of its periodic jobs (servicekit.periodic)
                                           ("beat", (package / "celery.py").exists())) if present]

    def background_argv(self, service: str, kind: str) -> list[str]:
        if kind == "relay":
            return [PYTHON, "manage.py", "run_relay"]
        if kind == "consumer":
            return [PYTHON, "manage.py", "run_consumer"]
        if kind == "beat":
            return [PYTHON, "-m", "celery", "-A", f"{service}.celery", "beat", "--pidfile=", "-l", "INFO"]
        # a node name of its own: workers of several services (or several systems) on one host must not share
        # the remote-control queue `celery@<host>.celery.pidbox`
        node = f"{service}-{secrets.token_hex(3)}@%h"
        pool = [] if service in POOL_OF_ITS_OWN else ["--concurrency", "2"]
        return [PYTHON, "-m", "celery", "-A", f"{service}.celery", "worker", "-Q", f"{service}.tasks", "-n", node,
                "--without-mingle", "--without-gossip", "-l", "INFO", *pool]

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def prepare(self, bootstrap: list[str] | None = None) -> str:
        """Databases and migrations, before any server starts: every service at once, each in one process
        (migrate, then its consumer's queue declared). `bootstrap`: identity's bootstrap arguments, run right after
        its migrations; returns what it printed. Local mode prepares in each service's own web process, which then
        waits for start() (one Django start per service instead of two: a lab's computer starts sooner)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.mode == "local":
            return self._prepare_in_place(bootstrap)
        if self.mode == "saas":
            sys.path.insert(0, str(ROOT / "libs" / "servicekit"))
            from servicekit.pgroles import provision

            s = self.saas
            for service in DJANGO_SERVICES:
                provision(s.postgres_admin_dsn, f"{s.database_prefix}_{service}",
                          f"{s.database_prefix}_{service}_owner", f"{s.database_prefix}_{service}_app", s.password)
        base, running = self.common_env(), {}
        for service in DJANGO_SERVICES:
            argv = [PYTHON, str(ROOT / "launcher" / "prepare.py")]
            if "consumer" in self.background_kinds(service):
                argv.append("--declare-queue")
            if service == "identity" and bootstrap:
                argv += ["--", "bootstrap", *bootstrap]
            running[service] = subprocess.Popen(argv, cwd=ROOT / "services" / service,
                                                env=self.service_env(service, base), stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, text=True)
        printed = {service: proc.communicate()[0] for service, proc in running.items()}
        failed = [service for service, proc in running.items() if proc.returncode != 0]
        if failed:
            raise RuntimeError("preparing " + ", ".join(failed) + " failed:\n"
                               + "\n".join(printed[service][-3000:] for service in failed))
        return printed["identity"].strip()

    def _prepare_in_place(self, bootstrap: list[str] | None) -> str:
        """Local mode: each Django service's web process migrates, declares its queue and (identity) bootstraps,
        reports on a pipe of its own, and waits on stdin for start()'s "go" (launcher/local_process.py)."""
        import json

        reports = {}
        try:
            for proc in self.plan():
                if proc.name not in DJANGO_SERVICES:
                    continue
                steps = ["migrate"] + (["declare-queue"] if "consumer" in self.background_kinds(proc.name) else [])
                read, write = os.pipe()
                proc.env = {**proc.env, "VO2_PREPARE": ",".join(steps), "VO2_PREPARED_FD": str(write)}
                if proc.name == "identity" and bootstrap:
                    proc.env["VO2_BOOTSTRAP"] = json.dumps(["bootstrap", *bootstrap])
                self._launch(proc, stdin=subprocess.PIPE, pass_fds=(write,))
                os.close(write)
                reports[proc.name] = (proc, os.fdopen(read))
                self._prepared[proc.name] = proc
            printed = {}
            for name, (proc, report) in reports.items():
                with report:
                    line = report.readline()  # the process runs in parallel with the others; EOF: it failed
                if not line:
                    proc.popen.wait(timeout=30)
                    raise RuntimeError(f"preparing {name} failed (exit {proc.popen.returncode}):\n"
                                       + self._log_since_launch(proc)[-3000:])
                printed[name] = json.loads(line)["printed"]
        except BaseException:
            self.stop()
            raise
        return printed.get("identity", "").strip()

    def manage(self, service: str, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        env = self.service_env(service, self.common_env())
        return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT / "services" / service, env=env, check=True,
                              capture_output=capture, text=True)

    def start(self, timeout: float = 120.0) -> None:
        """Every web process until it answers /healthz. Local mode starts its background processes after that (a
        lab's computer logs in sooner when they do not compete for its cores) and waits until every process says
        all its loops work (consumer subscribed, worker ready); SaaS mode starts every process at once and only
        checks the background ones are alive."""
        try:
            plan = [self._prepared.pop(proc.name, proc) for proc in self.plan()]  # local: the prepared ones
            web = [proc for proc in plan if proc.health_url]
            background = [proc for proc in plan if not proc.health_url]
            for proc in web if self.mode == "local" else plan:
                if proc.popen is not None:  # waiting since prepare(): its server and loops start now
                    proc.popen.stdin.write(b"go\n")
                    proc.popen.stdin.close()
                else:
                    self._launch(proc)
            deadline = time.monotonic() + timeout
            for proc in web:
                while True:
                    self._check_alive(proc)
                    if healthy(proc.health_url):
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{proc.name} did not become healthy; see {self.log_dir}")
                    time.sleep(0.05)
            if self.mode == "local":
                for proc in background:
                    self._launch(proc)
            for proc in background + web:
                self._check_alive(proc)
                while proc.ready_line and proc.ready_line not in self._log_since_launch(proc):
                    self._check_alive(proc)
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{proc.name} did not start working; see {self.log_dir}")
                    time.sleep(0.1)
        except BaseException:  # a half-started system is stopped, never left running
            self.stop()
            raise

    def _log_since_launch(self, proc: Process) -> str:
        with open(self.log_dir / f"{proc.name}.log", "rb") as log:
            log.seek(proc.log_start)
            return log.read().decode(errors="replace")

    def _launch(self, proc: Process, **popen) -> None:
        folder = proc.env.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:  # values of an earlier run are not this run's
            shutil.rmtree(folder, ignore_errors=True)
            Path(folder).mkdir(parents=True)
        log = open(self.log_dir / f"{proc.name}.log", "ab")
        proc.log_start = log.tell()
        # a process group of its own (stopped with killpg; a terminal's Ctrl-C reaches the launcher alone) in the
        # launcher's session: Linux's autogroup scheduler shares a busy CPU between sessions, so a session per
        # process gave each of ~20 (an idle relay as much as a web server), and all of PostgreSQL's backends
        # together, an equal share, and made nice values meaningless
        popen.setdefault("stdin", subprocess.DEVNULL)  # a background group reading the terminal would be stopped
        proc.popen = subprocess.Popen(proc.argv, cwd=proc.cwd, env=proc.env, stdout=log, stderr=subprocess.STDOUT,
                                      process_group=0, **popen)
        log.close()
        if proc.nice:  # at once, long before it starts its pool's children (they inherit it)
            os.setpriority(os.PRIO_PROCESS, proc.popen.pid, proc.nice)
        self.processes.append(proc)

    def _check_alive(self, proc: Process) -> None:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see "
                               f"{self.log_dir / (proc.name + '.log')}")

    def restart(self, name: str, env: dict | None = None, timeout: float = 60.0) -> None:
        """Stop one running process and start it again with `env` changed (a None value removes a variable), until
        it answers its health URL: for a test that needs one setting of one service for a while (reports'
        S3_PRESIGNED_DOWNLOADS) without starting another system."""
        proc = next(p for p in self.processes if p.name == name)
        if proc.popen and proc.popen.poll() is None:
            os.killpg(proc.popen.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait()
        self.processes.remove(proc)
        changed = {**proc.env, **(env or {})}
        fresh = Process(proc.name, proc.argv, proc.cwd, {k: v for k, v in changed.items() if v is not None},
                        proc.health_url, proc.ready_line, metrics_port=proc.metrics_port, nice=proc.nice)
        self._launch(fresh)
        deadline = time.monotonic() + timeout
        while not (healthy(fresh.health_url) if fresh.health_url else fresh.ready_line in self._log_since_launch(fresh)):
            self._check_alive(fresh)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} did not come back; see {self.log_dir}")
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
        self._prepared = {}

    def __enter__(self):
        self.prepare()
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
