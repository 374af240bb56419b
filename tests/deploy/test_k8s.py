"""deploy/k8s builds, is valid Kubernetes, and has the shape ops asked for (issue 17 item 3).

Every overlay is built with `kubectl kustomize` (no cluster needed); every object whose kind has a published schema
is validated offline against the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields are errors);
the operators' custom resources (KEDA ScaledObject, CloudNativePG Cluster, RabbitmqCluster) have no schema there and
are checked field by field for what this deployment relies on. Then the properties every workload must have, and
that Kubernetes runs the processes compose.yaml runs, with the same commands and environment names.
What this does not prove: that a cluster schedules, starts or connects them (no cluster here).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from .images import dockerfile_cmd

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = {"local": K8S / "overlays" / "local", "production": K8S / "overlays" / "production"}
DEPENDENCIES = K8S / "dependencies"
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]  # the oldest we claim to support and the newest schemas we have
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
SERVERS = {"postgres", "rabbitmq", "redis"}
PROCESSES = sorted(set(COMPOSE) - SERVERS)  # what compose runs: each a Deployment of the same name
DJANGO = ("identity", "measurements", "reports", "notifications")
PORTS = {"gateway": 8000, "identity": 8001, "measurements": 8002, "analysis": 8003, "reports": 8004,
         "notifications": 8005}
WEB = tuple(PORTS)
METRICS_PORT, SCRAPE_POLICY = 9100, "metrics-scrape"
CUSTOM = {("keda.sh/v1alpha1", "ScaledObject"), ("postgresql.cnpg.io/v1", "Cluster"),
          ("rabbitmq.com/v1beta1", "RabbitmqCluster")}
URL_SETTINGS = {"IDENTITY_URL": "identity", "MEASUREMENTS_URL": "measurements", "ANALYSIS_URL": "analysis",
                "REPORTS_URL": "reports", "NOTIFICATIONS_URL": "notifications", "JWT_JWKS_URL": "identity"}
ONLY_FOR_MIGRATIONS = {"DATABASE_MIGRATE_URL"}  # the owner role's URL: the migrations Job only, never a long-lived pod


def kubectl() -> str:
    found = shutil.which(os.environ.get("KUBECTL", "kubectl"))
    if not found:
        message = "kubectl is not installed (.ci/run installs it from the Debian packages)"
        if os.environ.get("VO2_REQUIRE_SERVERS") == "1" or os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def build(folder: Path) -> list[dict]:
    run = subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"kubectl kustomize {folder.relative_to(ROOT)} failed:\n{run.stderr}"
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, build(OVERLAYS[request.param])


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return build(OVERLAYS["production"])


@pytest.fixture(scope="module")
def local() -> list[dict]:
    return build(OVERLAYS["local"])


def of_kind(docs, kind) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs) -> dict[str, dict]:
    """Every pod template: the Deployments and the migration Jobs."""
    return {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}


def pod(workload) -> dict:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload) -> dict:
    return workload["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict, labels: dict) -> bool:
    """matchLabels only (all this deployment uses); {} selects every pod."""
    assert set(selector) <= {"matchLabels"}, selector
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def component(workload) -> str:
    return pod_labels(workload)["app.kubernetes.io/component"]


def service_of(workload) -> str:
    return pod_labels(workload)["app.kubernetes.io/name"]


def env_names(container) -> list[str]:
    return [e["name"] for e in container.get("env") or []]


# -- builds and schemas ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("folder", [*OVERLAYS.values(), DEPENDENCIES], ids=[*OVERLAYS, "dependencies"])
def test_every_object_is_valid_kubernetes(folder):
    docs = build(folder)
    assert docs
    validated = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM:
            continue  # no published schema: checked field by field below (any other kind without one fails here)
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} is not valid Kubernetes {version}: "
                            f"{exc.message} at {'.'.join(map(str, exc.path))}")
        validated += 1
    assert validated >= 1


def test_the_generated_manifests_are_current():
    """base/<service>.yaml and networkpolicies.yaml follow compose.yaml and the Dockerfiles (deploy/k8s/generate.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("k8s_generate", K8S / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    stale = [name for name, text in generate.render().items() if (K8S / "base" / name).read_text() != text]
    assert not stale, f"run deploy/k8s/generate.py: {stale} no longer match compose.yaml and the Dockerfiles"


# -- the process set ---------------------------------------------------------------------------------------------

def test_kubernetes_runs_the_processes_compose_runs_each_as_its_own_deployment(overlay):
    _, docs = overlay
    assert sorted(of_kind(docs, "Deployment")) == PROCESSES
    assert sorted(of_kind(docs, "Job")) == sorted(f"{s}-migrate" for s in DJANGO)
    assert not of_kind(docs, "StatefulSet") and not of_kind(docs, "DaemonSet"), \
        "the servers are the operators' (deploy/k8s/dependencies) or managed, not hand-made StatefulSets"


@pytest.mark.parametrize("name", PROCESSES)
def test_same_command_as_compose(production, name):
    deployment = of_kind(production, "Deployment")[name]
    (container,) = pod(deployment)["containers"]
    assert "command" not in container, "the image's entrypoint is kept, as compose keeps it"
    if "command" in COMPOSE[name]:  # relays, consumers, workers
        assert container["args"] == COMPOSE[name]["command"]
    elif name in DJANGO:
        # compose runs the image's CMD: migrations, then the server; Kubernetes runs the same two halves apart
        shell, flag, script = dockerfile_cmd(name)
        migrate, serve = script.split(" && ")
        assert container["args"] == [shell, flag, serve] and serve.startswith("exec gunicorn ")
        (job_container,) = pod(of_kind(production, "Job")[f"{name}-migrate"])["containers"]
        assert job_container["args"] == migrate.split() == ["python", "manage.py", "migrate", "--noinput"]
    else:  # gateway, analysis: the image's CMD, as in compose
        assert "args" not in container and "command" not in COMPOSE[name]


@pytest.mark.parametrize("name", PROCESSES)
def test_same_environment_names_as_compose(production, name):
    deployment = of_kind(production, "Deployment")[name]
    (container,) = pod(deployment)["containers"]
    given = set(COMPOSE[name].get("environment") or {})
    assert len(env_names(container)) == len(set(env_names(container)))
    assert set(env_names(container)) == given - ONLY_FOR_MIGRATIONS
    service = service_of(deployment)
    if name == service and service in DJANGO:
        (job_container,) = pod(of_kind(production, "Job")[f"{service}-migrate"])["containers"]
        assert set(env_names(job_container)) == given


# -- every workload ----------------------------------------------------------------------------------------------

def test_every_pod_runs_unprivileged_on_a_read_only_root(overlay):
    _, docs = overlay
    for name, workload in workloads(docs).items():
        spec = pod(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] >= 1000, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, f"{name} never talks to the Kubernetes API"
        mounts_tmp = False
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{name}/{container['name']}"
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert "add" not in sc["capabilities"] and not sc.get("privileged"), where
            mounts_tmp |= any(m["mountPath"] == "/tmp" for m in container.get("volumeMounts", []))
            data_dir = image_data_dir(service_of(workload))
            if data_dir:  # the kit's settings make sure VO2_DATA_DIR exists, so it must be writable
                assert data_dir in {m["mountPath"] for m in container.get("volumeMounts", [])}, where
        assert mounts_tmp, f"{name}: a read-only root needs a writable /tmp"


def image_data_dir(service: str) -> str | None:
    if service not in DJANGO:
        return None
    (found,) = re.findall(r"VO2_DATA_DIR=(\S+)", (ROOT / f"services/{service}/Dockerfile").read_text())[-1:]
    return found


def test_every_container_has_requests_and_limits(overlay):
    _, docs = overlay
    for name, workload in workloads(docs).items():
        for container in pod(workload)["containers"] + pod(workload).get("initContainers", []):
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[part]), f"{name}/{container['name']} {part}"


def millicores(quantity: str) -> float:
    return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000


def test_a_busy_node_shares_its_cpu_as_the_launcher_and_compose_do(production):
    """A CPU request is also the container's weight on a busy node: the web servers above the consumers, the
    consumers not below what computes (the imports, the PDFs, the analysis server); what computes may still burst to
    more cores than a web server when the node is idle."""
    request, limit = {}, {}
    for name, workload in workloads(production).items():
        (container,) = pod(workload)["containers"]
        request[name] = millicores(container["resources"]["requests"]["cpu"])
        limit[name] = millicores(container["resources"]["limits"]["cpu"])
    web = [name for name in request if component(workloads(production)[name]) == "web" and name != "analysis"]
    consumers = [name for name in request if name.endswith("-consumer")]
    computing = ["measurements-worker", "reports-worker", "analysis"]
    assert web and consumers and all(name in request for name in computing)
    assert min(request[n] for n in web) > max(request[n] for n in consumers) >= max(request[n] for n in computing)
    assert min(limit[n] for n in computing) > max(limit[n] for n in web)


def real_health_paths(service: str) -> set[str]:
    """The paths the service really serves for health: the kit's Django urls, the kit's FastAPI install, the
    gateway's own routes."""
    if service in DJANGO:
        source = (ROOT / "libs/servicekit/servicekit/django/urls.py").read_text()
        found = set(re.findall(r'path\("([a-z]+z)"', source))
    elif service == "analysis":
        source = (ROOT / "libs/servicekit/servicekit/fastapi.py").read_text()
        assert "install(app" in (ROOT / "services/analysis/analysis/app.py").read_text()
        found = set(re.findall(r'@app\.get\("/([a-z]+z)"', source))
    else:
        source = (ROOT / "gateway/gateway/routes.py").read_text()
        found = set(re.findall(r'"/([a-z]+z)"', source.split("HEALTH_PATHS", 1)[1].split("\n", 1)[0]))
    return {f"/{p}" for p in found}


@pytest.mark.parametrize("service", WEB)
def test_web_pods_are_probed_on_the_health_endpoints_the_service_serves(production, service):
    (container,) = pod(of_kind(production, "Deployment")[service])["containers"]
    assert real_health_paths(service) == {"/healthz", "/readyz"}
    assert container["ports"] == [{"name": "http", "containerPort": PORTS[service]},
                                  {"name": "metrics", "containerPort": METRICS_PORT}]
    ready, alive = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert ready == {"path": "/readyz", "port": "http"}, "readiness touches the database, broker and cache"
    assert alive == {"path": "/healthz", "port": "http"}, "liveness must not fail because a dependency is down"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def test_every_deployment_has_startup_readiness_and_liveness_probes_on_a_port_it_declares(overlay):
    _, docs = overlay
    deployments = of_kind(docs, "Deployment")
    assert sorted(deployments) == PROCESSES
    for name, deployment in deployments.items():
        (container,) = pod(deployment)["containers"]
        declared = {p["name"]: p["containerPort"] for p in container["ports"]}
        for kind in PROBES:
            probe = container.get(kind)
            assert probe, f"{name} has no {kind}"
            assert set(probe) >= {"periodSeconds", "timeoutSeconds", "failureThreshold"}, f"{name} {kind}"
            assert probe["httpGet"]["port"] in declared, f"{name} {kind} probes a port the container does not declare"
            assert probe["httpGet"]["path"] in {"/healthz", "/readyz"}, f"{name} {kind}"
        period, failures = container["livenessProbe"]["periodSeconds"], container["livenessProbe"]["failureThreshold"]
        assert period * failures >= 60, f"{name}: one slow moment must not restart the pod"


@pytest.mark.parametrize("name", [p for p in PROCESSES if p.rsplit("-", 1)[-1] in ("relay", "consumer", "worker",
                                                                                    "beat")])
def test_background_pods_are_probed_on_their_loops_heartbeat(production, name):
    """A relay, consumer, worker or beat listens on its metrics port only; its /healthz says whether its loop went
    round lately (servicekit.metrics.loops_health; each loop's heartbeat: tests/e2e/test_observability.py)."""
    (container,) = pod(of_kind(production, "Deployment")[name])["containers"]
    assert container["ports"] == [{"name": "metrics", "containerPort": METRICS_PORT}]
    assert {"name": "METRICS_PORT", "value": str(METRICS_PORT)} in container["env"], "the port the kit serves on"
    for kind in PROBES:
        assert container[kind]["httpGet"] == {"path": "/healthz", "port": "metrics"}, f"{name} {kind}"
    role = name.rsplit("-", 1)[1]
    loop_code = {"relay": "servicekit/events/relay.py", "consumer": "servicekit/events/consumer.py",
                 "worker": "servicekit/celery.py", "beat": "servicekit/beat.py"}[role]
    assert f'heartbeat("{role}"' in (ROOT / "libs/servicekit" / loop_code).read_text()
    if role == "beat":  # the beat's heartbeat is its scheduler's tick: the beat runs the kit's scheduler
        assert '"beat_scheduler": "servicekit.beat:Scheduler"' in \
            (ROOT / "libs/servicekit/servicekit/periodic.py").read_text()
    served = (ROOT / "libs/servicekit/servicekit/metrics.py").read_text()
    assert 'environ.get("PATH_INFO") == "/healthz"' in served


@pytest.mark.parametrize("service", DJANGO)
def test_migrations_run_in_a_job_and_pods_wait_for_them(production, service):
    job = of_kind(production, "Job")[f"{service}-migrate"]
    assert pod(job)["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1
    for name, deployment in of_kind(production, "Deployment").items():
        if service_of(deployment) != service:
            continue
        (wait,) = pod(deployment)["initContainers"]
        assert "python manage.py migrate --check" in " ".join(wait["command"]), name
        assert wait["image"] == pod(deployment)["containers"][0]["image"], "waits for the migrations of its own image"
        for container in pod(deployment)["containers"] + [wait]:
            assert not ONLY_FOR_MIGRATIONS & set(env_names(container)), f"{name} holds the owner role's URL"


# -- exposure and network ----------------------------------------------------------------------------------------

def test_only_the_gateway_is_exposed_and_only_through_the_ingress(overlay):
    _, docs = overlay
    services = of_kind(docs, "Service")
    assert sorted(services) == sorted(WEB)
    for name, svc in services.items():
        assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert svc["spec"]["selector"] == {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "web"}
        assert [p["port"] for p in svc["spec"]["ports"]] == [PORTS[name]]
    (ingress,) = of_kind(docs, "Ingress").values()
    backends = {path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"]
                for path in rule["http"]["paths"]}
    assert backends == {"gateway"}


def test_the_production_ingress_terminates_tls_for_its_host(production):
    (ingress,) = of_kind(production, "Ingress").values()
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts and hosts <= {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}


def policies(docs) -> list[dict]:
    return list(of_kind(docs, "NetworkPolicy").values())


def test_network_policies_deny_by_default(overlay):
    _, docs = overlay
    default = [p for p in policies(docs) if p["spec"]["podSelector"] == {}
               and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
               and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert default, "a default-deny policy for every pod of the namespace"


def test_every_pod_is_selected_by_policies_that_let_it_work(overlay):
    _, docs = overlay
    for name, workload in workloads(docs).items():
        labels = pod_labels(workload)
        mine = [p for p in policies(docs) if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels)
                and p["metadata"]["name"] != SCRAPE_POLICY]
        assert any("Egress" in p["spec"]["policyTypes"] for p in mine), f"{name} has no egress of its own"
        takes_connections = any(p["spec"].get("ingress") for p in mine)
        assert takes_connections == (component(workload) == "web"), \
            f"{name}: web pods take connections, relays, consumers, workers and Jobs none (but metrics scrapes)"


def test_prometheus_alone_scrapes_every_long_running_pod_on_its_metrics_port(overlay):
    _, docs = overlay
    (scrape,) = [p for p in policies(docs) if p["metadata"]["name"] == SCRAPE_POLICY]
    (rule,) = scrape["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": METRICS_PORT}]
    (source,) = rule["from"]
    assert source["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    for name, workload in of_kind(docs, "Deployment").items():
        assert selects(scrape["spec"]["podSelector"], pod_labels(workload)), name
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT),
                               "prometheus.io/path": "/metrics"}, name
        (container,) = pod(workload)["containers"]
        assert {"name": "metrics", "containerPort": METRICS_PORT} in container["ports"], name
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["METRICS_PORT"] == str(METRICS_PORT), name  # the process serves where the pod says
        if name != "gateway":  # several processes behind one port: their values in the pod's /tmp (an emptyDir)
            assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/"), name


