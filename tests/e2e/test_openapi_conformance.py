"""The OpenAPI document is the server (issue 12): schemathesis (pinned in requirements/test.txt) sends requests made
from `/api/openapi.json` to every operation, through the gateway with a real token, in local and SaaS mode, and
finds no 5xx, no status, content type, header or body the document does not describe, and no schema-valid request
refused (`positive_data_acceptance`: a 4xx other than the documented auth, not-found and conflict answers).

It runs in a lab of its own (what it writes — settings, SSO, webhooks, members — touches no other test's tenant),
with one of every object a path names made first, so that every operation with a path parameter reaches a real
object: the ids are set per operation, one `[[operations]]` block each (schemathesis ORs the include filters inside
one block, so a block matching a path *and* methods gave every GET any resource's id). A DELETE gets a throwaway
object of its own, so it removes nothing the other operations work on. The run counts, per operation with a path
parameter, the answers that were not 404 (from its HAR record), and every one of them must have had one.

Bounded: few examples per operation, a fixed seed, no shrinking (README "Tests" gives the figures).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import importlib.util

import httpx
import pytest

from .conftest import Api, join_by_invitation, new_lab

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("identity_sso_provider",
                                               ROOT / "services" / "identity" / "tests" / "sso_provider.py")
sso_provider = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sso_provider)
SSO_SECRET = "fuzz-lab-sso-client-secret-42"
ZAN = ROOT / "testdata" / "cpet" / "spiro" / "zan_ramp"
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "positive_data_acceptance")
SEED, EXAMPLES = 20261202, 3
# the SSE stream is left out: a fuzzed stream stays open until the request timeout and holds one of the
# notifications service's few threads, so its other routes answered 504 (its own e2e tests cover the stream)
LEFT_OUT = r"^/api/v1/notifications/stream"
# The lab's one SSO configuration: its operations run after the rest, one at a time, start first (the document's
# order), so that start meets the configuration made for it before a fuzzed PUT or the DELETE change it.
SSO = r"^/api/v1/(auth/sso/\{slug\}/start|tenants/current/sso)$"
# Schema-valid requests a server rightly refuses with a status `positive_data_acceptance` does not expect by itself
# (it allows 2xx, 3xx, 401, 403, 404, 409, 429, 5xx): each named, with why. Nothing else may answer 4xx.
REFUSALS = {
    # a credential the caller does not hold: a made-up token, state, code or password is refused as documented
    "POST /api/v1/auth/invitations/accept": ("410",),  # a made-up token names no invitation (404) or a dead one
    "POST /api/v1/auth/password/reset/confirm": ("400",),  # `invalid-token`: the reset token is the credential
    "POST /api/v1/auth/mfa/totp/confirm": ("400",),  # `invalid-code`: a made-up TOTP code
    "POST /api/v1/auth/password": ("400",),  # the current password is the credential
    "GET /api/v1/auth/sso/callback": ("400",),  # `sso-state-invalid`: the state is the one start handed out
    "PATCH /api/v1/tests/{id}/analysis/": ("400", "412"),  # a made-up If-Match is not the ETag the caller read;
    # 400: no overrides, exclude or recompute: true (documented in words: as an anyOf of required sets, a generated
    # client's body became a union of three types, tests/e2e/test_generated_client.py)
    # a file's content is more than a schema can say: a made-up file is not a cart export or a heart-rate track
    # (422 `unknown-format`, `empty-file`, ...)
    "POST /api/v1/analysis/parse": ("422",),
    "POST /api/v1/analysis/cpet/file": ("422",),
    "POST /api/v1/tests/{id}/heart-rate/": ("400", "422"),  # 400: an empty file
    "POST /api/v1/tests/{id}/lactate-steps/": ("400",),  # a CSV/XLSX sheet without a header line and a stage
    "PUT /api/v1/reports/settings/logo": ("415", "422"),  # not a PNG or an SVG; an SVG with scripts
    # 400: `test` holds the samples as a JSON text, which a form field's schema cannot describe
    "POST /api/v1/analysis/heart-rate/align": ("400", "422"),
    # rules of the world outside the document: a host must resolve, an OpenID issuer must answer discovery
    "POST /api/v1/webhooks/": ("400",),
    "PATCH /api/v1/webhooks/{id}/": ("400",),
    "PUT /api/v1/tenants/current/sso": ("400",),
    "PATCH /api/v1/users/me": ("400",),  # `time_zone`: a name from the tz database, not listed in the document
    # each column as long as time_s: JSON Schema cannot compare two arrays' lengths (400 `validation-error`)
    # and an override must fit the test's own data (422 `invalid-override`: the document's example overrides do not
    # fit a generated table)
    "POST /api/v1/analysis/cpet": ("400", "422"),
}
# Body fields that name another object: the real one (a made-up id is 400 `validation-error`, "no such athlete").
BODY_REFERENCES = {
    "POST /api/v1/tests/": {"athlete": "athlete"},
    "PUT /api/v1/tests/{id}/": {"athlete": "athlete"},  # a test never moves to another athlete
    "PATCH /api/v1/tests/{id}/": {"athlete": "athlete"},
    "POST /api/v1/imports/": {"athlete": "athlete"},
    "POST /api/v1/reports/": {"test": "test"},
    "POST /api/v1/athletes/": {"user_id": "athlete-user"},
    "PUT /api/v1/athletes/{id}/": {"user_id": "athlete-user"},
    "PATCH /api/v1/athletes/{id}/": {"user_id": "athlete-user"},
}


def wait(api: Api, path: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while (state := api.get(path).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.25)
    assert state["status"] == "done", state
    return state


def created(answer: httpx.Response, status: int = 201) -> str:
    assert answer.status_code == status, answer.text
    return answer.json()["id"]


def athlete(lab: Api, last_name: str) -> str:
    return created(lab.post("/api/v1/athletes/", {"first_name": "Zan", "last_name": last_name, "sex": "male",
                                                  "birth_date": "1998-10-04", "body_mass_kg": 66.0}))


def imported(lab: Api, athlete_id: str) -> tuple[str, str]:
    """An import of the zan_ramp export for the athlete, done: (import id, test id)."""
    accepted = created(lab.post("/api/v1/imports/", files={"file": (ZAN.name, ZAN.read_bytes())},
                                data={"athlete": athlete_id}), 202)
    return accepted, wait(lab, f"/api/v1/imports/{accepted}")["test"]


def eventually(fetch, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := fetch()):
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.25)
    return found


def lab_objects(system, mailbox, lab: Api, provider) -> dict[str, str]:
    """One of every object a path names, and a throwaway one for each DELETE; SSO with a real OpenID provider."""
    ids: dict[str, str] = {}
    configured = lab.put("/api/v1/tenants/current/sso", {"issuer": provider.issuer, "client_id": "fuzz-lab",
                                                          "client_secret": SSO_SECRET, "default_role": "viewer"})
    assert configured.status_code == 200, configured.text
    ids["athlete"], ids["athlete-to-delete"], gone = (athlete(lab, name) for name in ("Ramp", "Spare", "Gone"))
    ids["import"], ids["test"] = imported(lab, ids["athlete"])
    _, ids["test-to-delete"] = imported(lab, ids["athlete"])  # the spare athlete's DELETE takes its tests
    _, gone_test = imported(lab, ids["athlete-to-delete"])
    assert lab.delete(f"/api/v1/tests/{gone_test}/").status_code == 204
    assert lab.delete(f"/api/v1/athletes/{gone}/").status_code == 204
    ids["deleted-athlete"], ids["deleted-test"] = gone, gone_test
    report = created(lab.post("/api/v1/reports/", {"test": ids["test"]}), 202)
    ids["report"] = wait(lab, f"/api/v1/reports/{report}")["id"]
    export = created(lab.post(f"/api/v1/athletes/{ids['athlete']}/export"), 202)
    ids["export"] = wait(lab, f"/api/v1/athletes/{ids['athlete']}/export/{export}")["id"]
    for name in ("webhook", "webhook-to-delete"):
        ids[name] = created(lab.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["*"]}))
    assert lab.post(f"/api/v1/webhooks/{ids['webhook']}/ping/").status_code == 202
    ids["delivery"] = eventually(lambda: next(
        (d["id"] for d in lab.get(f"/api/v1/webhooks/{ids['webhook']}/deliveries/").json()["results"]
         if d["status"] == "failed"), None))
    for name in ("api-key", "api-key-to-delete"):
        ids[name] = created(lab.post("/api/v1/tenants/current/api-keys/", {"name": name, "role": "viewer"}))
    for name in ("invitation", "invitation-to-delete"):
        ids[name] = created(lab.post("/api/v1/tenants/current/invitations/",
                                     {"email": f"{name}@fuzz.lab", "role": "viewer"}))
    for name in ("member", "member-to-delete"):
        _, ids[name] = join_by_invitation(lab, mailbox, f"{name}@fuzz.lab", "physiologist",
                                          f"{name}-fuzz-lab-pw-1")
    _, member = join_by_invitation(lab, mailbox, "athlete-user@fuzz.lab", "athlete", "athlete-user-fuzz-lab-pw-1")
    ids["athlete-user"] = lab.get(f"/api/v1/tenants/current/members/{member}/").json()["user_id"]
    ids["notification"] = eventually(lambda: next(iter(lab.get("/api/v1/notifications/").json()["results"]),
                                                  {}).get("id"))
    tenant = lab.get("/api/v1/tenants/current/").json()
    ids["tenant"], ids["slug"] = tenant["id"], tenant["slug"]
    return ids


def object_for(method: str, path: str, parameter: str) -> str:
    """Which object of `lab_objects` the path parameter names."""
    rest = path.removeprefix("/api/v1/")
    resource = "/".join(rest.split("/")[:3 if rest.startswith("tenants/current/") else 1])
    if parameter == "subject_id":
        return {"athletes": "deleted-athlete", "tests": "deleted-test"}[resource]
    named = {"athlete_id": "athlete", "export_id": "export", "delivery_id": "delivery", "tenant_id": "tenant",
             "slug": "slug"}
    if parameter in named:
        return named[parameter]
    kind = {"athletes": "athlete", "tests": "test", "imports": "import", "reports": "report",
            "notifications": "notification", "webhooks": "webhook", "tenants": "tenant",
            "tenants/current/api-keys": "api-key", "tenants/current/invitations": "invitation",
            "tenants/current/members": "member"}[resource]
    own_object = re.fullmatch(r"[^{]*\{id\}/?", path)  # the DELETE of the object itself, not of a sub-resource
    return f"{kind}-to-delete" if method == "DELETE" and own_object and kind != "tenant" else kind


def operations_with_path_parameters(document: dict) -> dict[str, dict[str, str]]:
    """Operation label ("GET /api/v1/tests/{id}/") → its path parameters' names."""
    found = {}
    for path, item in document["paths"].items():
        if re.search(LEFT_OUT, path) or "{" not in path:
            continue
        for method in item:
            if method in ("get", "put", "post", "patch", "delete"):
                found[f"{method.upper()} {path}"] = re.findall(r"\{(\w+)\}", path)
    return found


