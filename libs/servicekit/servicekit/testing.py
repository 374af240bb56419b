"""Test mechanism shared by every suite: real servers or a loud failure, signing keys and tokens, databases.

In CI (CI=true or VO2_REQUIRE_SERVERS=1) a test that needs PostgreSQL, RabbitMQ or Redis fails when the server is
missing; elsewhere it is skipped with the reason printed, never silently.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

POSTGRES_ADMIN_DSN = os.environ.get("VO2_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("VO2_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("VO2_TEST_REDIS", "redis://127.0.0.1:6379/15")
# the broker's address follows VO2_TEST_AMQP, so that a run can use a private node of its own
_AMQP = urlsplit(RABBITMQ_URL)
SERVERS = {"postgres": ("127.0.0.1", 5432), "rabbitmq": (_AMQP.hostname or "127.0.0.1", _AMQP.port or 5672),
           "redis": ("127.0.0.1", 6379)}


def servers_required() -> bool:
    return os.environ.get("VO2_REQUIRE_SERVERS", "") == "1" or os.environ.get("CI", "").lower() == "true"


def server_up(name: str, timeout: float = 1.0) -> bool:
    host, port = SERVERS[name]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_server(name: str) -> None:
    """Call at the top of a test or fixture that needs a real server."""
    import pytest

    if server_up(name):
        return
    message = f"{name} is not reachable at {SERVERS[name][0]}:{SERVERS[name][1]}"
    if servers_required():
        pytest.fail(f"{message} (servers are required here)", pytrace=False)
    pytest.skip(f"{message}; start it or run with VO2_REQUIRE_SERVERS=1 to make this a failure")


class RabbitMQVhost:
    """A virtual host of its own on the shared RabbitMQ, for a whole system under test. The services' task and event
    queues have fixed names, so two runs on the same vhost take each other's jobs and events; a vhost per run keeps
    them apart on one broker (a private node, PrivateRabbitMQ, costs 5–40 s; a vhost well under a second).

    Made with `rabbitmqctl` (the broker here is on this machine). When VO2_TEST_AMQP names a broker of its own,
    that broker is used as given: it is the run's already."""

    def __init__(self, prefix: str = "vo2test"):
        self.name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.given = "VO2_TEST_AMQP" in os.environ
        self.url = RABBITMQ_URL if self.given else _AMQP._replace(path="/" + self.name).geturl()

    @staticmethod
    def _ctl(*args: str) -> None:
        import subprocess

        try:
            done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"rabbitmqctl {args[0]} could not run ({exc}): set VO2_TEST_AMQP to a broker "
                               "of the run's own instead") from exc
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def create(self) -> "RabbitMQVhost":
        if not self.given:
            self._ctl("add_vhost", self.name)
            self._ctl("set_permissions", "-p", self.name, _AMQP.username or "guest", ".*", ".*", ".*")
        return self

    def delete(self) -> None:
        if not self.given:
            self._ctl("delete_vhost", self.name)  # its queues, exchanges and messages go with it

    def __enter__(self) -> "RabbitMQVhost":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.delete()


class SigningKeys:
    """An RSA key pair standing in for identity's, with its JWKS written to a file services can read."""

    def __init__(self, directory: Path, kid: str | None = None):
        self.kid = kid or f"test-{uuid.uuid4().hex[:8]}"
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        self.jwks = {"keys": [jwk]}
        directory.mkdir(parents=True, exist_ok=True)
        self.jwks_path = directory / "jwks.json"
        self.jwks_path.write_text(json.dumps(self.jwks))

    @property
    def jwks_url(self) -> str:
        return f"file://{self.jwks_path}"

    def token(self, *, sub: str | None = None, tid: str | None = None, roles=("owner",), iss="vo2max-identity",
              aud="vo2max-api", lifetime: int = 300, headers: dict | None = None, **claims) -> str:
        now = int(time.time())
        payload = {"iss": iss, "aud": aud, "sub": sub or str(uuid.uuid4()), "tid": tid, "roles": list(roles),
                   "iat": now, "nbf": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **claims}
        head = {"kid": self.kid, "typ": "at+jwt", **(headers or {})}
        return pyjwt.encode(payload, self.private_pem, algorithm="RS256", headers=head)


