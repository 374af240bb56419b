"""Fault drills (issue 18, item 3): a whole SaaS system on servers of its own — a private PostgreSQL cluster
(servicekit.testing.PrivatePostgres), a private Redis, a private RabbitMQ node — so that stopping one never touches
the shared servers, and report files in a small tmpfs so that the disk can really fill up. Each drill stops a part
while work is accepted and under way, starts it again, and ends with its counts printed and asserted: requests
accepted, finished, lost (0), duplicates (0), nothing half-stored, no event lost (each finished job's event reached
notifications exactly once).

The RabbitMQ drill here is a webhook burst through the gateway (athlete deletions, each told to a subscribed
receiver and confirmed by every service). The finer broker proofs — relay and consumer killed, the broker stopped
under a burst of 40 events, one delivery and one notification each — are in
`services/notifications/tests/test_delivery_kills.py` (the notifications[postgres] suite).

Needs /usr/lib/postgresql/15/bin (or VO2_PG_BINDIR), redis-server, rabbitmq-server and tmpfs mounts (root): under
CI=true / VO2_REQUIRE_SERVERS=1 a missing one fails these tests; elsewhere it is a skip with the reason."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from launcher.system import PORTS, SaasServers, System
from servicekit import testing

from .conftest import Api
from .test_notifications_and_webhooks import Receiver, Stream
from .test_tests_and_reports import FORMATS, upload

OWNER_EMAIL, OWNER_PASSWORD = "owner@drills.lab", "drills-lab-owner-pw-1"
PREFIX = "vo2drill"
EXPORTS = [FORMATS["zan"], FORMATS["cortex-xml"], FORMATS["generic"]]
REPORTS_TMPFS = "24m"
UNDER_WAY = ("parsing", "storing", "analyzing")  # an import's status while it runs is its stage


def need(condition: bool, what: str) -> None:
    if condition:
        return
    if testing.servers_required():
        pytest.fail(f"{what} (the fault drills require it here)", pytrace=False)
    pytest.skip(f"{what}; run with VO2_REQUIRE_SERVERS=1 to make this a failure")


def wait(predicate, timeout=120.0, what="it", every=0.3):
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(every)


def counts(drill: str, **figures) -> dict:
    print(f"\n[drill] {drill}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


class Drills:
    """The system under drill and its private servers."""

    def __init__(self, base: Path):
        self.base = base
        self.pg = self.redis = self.rabbit = self.system = None
        self.reports_dir, self.mounted = base / "reports", False

    def start(self):
        need(Path(os.environ.get("VO2_PG_BINDIR", "/usr/lib/postgresql/15/bin"), "initdb").exists(),
             "PostgreSQL's initdb is not in /usr/lib/postgresql/15/bin (set VO2_PG_BINDIR)")
        need(shutil.which("redis-server") is not None, "redis-server is not installed")
        need(Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists(), "rabbitmq-server is not installed")
        self.pg = testing.PrivatePostgres(self.base / "pg").start()
        self.redis = testing.PrivateRedis(self.base / "redis").start()
        self.rabbit = testing.PrivateRabbitMQ(self.base / "rabbitmq").start()
        # the reports' file folder on a tmpfs of its own: a disk that can really fill up (ENOSPC)
        self.reports_dir.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={REPORTS_TMPFS},mode=0777", "tmpfs",
                                  str(self.reports_dir)], capture_output=True, text=True)
        self.mounted = mounted.returncode == 0
        self.mount_error = mounted.stderr.strip()
        saas = SaasServers(postgres_admin_dsn=self.pg.admin_dsn, postgres_host=self.pg.host,
                           broker_url=self.rabbit.url, redis_url=self.redis.url, database_prefix=PREFIX)
        ports = {name: testing.free_port() for name in PORTS}
        self.system = System(mode="saas", data_dir=self.base / "system", ports=ports, saas=saas, metrics_ports="free",
                             extra_env={"RATE_LIMIT_IP": "100000", "RATE_LIMIT_LOGIN_IP": "100000",
                                        "PUBLIC_APP_URL": f"http://127.0.0.1:{ports['gateway']}",
                                        "FILE_STORAGE": "local", "REPORT_STORAGE": "local",
                                        "REPORTS_DIR": str(self.reports_dir),
                                        "WEBHOOK_PUBLIC_ONLY": "false", "WEBHOOK_RETRY_SCHEDULE": "1,1,2,2,4",
                                        "EVENTS_RELAY_MAX_BACKOFF_SECONDS": "1", "DELETION_CONFIRM_WITHIN_S": "20",
                                        "ACCESS_TOKEN_MINUTES": "30"})
        self.system.prepare()
        self.system.manage("identity", "bootstrap", "--tenant-name", "Drills Lab", "--slug", "drills-lab",
                           "--email", OWNER_EMAIL, "--password", OWNER_PASSWORD, capture=True)
        try:
            self.system.start()
        except Exception:
            for log in sorted(self.system.log_dir.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
            raise
        self.owner = Api(self.system.url("gateway"))
        self.owner.login(OWNER_EMAIL, OWNER_PASSWORD)
        return self

    def stop(self):
        if self.system:
            self.system.stop()
        for server in (self.rabbit, self.redis):
            if server:
                server.stop()
        if self.pg:
            self.pg.remove()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.reports_dir)], capture_output=True)

    def sql(self, service: str, query: str, *args) -> list[tuple]:
        """Read a service's database directly (as the cluster's superuser: no row-level security in the way)."""
        dsn = self.pg.admin_dsn.rsplit("/", 1)[0] + f"/{PREFIX}_{service}"
        with psycopg.connect(dsn, connect_timeout=5) as db:
            return db.execute(query, args).fetchall()

    def process(self, name: str):
        return next(p for p in self.system.processes if p.name == name and p.popen.poll() is None)

    def logs(self, *names) -> str:
        return "\n".join(f"--- {n}\n" + (self.system.log_dir / f"{n}.log").read_text(errors="replace")[-2500:]
                         for n in names)


@pytest.fixture(scope="module")
def drills(tmp_path_factory):
    made = Drills(tmp_path_factory.mktemp("drills"))
    try:
        yield made.start()
    finally:
        made.stop()


@pytest.fixture(scope="module")
def athlete(drills):
    made = drills.owner.post("/api/v1/athletes/", {"first_name": "Drill", "last_name": "Sergeeva", "sex": "female",
                                                   "birth_date": "1993-05-01", "body_mass_kg": 60.0,
                                                   "height_cm": 168})
    assert made.status_code == 201, made.text
    return made.json()


def final_imports(api, ids, timeout=180.0) -> dict:
    states = {}

    def finished():
        for i in ids:
            if states.get(i, {}).get("status") not in ("done", "failed"):
                answer = api.get(f"/api/v1/imports/{i}")
                if answer.status_code == 200:
                    states[i] = answer.json()
        return all(states.get(i, {}).get("status") in ("done", "failed") for i in ids)
    wait(finished, timeout=timeout, what=f"every import finished ({states})", every=0.5)
    return states


def import_counts(drills, api, states: dict) -> dict:
    """What the accepted imports left: tests, samples, results (in measurements' database) and the import-done
    notifications (the event through relay, broker and the notifications consumer)."""
    done = [s for s in states.values() if s["status"] == "done"]
    tests = [s["test"] for s in done]
    per_import = Counter(str(r[0]) for r in drills.sql(
        "measurements", "SELECT id FROM exercise_test WHERE id IN (SELECT test_id FROM import_job WHERE id = ANY(%s))",
        [uuid.UUID(i) for i in states]))
    half = drills.sql("measurements", """
        SELECT t.id FROM exercise_test t WHERE t.id = ANY(%s) AND (
            t.sample_count <> (SELECT count(*) FROM sample s WHERE s.test_id = t.id)
            OR NOT EXISTS (SELECT 1 FROM analysis_result r WHERE r.test_id = t.id))""", [uuid.UUID(t) for t in tests])
    versions = drills.sql("measurements", "SELECT test_id, count(*) FROM analysis_result WHERE test_id = ANY(%s) "
                                          "GROUP BY test_id", [uuid.UUID(t) for t in tests])
    notified = wait_notified(api, "import.done", "test_id", tests, timeout=90)  # relays and consumers catch up
    return {"finished": len(done), "failed": sum(s["status"] == "failed" for s in states.values()),
            "tests": sum(per_import.values()), "half_stored": len(half),
            "extra_result_versions": sum(n - 1 for _, n in versions),
            "events_lost": sum(1 for t in tests if notified[t] == 0),
            "events_twice": sum(1 for t in tests if notified[t] > 1)}


def wait_notified(api, kind, key, values, timeout=60.0) -> Counter:
    """How many `kind` notifications name each of `values` (data[key]), once every value has one."""
    def seen():
        found = Counter(n["data"].get(key) for n in
                        api.get(f"/api/v1/notifications/?kind={kind}&page_size=200").json()["results"])
        return found if all(found[v] for v in values) else None
    try:
        wait(seen, timeout=timeout, what=f"a {kind} notification for each", every=0.5)
    except AssertionError:
        pass  # counted as lost below
    time.sleep(1.0)  # a repeat would come right behind
    found = Counter(n["data"].get(key) for n in
                    api.get(f"/api/v1/notifications/?kind={kind}&page_size=200").json()["results"])
    return Counter({v: found[v] for v in values})


# ---- Redis ---------------------------------------------------------------------------------------------------------

def test_redis_down_rate_limits_fail_open_the_stream_falls_back_and_both_recover(drills, athlete):
    """Redis holds only what can be lost for a while: the gateway's rate-limit counters (fail OPEN: admitted, without
    RateLimit headers) and notifications' stream wake-ups (fall back to polling the table). Readiness reports Redis
    as degraded without taking the gateway or a service out of rotation. Access tokens and API-key exchanges are
    cached in each gateway process, not in Redis: a Redis outage does not touch them."""
    api = drills.owner
    before = api.get("/api/v1/athletes/")
    assert before.status_code == 200 and "ratelimit" in before.headers
    drills.redis.stop()
    answers = [api.get("/api/v1/athletes/") for _ in range(20)]
    relogged = Api(api.base)
    relogged.login(OWNER_EMAIL, OWNER_PASSWORD)            # the login limiter fails open too
    limited = sum("ratelimit" in r.headers for r in answers)
    ready = {name: readiness(drills.system.url(name)) for name in ("gateway", "notifications", "measurements")}
    # the stream, opened while Redis is down: an import's notification still reaches it (the table is polled)
    stream = Stream(relogged)
    try:
        accepted = upload(api, athlete, EXPORTS[0])
        assert accepted.status_code == 202, accepted.text
        states = final_imports(api, [accepted.json()["id"]])
        test_id = states[accepted.json()["id"]]["test"]
        pushed = wait(lambda: [e for e in stream.events if e["data"].get("kind") == "import.done"
                               and e["data"].get("data", {}).get("test_id") == test_id],
                      timeout=60, what="the import-done notification on the stream while Redis is down")
    finally:
        stream.close()
    drills.redis.start()
    # recovery: the limiter asks Redis again after its pause and the headers are back; readiness is whole again
    recovered = wait(lambda: "ratelimit" in (r := api.get("/api/v1/athletes/")).headers and r, timeout=60,
                     what="rate limiting back on Redis")
    ready_after = {name: readiness(drills.system.url(name)) for name in ("gateway", "notifications")}
    stream = Stream(relogged)
    try:
        again = upload(api, athlete, EXPORTS[1])
        assert again.status_code == 202, again.text
        test_after = final_imports(api, [again.json()["id"]])[again.json()["id"]]["test"]
        wait(lambda: [e for e in stream.events if e["data"].get("kind") == "import.done"
                      and e["data"].get("data", {}).get("test_id") == test_after],
             timeout=60, what="the import-done notification on the stream after Redis returned")
    finally:
        stream.close()
    got = counts("redis down", requests=len(answers) + 1, admitted=sum(r.status_code == 200 for r in answers) + 1,
                 refused=sum(r.status_code != 200 for r in answers), with_ratelimit_headers=limited,
                 stream_events_while_down=len(pushed), readiness_while_down=ready,
                 readiness_after=ready_after, imports=2)
    assert got["admitted"] == got["requests"] and got["refused"] == 0 and limited == 0
    for name, (status, checks) in ready.items():
        assert status == 200, (name, checks)
    assert ready["gateway"][1]["redis"]["status"] == "degraded"
    assert ready["notifications"][1]["cache"]["status"] == "degraded"
    assert all(status == 200 and all(c["status"] == "ok" for c in checks.values())
               for status, checks in ready_after.values()), ready_after
    assert recovered.status_code == 200 and len(pushed) == 1


def readiness(base: str) -> tuple[int, dict]:
    import httpx

    answer = httpx.get(base + "/readyz", timeout=10)
    return answer.status_code, answer.json().get("checks", {})


# ---- the analysis service ------------------------------------------------------------------------------------------

def test_analysis_down_during_imports_they_wait_and_finish_once_it_returns(drills, athlete):
    api = drills.owner
    analysis = drills.process("analysis")
    os.killpg(analysis.popen.pid, 15)
    analysis.popen.wait(15)
    accepted = []
    for path in EXPORTS:
        answer = upload(api, athlete, path)
        assert answer.status_code == 202, answer.text  # accepted: the file and the row are measurements' own
        accepted.append(answer.json()["id"])
    time.sleep(8)  # the jobs meet the outage and retry (backoff), none fails
    waiting = {i: api.get(f"/api/v1/imports/{i}").json()["status"] for i in accepted}
    drills.system._launch(analysis)  # the same process again
    wait(lambda: _healthy(drills.system.url("analysis")), timeout=60, what="analysis back")
    states = final_imports(api, accepted, timeout=150)
    got = counts("analysis down", accepted=len(accepted), waiting_during_outage=waiting,
                 **import_counts(drills, api, states))
    assert all(s in ("queued", "parsing", "storing", "analyzing") for s in waiting.values()), waiting
    assert got["finished"] == got["accepted"] == got["tests"] and got["failed"] == 0, \
        (got, drills.logs("measurements-worker"))
    assert got["half_stored"] == 0 and got["extra_result_versions"] == 0
    assert got["events_lost"] == 0 and got["events_twice"] == 0


def _healthy(base: str) -> bool:
    import httpx

    try:
        return httpx.get(base + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# ---- PostgreSQL ----------------------------------------------------------------------------------------------------

def test_postgres_stopped_and_started_during_imports(drills, athlete):
    api = drills.owner
    accepted = []
    for path in EXPORTS * 2:  # more than the worker's two at a time: some run, some wait, when the cluster stops
        answer = upload(api, athlete, path)
        assert answer.status_code == 202, answer.text
        accepted.append(answer.json()["id"])
    wait(lambda: any(api.get(f"/api/v1/imports/{i}").json()["status"] in UNDER_WAY for i in accepted),
         timeout=60, what="an import under way", every=0.1)
    drills.pg.stop("fast")                                         # every session ended, mid-import
    during = [api.get("/api/v1/athletes/") for _ in range(3)]
    refused_upload = upload(api, athlete, EXPORTS[0])              # not accepted: nothing of it may be stored
    time.sleep(3)
    drills.pg.start()
    states = final_imports(api, accepted, timeout=180)
    rows = drills.sql("measurements", "SELECT count(*) FROM import_job WHERE athlete_id = %s",
                      uuid.UUID(athlete["id"]))[0][0]
    got = counts("postgres down during imports", accepted=len(accepted),
                 refused_during_outage=[r.status_code for r in during] + [refused_upload.status_code],
                 **import_counts(drills, api, states))
    for answer in [*during, refused_upload]:
        assert answer.status_code == 503, answer.text
        assert answer.json()["type"].endswith("database-unavailable") and "retry-after" in answer.headers
    assert got["finished"] == got["accepted"] == got["tests"] and got["failed"] == 0, \
        (got, drills.logs("measurements-worker"))
    assert got["half_stored"] == 0 and got["extra_result_versions"] == 0
    assert got["events_lost"] == 0 and got["events_twice"] == 0
    # the upload refused during the outage left no row: every import row of the athlete is an accepted one
    ids = {str(r[0]) for r in drills.sql("measurements", "SELECT id FROM import_job WHERE athlete_id = %s",
                                         uuid.UUID(athlete["id"]))}
    assert set(accepted) <= ids and rows == len(ids)


def report_files(drills) -> list[Path]:
    return [p for p in drills.reports_dir.rglob("*") if p.is_file()]


def final_reports(api, ids, timeout=180.0) -> dict:
    states = {}

    def finished():
        for i in ids:
            if states.get(i, {}).get("status") not in ("done", "failed"):
                answer = api.get(f"/api/v1/reports/{i}")
                if answer.status_code == 200:
                    states[i] = answer.json()
        return all(states.get(i, {}).get("status") in ("done", "failed") for i in ids)
    wait(finished, timeout=timeout, what=f"every report finished ({states})", every=0.5)
    return states


@pytest.fixture(scope="module")
def reportable(drills, athlete):
    """An imported zan_ramp test to report on."""
    answer = upload(drills.owner, athlete, FORMATS["zan"])
    assert answer.status_code == 202, answer.text
    state = final_imports(drills.owner, [answer.json()["id"]])[answer.json()["id"]]
    assert state["status"] == "done", state
    return state["test"]


def test_postgres_stopped_and_started_during_report_renders(drills, reportable):
    api = drills.owner
    accepted = []
    for language, template in (("en", "full"), ("ru", "full"), ("en", "athlete"), ("ru", "athlete")):
        answer = api.post("/api/v1/reports/", {"test": reportable, "language": language, "template": template})
        assert answer.status_code == 202, answer.text
        accepted.append(answer.json()["id"])
    wait(lambda: any(api.get(f"/api/v1/reports/{r}").json()["status"] == "rendering" for r in accepted),
         timeout=60, what="a report being rendered", every=0.1)
    drills.pg.stop("fast")
    during = api.get(f"/api/v1/reports/{accepted[0]}")
    time.sleep(3)
    drills.pg.start()
    states = final_reports(api, accepted)
    notified = wait_notified(api, "report.ready", "report_id", accepted)
    files = [p for p in report_files(drills) if any(r in p.name for r in accepted)]
    stray = [p for p in report_files(drills) if p.name.startswith(".")]
    rows = drills.sql("reports", "SELECT count(*) FROM report WHERE test_id = %s", uuid.UUID(reportable))[0][0]
    got = counts("postgres down during report renders", accepted=len(accepted),
                 refused_during_outage=during.status_code,
                 finished=sum(s["status"] == "done" for s in states.values()),
                 failed=sum(s["status"] == "failed" for s in states.values()), report_rows=rows,
                 files=len(files), partial_files=len(stray),
                 events_lost=sum(1 for r in accepted if notified[r] == 0),
                 events_twice=sum(1 for r in accepted if notified[r] > 1))
    assert during.status_code == 503, during.text
    assert got["finished"] == got["accepted"] == got["report_rows"] == got["files"] and got["failed"] == 0, \
        (got, states, drills.logs("reports-worker"))
    assert got["partial_files"] == 0 and got["events_lost"] == 0 and got["events_twice"] == 0
    for r in accepted:  # each file whole: the stored hash is the file's
        import hashlib

        [path] = [p for p in files if p.name.startswith(r)]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == states[r]["sha256"]


# ---- a full disk -------------------------------------------------------------------------------------------------

def test_a_full_disk_fails_the_report_cleanly_and_a_retry_succeeds_once_space_returns(drills, reportable):
    need(drills.mounted, f"a tmpfs cannot be mounted for the reports' folder ({drills.mount_error})")
    api = drills.owner
    ballast = drills.reports_dir / "ballast.bin"
    with open(ballast, "wb") as out:  # fill the disk to the last byte
        chunk = b"\0" * 65536
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    for size in (4096, 512, 1):
        try:
            with open(ballast, "ab") as out:
                while True:
                    out.write(b"\0" * size)
                    out.flush()
        except OSError:
            pass
    first = api.post("/api/v1/reports/", {"test": reportable, "language": "en", "template": "full"})
    assert first.status_code == 202, first.text
    failed = final_reports(api, [first.json()["id"]])[first.json()["id"]]
    left = [p.name for p in report_files(drills) if first.json()["id"] in p.name]
    ballast.unlink()                                                # space returns
    retry = api.post("/api/v1/reports/", {"test": reportable, "language": "en", "template": "full"})
    assert retry.status_code == 202, retry.text
    done = final_reports(api, [retry.json()["id"]])[retry.json()["id"]]
    download = api.get(f"/api/v1/reports/{retry.json()['id']}/file")
    notified = wait_notified(api, "report.failed", "report_id", [first.json()["id"]])
    got = counts("disk full writing a report", accepted=2, failed_cleanly=int(failed["status"] == "failed"),
                 problem=(failed.get("error") or {}).get("code"), partial_files=len(left),
                 retried_and_finished=int(done["status"] == "done"), failure_told=notified[first.json()["id"]])
    assert failed["status"] == "failed" and failed["error"]["code"] == "storage-full", failed
    assert "no space left" in failed["error"]["detail"]
    assert left == [] and not [p for p in report_files(drills) if p.name.startswith(".")]
    assert api.get(f"/api/v1/reports/{first.json()['id']}/file").status_code == 409
    assert done["status"] == "done" and download.status_code == 200 and download.content.startswith(b"%PDF")
    assert got["failure_told"] == 1


# ---- RabbitMQ ------------------------------------------------------------------------------------------------------

def test_rabbitmq_stopped_during_a_webhook_burst(drills):
    """Athletes deleted in a burst, the broker stopped half-way: every deletion reaches the subscribed receiver once
    (Standard Webhooks `webhook-id`, one delivery per event) and every service confirms every deletion."""
    api = drills.owner
    receiver = Receiver(200)
    try:
        hook = api.post("/api/v1/webhooks/", {"url": receiver.url, "events": ["measurements.athlete.deleted"]})
        assert hook.status_code == 201, hook.text
        athletes = [api.post("/api/v1/athletes/", {"first_name": "Burst", "last_name": f"N{i}",
                                                  "sex": "male"}).json()["id"] for i in range(16)]
        answers = {}
        for a in athletes[:8]:
            answers[a] = api.delete(f"/api/v1/athletes/{a}").status_code
        drills.rabbit.stop()                                        # the private node, mid-burst
        for a in athletes[8:]:
            answers[a] = api.delete(f"/api/v1/athletes/{a}").status_code
        drills.rabbit.start()
        accepted = [a for a, status in answers.items() if status == 204]

        def told():
            return {(r["headers"]["webhook-id"], _athlete_of(r["body"])) for r in receiver.requests}
        try:
            wait(lambda: set(accepted) <= {a for _, a in told()}, timeout=180, what="every deletion at the receiver")
        except AssertionError:
            pass  # counted as lost below
        confirmed = {}
        for a in accepted:
            def done():
                d = api.get(f"/api/v1/athletes/{a}/deletion").json()
                return d["status"] == "confirmed" and d
            try:
                confirmed[a] = wait(done, timeout=120, what=f"the deletion of {a} confirmed")
            except AssertionError:
                confirmed[a] = None
        time.sleep(2)  # a repeat would come right behind
        ids_per_athlete = Counter(a for _, a in told())
        repeats = len(receiver.requests) - len(told())
    finally:
        receiver.close()
    got = counts("rabbitmq stopped during a webhook burst", accepted=len(accepted), refused=len(answers) - len(accepted),
                 delivered=len(set(accepted) & set(ids_per_athlete)),
                 lost=len(set(accepted) - set(ids_per_athlete)),
                 duplicates=sum(n - 1 for n in ids_per_athlete.values()), repeated_webhook_ids=repeats,
                 confirmed_by_every_service=sum(1 for d in confirmed.values() if d),
                 unconfirmed=sum(1 for d in confirmed.values() if not d))
    assert got["accepted"] == 16 and got["refused"] == 0
    assert got["delivered"] == 16 and got["lost"] == 0 and got["duplicates"] == 0, (got, drills.logs(
        "measurements-relay", "notifications-consumer", "notifications-worker"))
    assert got["confirmed_by_every_service"] == 16 and got["unconfirmed"] == 0


def _athlete_of(body: bytes) -> str | None:
    import json

    return json.loads(body).get("data", {}).get("athlete_id")