def config(document: dict, ids: dict[str, str]) -> tuple[str, dict[str, str]]:
    """schemathesis.toml: the seed, the bound, one block per operation with a path parameter giving its real
    values, and the named refusals; with the URL path each of those operations must call."""
    lines = [f"seed = {SEED}", ""]
    for name, value in ids.items():
        lines += [f"[dictionaries.{json.dumps(name)}]", f"values = [{json.dumps(value)}]", ""]
    lines += ["[generation]", f"max-examples = {EXAMPLES}", "", "[phases.examples]",
             "enabled = true", "", "[phases.fuzzing]", "enabled = true", "", "[phases.coverage]", "enabled = false",
             "", "[phases.stateful]", "enabled = false", ""]
    expected, given = {}, {}
    for label, parameters in operations_with_path_parameters(document).items():
        method, path = label.split(" ", 1)
        values = {name: ids[object_for(method, path, name)] for name in parameters}
        given[label] = [f'"path.{name}" = {json.dumps(value)}' for name, value in values.items()]
        expected[label] = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    for label, fields in BODY_REFERENCES.items():
        given.setdefault(label, []).extend(f'"body.{field}" = {{ dictionary = {json.dumps(kind)}, probability = 1.0 }}'
                                           for field, kind in fields.items())
    for label, entries in given.items():
        lines += ["[[operations]]", f"include-name = {json.dumps(label)}", f"parameters = {{ {', '.join(entries)} }}",
                  ""]
    for label, statuses in REFUSALS.items():
        allowed = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx", *statuses]
        lines += ["[[operations]]", f"include-name = {json.dumps(label)}",
                  f"checks.positive_data_acceptance.expected-statuses = {json.dumps(allowed)}", ""]
    return "\n".join(lines), expected