def backends_waiting_for_a_lock(database: str) -> set[int]:
    """The PostgreSQL backends of `database` waiting for a lock now (their pids), as the server itself reports them:
    how a test knows a concurrent transaction has reached the point it must wait at."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                             [database]).fetchall()
    return {pid for (pid,) in rows}


def two_first_writes_at_once(model, first, second, timeout: float = 20.0) -> tuple:
    """Run `first()` in a thread whose first save of a `model` row (inserted, not committed) holds its transaction
    open until `second()`, run here, waits on a lock behind it; then let both finish. Returns both answers: how a
    test proves two first writes of a one-per-tenant row meet (PostgreSQL; SQLite runs writers one at a time)."""
    import threading

    from django.db import connection, connections

    database = connection.settings_dict["NAME"]
    inserted, second_sent = threading.Event(), threading.Event()
    real_save, holder, answers = model.save, [], {}

    def save_then_hold(self, *args, **kwargs):
        real_save(self, *args, **kwargs)
        if threading.current_thread() in holder and not inserted.is_set():
            inserted.set()
            second_sent.wait(timeout)
            mine = connection.connection.info.backend_pid
            deadline = time.monotonic() + timeout
            while not backends_waiting_for_a_lock(database) - {mine} and time.monotonic() < deadline:
                time.sleep(0.02)

    def run_first():
        try:
            answers["first"] = first()
        finally:
            connections.close_all()

    model.save = save_then_hold
    try:
        thread = threading.Thread(target=run_first)
        holder.append(thread)
        thread.start()
        if not inserted.wait(timeout):
            raise AssertionError(f"the first write saved no {model.__name__} row")
        second_sent.set()
        answers["second"] = second()
        thread.join(timeout)
    finally:
        model.save = real_save
    return answers.get("first"), answers["second"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s ({last})")


class StandInRequest:
    """One request a `JsonStandIn` received: method, path (with its query), headers, raw body."""

    def __init__(self, method: str, path: str, headers, body: bytes):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def json(self):
        return json.loads(self.body or b"{}")

    @property
    def bearer(self) -> str:
        """The bearer token of the Authorization header, "" when there is none."""
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""


class JsonStandIn:
    """A real HTTP server (127.0.0.1, a free port, a thread per request) in the place of another service in a test.
    Every request goes to `answer(request)`, which returns `(status, body)`; the body is sent as JSON. The test's
    own logic stays in `answer`; the socket, framing and headers are here once.

        stand_in = JsonStandIn(lambda request: (200, {"ok": True}))   # stand_in.url; stand_in.close()
    """

    def __init__(self, answer):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = answer(StandInRequest(self.command, self.path, self.headers, body))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # a request held on purpose (a worker killed meanwhile) never blocks close
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class S3Server:
    """An S3-compatible server for tests: moto in server mode, its own process, over HTTP on 127.0.0.1 (a free port).
    It speaks the S3 REST API that boto3 speaks to AWS; it is not AWS (see the README for what that proves).

        with S3Server() as s3:        # s3.endpoint_url, s3.env (credentials and endpoint for a service's process)
            s3.make_bucket("vo2-test")
    """

    ACCESS_KEY, SECRET_KEY, REGION = "vo2-test-access", "vo2-test-secret", "us-east-1"

    def __init__(self):
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process = None

    @property
    def env(self) -> dict:
        return {"S3_ENDPOINT_URL": self.endpoint_url, "S3_REGION": self.REGION, "AWS_ACCESS_KEY_ID": self.ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY, "AWS_DEFAULT_REGION": self.REGION}

    def start(self) -> "S3Server":
        import subprocess
        import sys

        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_http(f"{self.endpoint_url}/moto-api/", timeout=60)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - it would not stop: end it
                self.process.kill()
            self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.REGION,
                            aws_access_key_id=self.ACCESS_KEY, aws_secret_access_key=self.SECRET_KEY)

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, dict]:
        """Every object under a prefix as the server holds it: name → head (size, encryption, ...)."""
        client = self.client()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                found[item["Key"]] = client.head_object(Bucket=bucket, Key=item["Key"])
        return found


class OtlpReceiver:
    """A tiny OTLP/HTTP trace receiver (what a collector does first): `POST /v1/traces` with the protobuf
    ExportTraceServiceRequest the SDK's exporter sends, decoded into `spans` (dicts: trace_id, span_id, parent_id,
    name, kind, service, attributes). Point a system at it with OTEL_EXPORTER_OTLP_ENDPOINT=`receiver.endpoint`."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                              ExportTraceServiceResponse)

        self.spans: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._take(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _take(self, request) -> None:
        def value(v):
            return next((getattr(v, f) for f in ("string_value", "int_value", "bool_value", "double_value")
                         if v.HasField(f)), None)

        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append({"trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                                  "parent_id": span.parent_span_id.hex() or None, "name": span.name,
                                  "kind": span.kind, "service": resource.get("service.name"),
                                  "process": resource.get("vo2.process"),
                                  "attributes": {a.key: value(a.value) for a in span.attributes},
                                  "error": span.status.code == 2})
        with self._lock:
            self.spans.extend(found)

    def trace(self, trace_id: str) -> list[dict]:
        with self._lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]

    def wait_for(self, predicate, timeout: float = 30.0) -> list[dict]:
        """Spans as soon as `predicate(spans)` holds (e.g. every expected span of a trace arrived)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"the spans awaited did not arrive within {timeout} s")
            time.sleep(0.2)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- every free-text field bounded ------------------------------------------------------------------------------

_BOUNDED_STRING_FORMATS = {"uuid", "date", "date-time", "time", "binary", "byte", "duration"}


def unbounded_request_fields(schema: dict) -> list[str]:
    """Writable request-body fields of an OpenAPI document (drf-spectacular's) that take text or collections of any
    size: strings without `maxLength` (enums and fixed formats such as uuid or date are bounded by their form),
    arrays without `maxItems`, objects with free keys (`additionalProperties`) and no `maxProperties`. Each as
    "METHOD path: field.path". The body size limit is not a field limit: 10 MiB of notes is not a note."""
    components = schema.get("components", {}).get("schemas", {})
    found: list[str] = []

    def walk(node, where: str, seen: frozenset):
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                walk(components.get(name, {}), where, seen | {name})
            return
        if node.get("readOnly"):
            return
        for combined in ("allOf", "oneOf", "anyOf"):
            for part in node.get(combined, []):
                walk(part, where, seen)
        kinds = node.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if "string" in kinds and "enum" not in node and "maxLength" not in node \
                and node.get("format") not in _BOUNDED_STRING_FORMATS:
            found.append(where)
        if "array" in kinds:
            if "maxItems" not in node:
                found.append(where + "[]")
            walk(node.get("items", {}), where + "[]", seen)
        for name, prop in (node.get("properties") or {}).items():
            walk(prop, f"{where}.{name}" if where else name, seen)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) or extra is True:
            if "maxProperties" not in node:
                found.append((where or "body") + "{}")
            if isinstance(extra, dict):
                walk(extra, (where or "body") + "{}", seen)

    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method.lower() not in ("post", "put", "patch"):
                continue
            for media, body in (operation.get("requestBody") or {}).get("content", {}).items():
                before = len(found)
                walk(body.get("schema", {}), "", frozenset())
                found[before:] = [f"{method.upper()} {path} ({media}): {f or 'body'}" for f in found[before:]]
    return sorted(set(found))

class PrivateRabbitMQ:
    """A RabbitMQ node of its own (never the shared one) for a test or bench that must stop the broker: its own node
    name, ports, data and log folders under `base`; `stop()` / `start()` again keep its data (durable queues and
    their messages survive, as on a real broker restart), `kill()` is a crash. Starting takes 5–40 s."""

    def __init__(self, base: Path, server: str = "/usr/lib/rabbitmq/bin/rabbitmq-server"):
        self.base, self.server = Path(base), server
        self.port, self.dist_port = free_port(), free_port()
        self.node = f"vo2private{self.port}@localhost"
        self.proc = None
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "plugins").write_text("[].\n")  # no management plugin: its fixed port is the shared node's

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 120.0) -> "PrivateRabbitMQ":
        import subprocess

        env = {**os.environ, "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
               "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.base / "log"), "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "plugins"),
               "RABBITMQ_PID_FILE": str(self.base / "pid"), "RABBITMQ_CONFIG_FILE": str(self.base / "none")}
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen([self.server], env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        import amqp

        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"private RabbitMQ exited ({self.proc.returncode}); see {self.base}/server.log")
            try:
                conn = amqp.Connection(f"127.0.0.1:{self.port}", connect_timeout=1)
                conn.connect()
                conn.close()
                return self
            except Exception:
                time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"private RabbitMQ did not start within {timeout} s; see {self.base}/server.log")

    def _signal(self, signum, wait: float) -> None:
        import signal as _signal

        if self.proc is None or self.proc.poll() is not None:
            return
        pid_file = self.base / "pid"
        pids = {self.proc.pid}
        if pid_file.exists() and pid_file.read_text().strip().isdigit():
            pids.add(int(pid_file.read_text().strip()))
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(wait)
        except Exception:
            os.killpg(self.proc.pid, _signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        import signal as _signal

        self._signal(_signal.SIGTERM, 60)

    def kill(self) -> None:
        import signal as _signal

        self._signal(_signal.SIGKILL, 30)


def _wait_port(port: int, proc, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}); see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on {port} within {timeout} s; see {log}")


class PrivatePostgres:
    """A PostgreSQL cluster of its own (never the shared server) for a test or bench that must stop the database:
    `initdb` into `base`, served by `pg_ctl` on a free port of 127.0.0.1 with trust authentication. `stop()` is a
    clean (fast) shutdown, `kill()` an immediate one (crash recovery at the next start); `start()` again keeps the
    data. PostgreSQL refuses to run as root: as root the cluster belongs to, and runs as, the `postgres` OS user.

        with PrivatePostgres(tmp / "pg") as pg:     # pg.admin_dsn, pg.host ("127.0.0.1:<port>")
            ...
    """

    def __init__(self, base: Path, bindir: str = os.environ.get("VO2_PG_BINDIR", "/usr/lib/postgresql/15/bin"),
                 os_user: str = "postgres"):
        import tempfile

        self.bindir = Path(bindir)
        self.as_user = os_user if os.geteuid() == 0 else None
        if self.as_user:  # the server's user must reach its folder: one of its own in the temp dir, not `base`
            base = tempfile.mkdtemp(prefix="vo2-private-pg-")
        self.base = Path(base)
        self.data, self.log = self.base / "data", self.base / "server.log"
        self.port = free_port()
        self.initialised = False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 120.0):
        import subprocess

        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)
        return done

    def init(self) -> None:
        import shutil

        if not (self.bindir / "initdb").exists():
            raise FileNotFoundError(f"initdb not found in {self.bindir} (apt: postgresql-15; or set VO2_PG_BINDIR)")
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.base, self.as_user, self.as_user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            # a disposable test cluster: no fsync (its data outlives a stop or a kill of the server, not of the
            # machine), sockets in its own folder, enough connections for a whole system
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = "
                       f"'{self.base}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 200\nshared_buffers = 64MB\n")
        self.initialised = True

    def start(self, timeout: float = 60.0) -> "PrivatePostgres":
        if not self.initialised:
            self.init()
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(int(timeout)), "start",
                  timeout=timeout + 10)
        _wait_port(self.port, None, timeout, "private PostgreSQL", self.log)
        return self

    def running(self) -> bool:
        import subprocess

        try:
            self._run("pg_ctl", "-D", str(self.data), "status", timeout=10)
            return True
        except subprocess.CalledProcessError:
            return False

    def stop(self, mode: str = "fast") -> None:
        """`fast`: open sessions are ended, committed data written; `immediate`: a crash (see kill)."""
        if self.initialised and self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", timeout=70)

    def kill(self) -> None:
        self.stop("immediate")

    def remove(self) -> None:
        """Stopped, and its folder gone."""
        import shutil

        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.remove()


class PrivateRedis:
    """A redis-server of its own (never the shared one) on a free port of 127.0.0.1, no persistence: `stop()` ends
    it (its keys with it, as a restarted cache loses them), `start()` again on the same port."""

    def __init__(self, base: Path, server: str = "redis-server"):
        self.base, self.server = Path(base), server
        self.port = free_port()
        self.proc = None
        self.base.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> "PrivateRedis":
        import shutil
        import subprocess

        if shutil.which(self.server) is None:
            raise FileNotFoundError(f"{self.server} not found (apt: redis-server)")
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen([self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.base)], stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait_port(self.port, self.proc, timeout, "private redis-server", self.base / "server.log")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:  # noqa: BLE001 - it would not stop: end it
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