def calls(service: str) -> set[str]:
    """Whom a service calls, read from the settings compose gives any of its processes."""
    names = set()
    for process, spec in COMPOSE.items():
        if process == service or process.startswith(service + "-"):
            names |= set(spec.get("environment") or {})
    return {URL_SETTINGS[n] for n in names if n in URL_SETTINGS}


def peers(rules: list[dict]) -> set[str]:
    return {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in rules for peer in rule.get("from", rule.get("to", []))
            if "podSelector" in peer and "namespaceSelector" not in peer}


@pytest.mark.parametrize("service", WEB)
def test_services_reach_only_what_they_call_and_are_reached_only_by_their_callers(production, service):
    web_labels = pod_labels(of_kind(production, "Deployment")[service])
    egress = [rule for p in policies(production) if p["spec"]["podSelector"] and "Egress" in p["spec"]["policyTypes"]
              and selects(p["spec"]["podSelector"], web_labels) for rule in p["spec"].get("egress", [])]
    assert peers(egress) == calls(service)
    for rule in egress:
        for peer in rule["to"]:
            if "podSelector" in peer and "namespaceSelector" not in peer:
                target = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
                assert [p["port"] for p in rule["ports"]] == [PORTS[target]]
    ingress = [rule for p in policies(production) if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"],
                                                                                             web_labels)
               and p["metadata"]["name"] != SCRAPE_POLICY for rule in p["spec"].get("ingress", [])]
    if service == "gateway":
        (rule,) = ingress
        assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
    else:
        assert peers(ingress) == {caller for caller in WEB if service in calls(caller)}
    for rule in ingress:
        assert [p["port"] for p in rule["ports"]] == [PORTS[service]]