def run_schemathesis(gateway: str, token: str, workdir: Path, *extra: str) -> tuple[subprocess.CompletedProcess,
                                                                                       dict, list[dict]]:
    report, har = workdir / "report.json", workdir / "requests.har"
    argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(workdir / "schemathesis.toml"), "run",
            f"{gateway}/api/openapi.json", "-H", f"Authorization: Bearer {token}", "--checks", ",".join(CHECKS),
            "--mode", "positive", "--no-shrink", "--workers", "2", "--request-timeout", "60",
            "--report", "json,har", "--report-json-path", str(report), "--report-har-path", str(har),
            "--output-truncate", "true", *extra]
    # the hooks: cursors only as the lists hand them out (schemathesis_hooks.py)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=900, env=env)
    (workdir / "output.txt").write_text(proc.stdout + proc.stderr)  # whole, beside the reports
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    return proc, (json.loads(report.read_text()) if report.exists() else {}), entries


def untried(document: dict, entries: list[dict]) -> list[str]:
    """The operations (but the stream) no request was sent to."""
    sent = {(entry["request"]["method"], urlsplit(entry["request"]["url"]).path) for entry in entries}
    missing = []
    for path, item in document["paths"].items():
        if re.search(LEFT_OUT, path):
            continue
        shape = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
        for method in item:
            if method in ("get", "put", "post", "patch", "delete") and not any(
                    m == method.upper() and shape.match(url) for m, url in sent):
                missing.append(f"{method.upper()} {path}")
    return missing


