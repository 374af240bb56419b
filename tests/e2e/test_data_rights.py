"""Issue 18 end to end, through the gateway with real tokens, in both modes: an athlete with a test (zan_ramp), lactate
steps, a report and notifications; their export as a ZIP, opened and checked part by part; then the athlete deleted:
every service confirms, nothing of the athlete is readable through the gateway nor in any service's database or file
store, and a repeated request removes nothing. Then a whole tenant deleted by the operator, service by service."""
import io
import json
import sqlite3
import time
import uuid
import zipfile
from pathlib import Path

import jwt
import pytest

from .conftest import Api, new_lab

ROOT = Path(__file__).resolve().parents[2]
ZAN_RAMP = ROOT / "testdata" / "cpet" / "spiro" / "zan_ramp"
DJANGO_SERVICES = ("identity", "measurements", "reports", "notifications")
# where a deleted subject's ids may still be written: the deletion's own record and the events that carry it
DELETION_RECORDS = {"deletion_request", "tenant_deletion", "identity_auditevent", "audit_event", "erased_subject"}
DELETION_EVENTS = ("measurements.test.deleted", "measurements.athlete.deleted", "identity.tenant.deleted",
                   "reports.deletion.confirmed", "notifications.deletion.confirmed", "measurements.deletion.confirmed")