@pytest.mark.parametrize("service", DJANGO)
def test_a_service_reaches_its_own_database_the_broker_and_redis_and_dns(production, service):
    labels = pod_labels(of_kind(production, "Deployment")[service])
    egress = [rule for p in policies(production) if "Egress" in p["spec"]["policyTypes"]
              and selects(p["spec"]["podSelector"], labels) for rule in p["spec"].get("egress", [])]
    reached = {(tuple(sorted(peer.get("podSelector", {}).get("matchLabels", {}).items())), port["port"])
               for rule in egress for peer in rule.get("to", []) for port in rule["ports"]}
    assert ((("cnpg.io/cluster", f"vo2-{service}-db"),), 5432) in reached
    assert not any(k == "cnpg.io/cluster" and v != f"vo2-{service}-db" for (sel, _) in reached for k, v in sel), \
        "only its own database"
    assert ((("app.kubernetes.io/name", "vo2-rabbitmq"),), 5672) in reached
    assert ((("app.kubernetes.io/name", "vo2-redis"),), 6379) in reached
    assert ((("k8s-app", "kube-dns"),), 53) in reached


def test_only_services_that_call_out_reach_public_addresses_and_never_private_ones(production):
    outside = {}
    for p in policies(production):
        for rule in p["spec"].get("egress", []):
            for peer in rule.get("to", []):
                if "ipBlock" in peer:
                    service = p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    outside.setdefault(service, set()).update(port["port"] for port in rule["ports"])
                    if 443 in {port["port"] for port in rule["ports"]}:
                        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= \
                            set(peer["ipBlock"]["except"])
    # SSO providers (identity), webhooks (notifications), the object store (measurements, reports) on 443; SMTP
    assert outside == {"identity": {443}, "notifications": {443, 25, 465, 587}, "measurements": {443},
                       "reports": {443}}