def answers_by_operation(expected: dict[str, str], entries: list[dict]) -> dict[str, list[int]]:
    """Per operation with a path parameter, the statuses of the requests sent to its real object's URL."""
    statuses: dict[str, list[int]] = {label: [] for label in expected}
    wanted = {(label.split(" ", 1)[0], path): label for label, path in expected.items()}
    for entry in entries:
        key = (entry["request"]["method"], urlsplit(entry["request"]["url"]).path)
        if key in wanted:
            statuses[wanted[key]].append(entry["response"]["status"])
    return statuses


def sso_client(gateway: str) -> list[dict]:
    return [{"client_id": "fuzz-lab", "client_secret": SSO_SECRET,
             "redirect_uris": [f"{gateway}/api/v1/auth/sso/callback"]}]


def fuzz(gateway: str, token: str, document: dict, ids: dict[str, str], workdir: Path) -> dict:
    """Both passes (everything but the stream and SSO on two workers; then SSO on one): the figures, the HAR
    entries, the statuses per operation with a path parameter and what failed."""
    text, expected = config(document, ids)
    figures = {"total": 0, "selected": 0, "tested": 0, "errored": 0, "requests": 0, "failures": 0, "errors": [],
               "skip_reasons": [], "entries": [], "output": ""}
    for name, extra in (("main", ("--exclude-path-regex", f"{LEFT_OUT}|{SSO}")),
                        ("sso", ("--include-path-regex", SSO, "--workers", "1"))):
        (workdir / name).mkdir()
        (workdir / name / "schemathesis.toml").write_text(text)
        proc, report, entries = run_schemathesis(gateway, token, workdir / name, *extra)
        operations, cases = report.get("operations", {}), report.get("test_cases", {})
        figures["total"] = operations.get("total", 0)
        for key in ("selected", "tested", "errored"):
            figures[key] += operations.get(key) or 0
        figures["skip_reasons"] += operations.get("skip_reasons") or []
        figures["requests"] += cases.get("generated") or 0
        figures["failures"] += cases.get("unique_failures") or 0
        figures["errors"] += report.get("errors") or []
        figures["entries"] += entries
        if proc.returncode != 0 or not report:
            figures["failures"] += not report
            figures["output"] += f"--- {name} pass, exit {proc.returncode}\n" + proc.stdout[-20000:] + \
                proc.stderr[-3000:]
    # schemathesis now and then skips one operation it made no request for ("No examples in schema"; seen on
    # POST /api/v1/analysis/cpet/file, with the same seed): each such one runs again alone on the next seed, and is
    # named in the figures — none is left untested
    figures["retried"] = untried(document, figures["entries"])
    for label in figures["retried"]:
        (workdir / "retry").mkdir(exist_ok=True)
        (workdir / "retry" / "schemathesis.toml").write_text(text.replace(f"seed = {SEED}", f"seed = {SEED + 1}", 1))
        proc, report, entries = run_schemathesis(gateway, token, workdir / "retry", "--include-name", label)
        operations, cases = report.get("operations", {}), report.get("test_cases", {})
        figures["tested"] += operations.get("tested") or 0
        figures["requests"] += cases.get("generated") or 0
        figures["failures"] += (cases.get("unique_failures") or 0) + (not report)
        figures["errors"] += report.get("errors") or []
        figures["entries"] += entries
        if proc.returncode != 0:
            figures["output"] += f"--- retry of {label}, exit {proc.returncode}\n" + proc.stdout[-20000:]
    figures["statuses"] = answers_by_operation(expected, figures["entries"])
    figures["reached"] = sorted(label for label, seen in figures["statuses"].items()
                                if any(status != 404 for status in seen))
    return figures


