"""The OpenAPI document is the server (issue 12): schemathesis (pinned in requirements/test.txt) sends requests made
from `/api/openapi.json` to every operation, through the gateway with a real token, in local and SaaS mode, and
finds no 5xx, no status, content type, header or body the document does not describe.

It runs in a lab of its own (what it writes — settings, SSO, webhooks, members — touches no other test's tenant),
with an athlete, an analysed test, an import, a finished report, a webhook and an API key made first so that the
operations on `{id}` reach real objects (DELETEs get made-up ids: they must not delete what the others test on).
Bounded: few examples per operation, a fixed seed, no shrinking (README "Tests" gives the figures).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import Api, new_lab

ROOT = Path(__file__).resolve().parents[2]
ZAN = ROOT / "testdata" / "cpet" / "spiro" / "zan_ramp"
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance")
SEED, EXAMPLES = 20261202, 3


def wait(api: Api, path: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while (state := api.get(path).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.25)
    assert state["status"] == "done", state
    return state


@pytest.fixture(scope="module")
def fuzz_lab(system) -> tuple[Api, dict]:
    """A lab of its own with one of every object the `{id}` operations name."""
    lab = new_lab(system, "Fuzz Lab", "fuzz-lab", "operator-fuzz@vo2.platform", "platform-operator-fuzz-pw-1")
    athlete = lab.post("/api/v1/athletes/", {"first_name": "Zan", "last_name": "Ramp", "sex": "male",
                                             "birth_date": "1998-10-04", "body_mass_kg": 66.0})
    assert athlete.status_code == 201, athlete.text
    accepted = lab.post("/api/v1/imports/", files={"file": (ZAN.name, ZAN.read_bytes())},
                        data={"athlete": athlete.json()["id"]})
    assert accepted.status_code == 202, accepted.text
    test_id = wait(lab, f"/api/v1/imports/{accepted.json()['id']}")["test"]
    report = lab.post("/api/v1/reports/", {"test": test_id})
    assert report.status_code == 202, report.text
    wait(lab, f"/api/v1/reports/{report.json()['id']}")
    webhook = lab.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/hook", "events": ["*"]})
    key = lab.post("/api/v1/tenants/current/api-keys/", {"name": "fuzz", "role": "viewer"})
    ids = {"athletes": athlete.json()["id"], "tests": test_id, "imports": accepted.json()["id"],
           "reports": report.json()["id"]}
    if webhook.status_code == 201:
        ids["webhooks"] = webhook.json()["id"]
    if key.status_code == 201:
        ids["tenants/current/api-keys"] = key.json()["id"]
    notifications = lab.get("/api/v1/notifications/").json().get("results") or []
    if notifications:
        ids["notifications"] = notifications[0]["id"]
    return lab, ids


def config(ids: dict[str, str]) -> str:
    """schemathesis.toml: the seed, the bound, and the real ids per resource (not for DELETE)."""
    lines = [f"seed = {SEED}", "", "[generation]", f"max-examples = {EXAMPLES}", "", "[phases.examples]",
             "enabled = true", "", "[phases.fuzzing]", "enabled = true", "", "[phases.coverage]", "enabled = false",
             "", "[phases.stateful]", "enabled = false", ""]
    for resource, value in ids.items():
        lines += ["[[operations]]", f'include-path-regex = "^/api/v1/{resource}/\\\\{{id\\\\}}/"',
                  'include-method-regex = "^(GET|PUT|PATCH|POST)$"', f'parameters = {{ "path.id" = "{value}" }}',
                  ""]
    return "\n".join(lines)


def run_schemathesis(gateway: str, token: str, workdir: Path, *extra: str) -> tuple[subprocess.CompletedProcess,
                                                                                       dict]:
    report = workdir / "report.json"
    argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(workdir / "schemathesis.toml"), "run",
            f"{gateway}/api/openapi.json", "-H", f"Authorization: Bearer {token}", "--checks", ",".join(CHECKS),
            "--mode", "positive", "--no-shrink", "--workers", "2", "--request-timeout", "60",
            "--report", "json", "--report-json-path", str(report), "--output-truncate", "true", *extra]
    proc = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, timeout=900)
    return proc, (json.loads(report.read_text()) if report.exists() else {})


def test_every_operation_answers_as_documented(system, gateway, fuzz_lab, tmp_path):
    lab, ids = fuzz_lab
    (tmp_path / "schemathesis.toml").write_text(config(ids))
    started = time.monotonic()
    # the SSE stream is left out: a fuzzed stream stays open until the request timeout and holds one of the
    # notifications service's few threads, so its other routes answered 504 (its own e2e tests cover the stream)
    proc, report = run_schemathesis(gateway, lab.token, tmp_path, "--exclude-path-regex",
                                    r"^/api/v1/notifications/stream")
    took = time.monotonic() - started
    operations, cases = report.get("operations", {}), report.get("test_cases", {})
    print(f"schemathesis {system.mode}: {operations.get('tested')} of {operations.get('total')} operations, "
          f"{cases.get('generated')} requests, {cases.get('unique_failures')} failures, {took:.0f} s")
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-3000:]
    # every operation selected and run; schemathesis may skip one it can make no request for ("No examples in
    # schema", seen once per run): the rest are tested
    assert operations["total"] >= 100 and operations["selected"] >= operations["total"] - 1, operations
    assert not operations["errored"] and operations["tested"] >= operations["selected"] - 1, operations
    assert cases["unique_failures"] == 0 and not report["errors"], report


def test_another_labs_token_reaches_none_of_these_objects_and_is_answered_as_documented(system, gateway, fuzz_lab,
                                                                                          second_lab, tmp_path):
    """The same operations on the first lab's ids with the second lab's token: every answer is a documented
    (404) problem, none a 5xx or an undocumented status."""
    _, ids = fuzz_lab
    for resource, value in ids.items():
        if resource != "notifications":  # a user's own: the other lab's owner has none of them either
            answer = second_lab.get(f"/api/v1/{resource}/{value}/")
            assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json", \
                (resource, answer.status_code, answer.text)
    (tmp_path / "schemathesis.toml").write_text(config(ids))
    proc, report = run_schemathesis(gateway, second_lab.token, tmp_path, "--include-path-regex",
                                    r"^/api/v1/(athletes|tests|imports|reports|webhooks)/\{id\}/", "--max-examples",
                                    "1", "--phases", "examples,fuzzing")
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-3000:]
    assert report["operations"]["tested"] >= 15 and report["test_cases"]["unique_failures"] == 0, report