# -- scaling and disruption --------------------------------------------------------------------------------------

def test_every_web_deployment_scales_on_cpu(overlay):
    _, docs = overlay
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler").values()}
    assert sorted(hpas) == sorted(WEB)
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
        assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        assert "replicas" not in of_kind(docs, "Deployment")[name]["spec"], f"{name}: the HPA owns the replicas"


def test_every_worker_scales_on_its_rabbitmq_queue_length(overlay):
    _, docs = overlay
    deployments = of_kind(docs, "Deployment")
    workers = sorted(n for n in deployments if n.endswith("-worker"))
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(docs, "ScaledObject").values()}
    assert sorted(scaled) == workers
    for name, obj in scaled.items():
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        (container,) = pod(deployments[name])["containers"]
        queue = container["args"][container["args"].index("-Q") + 1]
        (trigger,) = obj["spec"]["triggers"]
        assert trigger["type"] == "rabbitmq" and trigger["metadata"]["mode"] == "QueueLength"
        assert trigger["metadata"]["queueName"] == queue == f"{name.rsplit('-', 1)[0]}.tasks"
        assert int(trigger["metadata"]["value"]) > 0
        # KEDA reads the broker URL from the worker's own environment: no second copy of the secret
        assert trigger["metadata"]["hostFromEnv"] in env_names(container)
        assert 1 <= obj["spec"]["minReplicaCount"] < obj["spec"]["maxReplicaCount"]
        assert "replicas" not in deployments[name]["spec"], f"{name}: KEDA owns the replicas"