@pytest.fixture(scope="module")
def fuzz_lab(system, gateway, mailbox) -> tuple[Api, dict]:
    """A lab of its own with one of every object the operations' paths name."""
    provider = sso_provider.Provider(sso_client(gateway))
    lab = new_lab(system, "Fuzz Lab", "fuzz-lab", "operator-fuzz@vo2.platform", "platform-operator-fuzz-pw-1")
    yield lab, lab_objects(system, mailbox, lab, provider)
    provider.stop()


def test_every_operation_answers_as_documented(system, gateway, fuzz_lab, tmp_path):
    lab, ids = fuzz_lab
    lab.login(*lab.credentials)  # a fresh access token: the run outlasts none
    document = httpx.get(f"{gateway}/api/openapi.json").json()
    started = time.monotonic()
    run = fuzz(gateway, lab.token, document, ids, tmp_path)
    statuses, reached = run["statuses"], run["reached"]
    print(f"schemathesis {system.mode}: {run['tested']} of {run['total']} operations, {run['requests']} requests "
          f"({len(run['entries'])} sent), {run['failures']} failures, {len(reached)} of {len(statuses)} operations "
          f"with a path parameter answered other than 404 on a real object, {time.monotonic() - started:.0f} s"
          + (f"; run again alone after a skip: {', '.join(run['retried'])}" if run["retried"] else ""))
    assert run["failures"] == 0 and not run["errors"] and not run["output"], run["output"] or run["errors"]
    # every operation but the stream selected, and every selected one tested: nothing skipped
    assert run["total"] >= 100 and run["selected"] == run["total"] - 1, run
    assert not run["errored"] and run["tested"] == run["selected"], (run["tested"], run["skip_reasons"])
    assert len(statuses) >= 45 and reached == sorted(statuses), {label: seen for label, seen in statuses.items()
                                                                 if label not in reached}


def test_another_labs_token_reaches_none_of_these_objects_and_is_answered_as_documented(system, gateway, fuzz_lab,
                                                                                          second_lab, tmp_path):
    """The same operations on the first lab's ids with the second lab's token: every answer is a documented
    (404) problem, none a 5xx or an undocumented status."""
    _, ids = fuzz_lab
    for kind in ("athletes", "tests", "imports", "reports", "webhooks", "tenants/current/api-keys",
                 "tenants/current/invitations", "tenants/current/members"):
        value = ids[object_for("GET", f"/api/v1/{kind}/{{id}}/", "id")]
        answer = second_lab.get(f"/api/v1/{kind}/{value}/")
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json", \
            (kind, answer.status_code, answer.text)
    document = httpx.get(f"{gateway}/api/openapi.json").json()
    text, expected = config(document, ids)
    (tmp_path / "schemathesis.toml").write_text(text)
    proc, report, entries = run_schemathesis(
        gateway, second_lab.token, tmp_path, "--include-path-regex",
        r"^/api/v1/(athletes|tests|imports|reports|webhooks)/\{id\}/", "--max-examples", "1", "--phases",
        "examples,fuzzing", "--exclude-checks", "positive_data_acceptance")
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-3000:]
    assert report["operations"]["tested"] >= 15 and report["test_cases"]["unique_failures"] == 0, report
    statuses = answers_by_operation(expected, entries)
    sent = {label: seen for label, seen in statuses.items() if seen}
    assert len(sent) >= 15 and all(set(seen) == {404} for seen in sent.values()), sent
