"""The alert rules and the Grafana dashboard (deploy/prometheus, deploy/grafana) name only metrics the processes
serve, cover what issue 17 asks to alert on, and pass promtool: its syntax check and the rules' unit tests
(alerts.test.yaml: each alert fires on the series that should raise it). The metrics themselves moving is proved
end to end (tests/e2e/test_observability.py)."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from servicekit import testing

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/alerts.yaml"
RULE_TESTS = ROOT / "deploy/prometheus/alerts.test.yaml"
DASHBOARD = ROOT / "deploy/grafana/vo2max-main-flow.json"
DECLARED = re.compile(r"""\b(counter|histogram|gauge|Counter|Histogram|Gauge)\(\s*["'](vo2_[a-z0-9_]+)["']""")
NAMED = re.compile(r"\bvo2_[a-z0-9_]+")


def declared_metrics() -> dict[str, str]:
    """name → kind of every metric declared in the code that runs (kit, gateway, services; tests excluded)."""
    found = {}
    for folder in ("libs/servicekit/servicekit", "gateway/gateway", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for kind, name in DECLARED.findall(path.read_text()):
                found[name] = kind.lower()
    return found


def series_names(kind: str, name: str) -> set[str]:
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return {name}


SERVED = {series for name, kind in declared_metrics().items() for series in series_names(kind, name)}


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_the_code_declares_the_metrics_issue_17_lists():
    declared = declared_metrics()
    for name in ("vo2_http_requests_total", "vo2_http_request_duration_seconds", "vo2_http_requests_in_flight",
                 "vo2_gateway_upstream_request_duration_seconds", "vo2_gateway_upstream_errors_total",
                 "vo2_gateway_upstream_connections", "vo2_gateway_rate_limited_total", "vo2_gateway_token_cache_total",
                 "vo2_jobs_total", "vo2_job_duration_seconds", "vo2_job_retries_total", "vo2_job_queue_depth",
                 "vo2_outbox_pending", "vo2_outbox_oldest_pending_age_seconds", "vo2_events_published_total",
                 "vo2_events_publish_failures_total", "vo2_events_consumed_total", "vo2_events_retried_total",
                 "vo2_events_dead_lettered_total", "vo2_events_dead_letter_queue_depth",
                 "vo2_import_stage_duration_seconds", "vo2_report_render_duration_seconds",
                 "vo2_webhook_endpoints_disabled_total", "vo2_tenant_plans"):
        assert name in declared, name


def test_every_alert_names_only_served_metrics_and_says_what_it_means():
    for rule in rules():
        used = set(NAMED.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used <= SERVED, f"{rule['alert']} uses {sorted(used - SERVED)}, which no process serves"
        assert rule["labels"]["severity"] in {"page", "warn", "info"}
        assert rule["annotations"]["summary"]


def test_the_alerts_cover_what_the_issue_asks_for():
    by_metric = {}
    for rule in rules():
        for name in NAMED.findall(rule["expr"]):
            by_metric.setdefault(name, []).append(rule)
    assert any('status=~"5.."' in r["expr"] for r in by_metric["vo2_http_requests_total"])  # 5xx rate
    assert any("histogram_quantile(0.99" in r["expr"] for r in by_metric["vo2_http_request_duration_seconds_bucket"])
    for name in ("vo2_outbox_oldest_pending_age_seconds", "vo2_events_dead_letter_queue_depth",
                 "vo2_webhook_endpoints_disabled_total", "vo2_job_queue_depth", "vo2_tenant_plans"):
        assert by_metric.get(name), f"no alert on {name}"
    (dead,) = by_metric["vo2_events_dead_letter_queue_depth"]
    assert dead["expr"].strip().endswith("> 0"), "any dead letter alerts"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (.ci/run takes it from Debian's prometheus package)"
        if testing.servers_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_promtool_accepts_the_rules_and_their_unit_tests_pass():
    tool = promtool()
    checked = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([tool, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent, capture_output=True,
                            text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    alerted = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert alerted == {rule["alert"] for rule in rules()}, "every alert has a unit test that makes it fire"


def test_the_dashboard_shows_the_main_flow_from_served_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    shown = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(NAMED.findall(target["expr"]))
            assert used and used <= SERVED, f"{panel['title']}: {sorted(used - SERVED)}"
            shown |= used
    for name in ("vo2_http_requests_total", "vo2_gateway_upstream_request_duration_seconds_bucket",
                 "vo2_import_stage_duration_seconds_bucket", "vo2_jobs_total", "vo2_events_consumed_total",
                 "vo2_report_render_duration_seconds_bucket", "vo2_events_dead_letter_queue_depth"):
        assert name in shown, f"the main flow's {name} is on no panel"