def test_every_deployment_has_a_disruption_budget(overlay):
    _, docs = overlay
    budgets = list(of_kind(docs, "PodDisruptionBudget").values())
    for name, deployment in of_kind(docs, "Deployment").items():
        (budget,) = [b for b in budgets if selects(b["spec"]["selector"], pod_labels(deployment))]
        if component(deployment) == "web":
            assert budget["spec"]["minAvailable"] == 1, name
        else:  # one replica of a relay or consumer: a drain may move it (it is stateless), one at a time
            assert budget["spec"]["maxUnavailable"] == 1, name


# -- secrets -----------------------------------------------------------------------------------------------------

def secret_refs(docs) -> set[tuple[str, str, bool]]:
    return {(e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"],
             bool(e["valueFrom"]["secretKeyRef"].get("optional")))
            for w in workloads(docs).values() for c in pod(w)["containers"] + pod(w).get("initContainers", [])
            for e in c.get("env") or [] if "secretKeyRef" in e.get("valueFrom", {})}


SECRET_LOOKING = re.compile(r"(PASSWORD|SECRET|_KEY|DATABASE_.*URL|BROKER_URL|SERVICE_CLIENTS)$")


def test_secrets_are_references_never_values(overlay):
    _, docs = overlay
    for w in workloads(docs).values():
        for container in pod(w)["containers"] + pod(w).get("initContainers", []):
            for entry in container.get("env") or []:
                if SECRET_LOOKING.search(entry["name"]):
                    assert "secretKeyRef" in entry.get("valueFrom", {}), f"{entry['name']} must come from a Secret"
    for config in of_kind(docs, "ConfigMap").values():
        assert not [k for k in config["data"] if SECRET_LOOKING.search(k)], "no secret in a ConfigMap"