def wait(predicate, timeout=90.0, what="it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def tables(system, service) -> dict[str, list[tuple]]:
    """Every row of every table of the service's database, read directly (as the database's owner/superuser: no
    row-level security in the way), as {table: [row, ...]}."""
    found = {}
    if system.mode == "local":
        with sqlite3.connect(system.data_dir / f"{service}.sqlite3") as db:
            names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in names:
                found[name] = db.execute(f'SELECT * FROM "{name}"').fetchall()
        return found
    import psycopg

    from servicekit.testing import POSTGRES_ADMIN_DSN

    dsn = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + f"/{system.saas.database_prefix}_{service}"
    with psycopg.connect(dsn) as db:
        names = [n for (n,) in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for name in names:
            found[name] = db.execute(f'SELECT t::text FROM "{name}" t').fetchall()
    return found


def naming(system, *needles) -> dict[str, list[str]]:
    """{"service.table": [row text, ...]} of every row in every database that contains one of `needles`."""
    hits = {}
    for service in DJANGO_SERVICES:
        for table, rows in tables(system, service).items():
            for row in rows:
                text = " ".join(str(v) for v in row)
                if any(n in text for n in needles):
                    hits.setdefault(f"{service}.{table}", []).append(text)
    return hits


def only_deletion_records(hits: dict[str, list[str]]) -> dict[str, list[str]]:
    """The hits that are not the deletion's own record or one of its events (ids only)."""
    left = {}
    for where, rows in hits.items():
        table = where.split(".", 1)[1]
        if table in DELETION_RECORDS or table == "events_inbox":
            continue
        if table in ("events_outbox", "webhook_delivery"):  # the deletion's events, and integrators told of them
            rows = [r for r in rows if not any(t in r for t in DELETION_EVENTS)]
        if rows:
            left[where] = rows
    return left


def stored_files(system) -> list[str]:
    """Every stored file's name: the bucket's keys in SaaS mode (uploads, exports and reports live in S3 there),
    the paths under the system's data folder in local mode."""
    if system.mode == "saas":
        return list(system.s3.objects(system.extra_env["S3_BUCKET"]))
    return [str(p.relative_to(system.data_dir)) for p in system.data_dir.rglob("*") if p.is_file()]


def tenant_of(api: Api) -> str:
    return jwt.decode(api.token, options={"verify_signature": False})["tid"]


@pytest.fixture(scope="module")
def lab(system, owner):
    """An athlete named only here, with an imported zan_ramp test, lactate steps, a finished report and the
    notifications they made."""
    name = f"Erasova-{uuid.uuid4().hex[:8]}"
    athlete = owner.post("/api/v1/athletes/", {"first_name": "Vera", "last_name": name, "sex": "female",
                                               "birth_date": "1995-04-02", "body_mass_kg": 61.0,
                                               "height_cm": 170}).json()
    with open(ZAN_RAMP, "rb") as f:
        accepted = owner.post("/api/v1/imports/", data={"athlete": athlete["id"]}, files={"file": ("zan_ramp", f)})
    assert accepted.status_code == 202, accepted.text
    imp = wait(lambda: (s := owner.get(f"/api/v1/imports/{accepted.json()['id']}").json())["status"]
               in ("done", "failed") and s, what="the import")
    assert imp["status"] == "done", imp
    test_id = imp["test"]
    steps = [{"intensity": 100 + 30 * i, "lactate": round(1.1 + 0.12 * i * i, 2), "heart_rate": 112 + 9 * i}
             for i in range(7)]
    assert owner.post(f"/api/v1/tests/{test_id}/lactate-steps", json=steps).status_code == 200
    requested = owner.post("/api/v1/reports/", {"test": test_id, "language": "en", "template": "full"})
    assert requested.status_code == 202, requested.text
    report_id = requested.json()["id"]
    wait(lambda: owner.get(f"/api/v1/reports/{report_id}").json()["status"] == "done", timeout=120,
         what="the report")

    def notified():
        found = owner.get("/api/v1/notifications/?page_size=100").json()["results"]
        kinds = {n["kind"] for n in found if n["data"].get("test_id") == test_id}
        return {"import.done", "report.ready"} <= kinds
    wait(notified, what="the import-done and report-ready notifications")
    return {"athlete": athlete, "name": name, "test": test_id, "import": imp["id"], "report": report_id,
            "tenant": tenant_of(owner)}


def test_the_athletes_export_holds_everything_the_lab_has(owner, lab):
    athlete = lab["athlete"]
    base = f"/api/v1/athletes/{athlete['id']}/export"
    started = owner.post(base, headers={"Idempotency-Key": f"export-{lab['test']}"})
    assert started.status_code == 202, started.text
    assert set(started.json()) == {"id", "status"} and started.json()["status"] == "queued"
    export_id = started.json()["id"]
    replay = owner.post(base, headers={"Idempotency-Key": f"export-{lab['test']}"})
    assert replay.json()["id"] == export_id and replay.headers["Idempotent-Replayed"] == "true"
    status = wait(lambda: (s := owner.get(f"{base}/{export_id}").json())["status"] in ("done", "failed") and s,
                  what="the export")
    assert status["status"] == "done" and status["progress"] == 100, status
    assert status["file"].endswith(f"{base}/{export_id}/file") and status["expires_at"]

    download = owner.get(f"{base}/{export_id}/file")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(download.content))
    assert z.testzip() is None
    assert json.loads(z.read("athlete.json"))["last_name"] == lab["name"]
    test = owner.get(f"/api/v1/tests/{lab['test']}").json()
    folder = f"tests/{test['date'] or 'undated'}_{lab['test']}"
    assert json.loads(z.read(f"{folder}/test.json"))["modality"] == test["modality"]
    samples = z.read(f"{folder}/samples.csv").decode().splitlines()
    stored = owner.get(f"/api/v1/tests/{lab['test']}/samples").json()
    assert len(samples) - 1 == stored["count"] > 500
    first = samples[1].split(",")
    assert float(first[0]) == stored["columns"]["time_s"][0] and float(first[1]) == stored["columns"]["vo2_ml_min"][0]
    lactate = z.read(f"{folder}/lactate_steps.csv").decode().splitlines()
    assert len(lactate) == 1 + 7 and lactate[1].split(",")[1:3] == ["100.0", "1.1"]
    results = json.loads(z.read(f"{folder}/results.json"))
    current = owner.get(f"/api/v1/tests/{lab['test']}/analysis").json()
    assert results[0]["version"] == current["version"] and len(results) >= 2
    assert results[0]["result"]["vo2max"]["vo2_ml_min"] == current["vo2max"]["vo2_ml_min"]
    assert results[0]["lactate"], "the lactate thresholds of the current version"
    history = json.loads(z.read(f"{folder}/overrides.json"))["history"]
    assert [h["action"] for h in history][:2] == ["import", "lactate"]
    assert z.read(f"uploads/{lab['import']}/zan_ramp") == ZAN_RAMP.read_bytes()
    pdf = owner.get(f"/api/v1/reports/{lab['report']}/file").content
    assert z.read(f"reports/{lab['report']}.pdf") == pdf and pdf.startswith(b"%PDF")
    assert [r["id"] for r in json.loads(z.read("reports/reports.json"))] == [lab["report"]]
    readme = z.read("README.txt").decode()
    for part in ("athlete.json", "samples.csv", "lactate_steps.csv", "results.json", "overrides.json", "reports/"):
        assert part in readme


def test_a_deleted_athlete_is_gone_from_every_service_which_each_confirm(system, owner, lab):
    athlete_id, test_id, report_id = lab["athlete"]["id"], lab["test"], lab["report"]
    ids = (athlete_id, test_id, report_id, lab["import"])
    before = naming(system, lab["name"])
    assert {"measurements.athlete", "notifications.directory_test"} <= set(before), before.keys()

    assert {"upload", "report"} <= {("upload" if lab["import"] in f else "report") for f in stored_files(system)
                                    if lab["import"] in f or report_id in f}
    # what each service holds about the athlete, read in its database, once nothing more is arriving
    def held():
        # SQLite (local mode) keeps a uuid column as 32 hex digits, JSON keeps the dashes
        hits = naming(system, athlete_id, test_id, athlete_id.replace("-", ""), test_id.replace("-", ""))
        return {table: len(hits.get(table, [])) for table in
                ("reports.report", "notifications.notification", "notifications.directory_test")}
    holding = held()
    while True:
        time.sleep(1.0)
        now = held()
        if now == holding:
            break
        holding = now
    assert holding["reports.report"] == 1 and holding["notifications.directory_test"] == 1, holding
    assert holding["notifications.notification"] >= 2, holding  # import done, report ready
    assert owner.delete(f"/api/v1/athletes/{athlete_id}").status_code == 204
    url = f"/api/v1/athletes/{athlete_id}/deletion"
    try:
        done = wait(lambda: (d := owner.get(url).json())["status"] == "confirmed" and d, what="every confirmation")
    except AssertionError:  # say where it stopped: the deletion as shown, and the events each service sent
        sent = {svc: [r for r in rows if "deleted" in str(r) or "deletion" in str(r)]
                for svc in ("measurements", "reports", "notifications")
                for rows in [tables(system, svc)["events_outbox"]]}
        raise AssertionError(f"{owner.get(url).json()}\n{sent}")
    by = {s["service"]: s for s in done["services"]}
    assert set(by) == {"measurements", "reports", "notifications"}
    assert by["measurements"]["removed"]["tests"] == 1 and by["measurements"]["removed"]["samples"] > 500
    # each service's confirmation counts exactly what it held: the test's own `measurements.test.deleted` (sent
    # by the cascade, reason athlete_deleted) is left to the athlete's request, so it cannot take the rows first
    assert by["reports"]["removed"]["reports"] == holding["reports.report"] == 1
    assert by["reports"]["removed"]["files"] == 1
    assert by["notifications"]["removed"]["notifications"] == holding["notifications.notification"]
    assert by["notifications"]["removed"]["directory_tests"] == 1

    # nothing readable through the gateway
    for path in (f"/api/v1/athletes/{athlete_id}", f"/api/v1/tests/{test_id}", f"/api/v1/tests/{test_id}/samples",
                 f"/api/v1/imports/{lab['import']}", f"/api/v1/reports/{report_id}",
                 f"/api/v1/reports/{report_id}/file"):
        assert owner.get(path).status_code == 404, path
    assert owner.get(f"/api/v1/reports/?athlete={athlete_id}").json()["results"] == []
    listed = owner.get("/api/v1/notifications/?page_size=100").json()["results"]
    assert not [n for n in listed if set(ids) & {str(v) for v in n["data"].values()}]
    assert not [n for n in listed if lab["name"] in n["title"] + n["body"]]

    # nothing in any database: the name nowhere, the ids only in the deletion's own record and events
    assert naming(system, lab["name"]) == {}
    assert only_deletion_records(naming(system, *ids)) == {}
    # nor in a file store: the upload, the report file and the export went with it
    files = stored_files(system)
    assert not [f for f in files if report_id in f or lab["import"] in f or f"exports/{lab['tenant']}/" in f]

    if system.mode == "local":
        late_events_bring_nothing_back(system, owner, lab)

    # a repeated request (the periodic job's, forced here): every service finds nothing, removes nothing, confirms
    system.manage("measurements", "reemit_deletions", "--tenant", lab["tenant"], "--subject", athlete_id,
                  capture=True)
    def confirmed_twice():
        d = owner.get(url).json()
        return all(s["confirmations"] == 2 for s in d["services"][1:]) and d
    again = wait(confirmed_twice, what="the repeated confirmations")
    assert again["emitted"] == 2
    for service in again["services"][1:]:
        assert set(service["last_removed"].values()) == {0}, service
    assert naming(system, lab["name"]) == {}


def late_events_bring_nothing_back(system, owner, lab):
    """Events about the erased athlete arriving after its erasure (a report that finished meanwhile, an import
    relayed late), published on the system's own bus: reports and notifications handle them (their inboxes say
    so) and write nothing (their tombstones). Local mode only: there the bus is the system's own folder, while in
    SaaS mode the event queues have fixed names on the shared RabbitMQ, where another system's consumers could
    take these events (the services' own suites prove the tombstones on both databases)."""
    import os

    from servicekit.events import broker, envelope

    user = jwt.decode(owner.token, options={"verify_signature": False})["sub"]
    report = str(uuid.uuid4())
    late = [envelope.make("reports.report.ready", {"report_id": report, "test_id": lab["test"], "language": "en",
                                                   "athlete_id": lab["athlete"]["id"], "requested_by": user,
                                                   "download_path": f"/api/v1/reports/{report}/file"},
                          source="/vo2max/reports", tenant_id=lab["tenant"]),
            envelope.make("measurements.test.analyzed", {"test_id": lab["test"], "athlete_id": lab["athlete"]["id"],
                                                         "revision": 7, "requested_by": str(uuid.uuid4())},
                          source="/vo2max/measurements", tenant_id=lab["tenant"]),
            envelope.make("measurements.test.imported", {
                "test_id": str(uuid.uuid4()), "athlete_id": lab["athlete"]["id"], "import_id": str(uuid.uuid4()),
                "imported_by": user, "format": "zan", "athlete_name": f"Vera {lab['name']}", "date": "2026-11-30",
                "sample_count": 900}, source="/vo2max/measurements", tenant_id=lab["tenant"])]
    before = os.environ.get("VO2_BROKER_DIR")
    os.environ["VO2_BROKER_DIR"] = str(system.data_dir / "broker")
    try:
        publisher = broker.Publisher("filesystem://")
        try:
            publisher.publish_batch([broker.Outgoing(e["id"], e["type"], json.dumps(e), lab["tenant"]) for e in late])
        finally:
            publisher.close()
    finally:
        if before is None:
            os.environ.pop("VO2_BROKER_DIR", None)
        else:
            os.environ["VO2_BROKER_DIR"] = before

    def handled(service, ids):
        return all(any(i.replace("-", "") in " ".join(map(str, row)) or i in " ".join(map(str, row))
                       for row in tables(system, service)["events_inbox"]) for i in ids)
    wait(lambda: handled("notifications", [e["id"] for e in late]), what="notifications handling the late events")
    wait(lambda: handled("reports", [late[1]["id"]]), what="reports handling the late analysis")
    assert naming(system, lab["name"]) == {}
    assert only_deletion_records(naming(system, lab["athlete"]["id"], lab["test"], report)) == {}
    listed = owner.get("/api/v1/notifications/?page_size=100").json()["results"]
    assert not [n for n in listed if lab["test"] in json.dumps(n) or lab["athlete"]["id"] in json.dumps(n)]


def test_a_tenant_deleted_by_the_operator_is_erased_service_by_service(system):
    owner = new_lab(system, "Closing Lab", "closing-lab", "closing-operator@vo2.platform", "closing-operator-pw-1")
    tenant_id = tenant_of(owner)
    athlete = owner.post("/api/v1/athletes/", {"first_name": "Tomas", "last_name": "Closing", "sex": "male"}).json()
    with open(ZAN_RAMP, "rb") as f:
        imp = owner.post("/api/v1/imports/", data={"athlete": athlete["id"]}, files={"file": ("zan_ramp", f)}).json()
    test_id = wait(lambda: owner.get(f"/api/v1/imports/{imp['id']}").json()["test"], what="the import")
    report = owner.post("/api/v1/reports/", {"test": test_id}).json()
    wait(lambda: owner.get(f"/api/v1/reports/{report['id']}").json()["status"] in ("done", "failed"), timeout=120,
         what="the report")
    assert naming(system, tenant_id) and [f for f in stored_files(system) if tenant_id in f]

    operator = Api(system.url("gateway"))
    operator.login("closing-operator@vo2.platform", "closing-operator-pw-1")
    assert owner.delete(f"/api/v1/tenants/{tenant_id}/").status_code == 403  # the tenant's owner may not
    deleted = operator.delete(f"/api/v1/tenants/{tenant_id}/")
    assert deleted.status_code == 202, deleted.text
    url = f"/api/v1/tenants/{tenant_id}/deletion"
    done = wait(lambda: (d := operator.get(url).json())["status"] == "confirmed" and d, what="every confirmation")
    by = {s["service"]: s for s in done["services"]}
    assert set(by) == {"identity", "measurements", "reports", "notifications"}
    assert by["identity"]["removed"]["membership"] == 1 and by["identity"]["removed"]["users"] == 1
    assert by["measurements"]["removed"]["athlete"] == 1 and by["measurements"]["removed"]["sample"] > 500
    assert by["reports"]["removed"]["report"] == 1
    # the owner can no longer log in; their old token reaches nothing
    gone = owner.http.post("/api/v1/auth/login", json={"email": "owner@closing.lab", "password": "closing-lab-owner-pw-1"})
    assert gone.status_code in (400, 401)
    assert owner.get(f"/api/v1/athletes/{athlete['id']}").status_code in (401, 404)
    # the tenant's id is left only on the deletion records and events; its files are gone
    hits = naming(system, tenant_id)
    assert only_deletion_records(hits) == {}
    assert not [f for f in stored_files(system) if tenant_id in f]