def test_production_commits_no_secret_and_references_only_named_ones(production):
    assert not of_kind(production, "Secret"), "production Secrets are made outside the repository"
    names = {name for name, _, _ in secret_refs(production)}
    # one Secret for the servers' URLs, one per service that holds secrets of its own
    secret_names = {"DATABASE_URL", "DJANGO_SECRET_KEY", "SERVICE_CLIENT_SECRET"}
    own = {service_of(w) for w in workloads(production).values()
           if secret_names & set(COMPOSE[service_of(w)]["environment"])}
    assert names == {"vo2-servers", *(f"vo2-{s}" for s in own)} and set(DJANGO) <= own


def test_local_secrets_are_placeholders_that_satisfy_every_reference(local):
    secrets = {}
    for secret in of_kind(local, "Secret").values():
        data = {k: __import__("base64").b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        for key, value in data.items():
            if SECRET_LOOKING.search(key):
                assert "placeholder-not-a-secret" in value, f"{secret['metadata']['name']}/{key} looks real"
        secrets[secret["metadata"]["name"]] = data
    for name, key, optional in secret_refs(local):
        assert optional or key in secrets.get(name, {}), f"{name}/{key} is referenced but not generated"


# -- the servers -------------------------------------------------------------------------------------------------

def test_the_servers_are_operator_resources_with_a_database_per_service():
    docs = build(DEPENDENCIES)
    assert not of_kind(docs, "StatefulSet") and not of_kind(docs, "Deployment")
    clusters = of_kind(docs, "Cluster")
    assert sorted(clusters) == sorted(f"vo2-{s}-db" for s in DJANGO)
    for service in DJANGO:
        spec = clusters[f"vo2-{service}-db"]["spec"]
        assert spec["instances"] >= 2
        initdb = spec["bootstrap"]["initdb"]
        assert initdb["database"] == f"vo2_{service}" and initdb["owner"] == f"vo2_{service}_owner"
        assert "password" not in json.dumps(initdb).lower().replace("passwordsecret", "")
        (app,) = spec["managed"]["roles"]
        assert app["name"] == f"vo2_{service}_app" and app["bypassrls"] is False and app["superuser"] is False
        assert "NOBYPASSRLS" in initdb["postInitSQL"][0] and any(
            f"TO {app['name']}" in sql and "DEFAULT PRIVILEGES" in sql for sql in initdb["postInitApplicationSQL"])
    (rabbit,) = of_kind(docs, "RabbitmqCluster").values()
    assert rabbit["metadata"]["name"] == "vo2-rabbitmq"
    assert rabbit["spec"]["replicas"] >= 3 and rabbit["spec"]["replicas"] % 2 == 1, "quorum queues need a majority"
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"vo2-data"}


def test_the_kit_declares_the_event_queues_as_quorum_queues():
    source = (ROOT / "libs/servicekit/servicekit/events/broker.py").read_text()
    assert source.count('"x-queue-type": "quorum"') >= 2  # <service>.events and <service>.events.dlq
