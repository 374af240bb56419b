"""Writes deploy/k8s/base/<service>.yaml and networkpolicies.yaml from compose.yaml and the services' Dockerfiles.

    .venv/bin/python deploy/k8s/generate.py          write the files
    .venv/bin/python deploy/k8s/generate.py --check  exit 1 when a file differs from what it would write

Compose is where a process, its command and its environment are declared; this keeps Kubernetes running the same
processes with the same commands and environment names, and derives the network policies from who calls whom (the
`*_URL` settings compose gives a service). What compose cannot say (probes, resources, security, scaling, budgets)
is written here. config.yaml, ingress.yaml, kustomization.yaml and the overlays are edited by hand.
tests/deploy/test_k8s.py checks that the files are current and have the shape deploy/k8s/README.md describes.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = Path(__file__).resolve().parent / "base"

PORTS = {"gateway": 8000, "identity": 8001, "measurements": 8002, "analysis": 8003, "reports": 8004,
         "notifications": 8005}
WEB = tuple(PORTS)
DJANGO = ("identity", "measurements", "reports", "notifications")
BACKGROUND = ("relay", "consumer", "worker", "beat")  # beat: one replica, Recreate (one scheduler per service)
# Files web and worker pods share (a ReadWriteMany claim) until object storage replaces them.
SHARED_VOLUME = {"measurements": ("uploads", "/data/uploads"), "reports": ("files", "/data/reports")}
SHARED_BY = ("web", "worker", "consumer", "beat")  # the consumer removes deleted files; beat: same mounts

# Where each environment name comes from: the ConfigMap, the servers' Secret, the service's own Secret, or a literal.
CONFIG = {"VO2_MODE", "LOG_LEVEL", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE", "IDENTITY_URL", "MEASUREMENTS_URL",
          "ANALYSIS_URL", "REPORTS_URL", "NOTIFICATIONS_URL", "PUBLIC_APP_URL", "CORS_ALLOW_ORIGINS",
          "TRUSTED_PROXIES", "ACCESS_TOKEN_MINUTES", "REFRESH_TOKEN_DAYS", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS",
          "DEFAULT_FROM_EMAIL", "FILE_STORAGE", "REPORT_STORAGE", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_REGION", "S3_SSE",
          "S3_PRESIGNED_DOWNLOADS", "S3_PRESIGN_EXPIRY_S",
          "OTEL_EXPORTER_OTLP_ENDPOINT"}
SERVERS = {"BROKER_URL", "REDIS_URL"}
SERVICE_SECRET = {"DATABASE_URL", "DATABASE_MIGRATE_URL", "DJANGO_SECRET_KEY", "SIGNING_KEY_SECRET",
                  "SERVICE_CLIENTS", "SERVICE_CLIENT_SECRET", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD",
                  "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
# optional: no SMTP login; no static S3 keys (a workload identity / instance role, or local file storage)
OPTIONAL_SECRET = {"EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
LITERAL = {"SERVICE_CLIENT_ID", "METRICS_PORT", "PROMETHEUS_MULTIPROC_DIR"}
# Every long-running container serves Prometheus metrics here (compose's METRICS_PORT); Prometheus in namespace
# `monitoring` scrapes them (pod annotations, and a network policy that lets only it in, on this port only).
METRICS_PORT = 9100
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}
SCRAPE_ANNOTATIONS = {"prometheus.io/scrape": "true", "prometheus.io/port": str(METRICS_PORT),
                      "prometheus.io/path": "/metrics"}
ONLY_FOR_MIGRATIONS = {"DATABASE_MIGRATE_URL"}  # the owner role: the migrations Job only

URL_SETTINGS = {"IDENTITY_URL": "identity", "MEASUREMENTS_URL": "measurements", "ANALYSIS_URL": "analysis",
                "REPORTS_URL": "reports", "NOTIFICATIONS_URL": "notifications", "JWT_JWKS_URL": "identity"}
DATA_NAMESPACE = {"kubernetes.io/metadata.name": "vo2-data"}
# Services that call out of the cluster over HTTPS: to public addresses only (never the cluster's own networks or the
# cloud's metadata address: the services check webhook addresses too, this is the second fence).
CALLS_OUT = {"identity": "OpenID Connect providers (SSO)", "notifications": "the tenants' webhook endpoints",
             "measurements": "the object store (S3) for uploads", "reports": "the object store (S3) for report files"}
PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]

# (requests cpu, memory, limits cpu, memory) by (service, component), then by component. A CPU request is also the
# container's share of a busy node, so the order is the launcher's nice values and compose's cpu_shares: the web
# servers first, the consumers after them, what computes (imports, PDFs, analysis) last; the limits let what
# computes use an idle node's cores.
RESOURCES = {
    ("gateway", "web"): ("250m", "128Mi", "1", "256Mi"),
    ("analysis", "web"): ("100m", "384Mi", "2", "1Gi"),
    "web": ("250m", "256Mi", "1", "512Mi"),
    "relay": ("20m", "128Mi", "500m", "256Mi"),
    "consumer": ("100m", "128Mi", "500m", "256Mi"),
    ("measurements", "worker"): ("100m", "512Mi", "2", "1Gi"),  # imports: parse, store samples
    ("reports", "worker"): ("100m", "512Mi", "2", "1Gi"),  # PDF rendering
    "worker": ("50m", "256Mi", "500m", "512Mi"),
    "beat": ("10m", "128Mi", "200m", "256Mi"),
    "migrate": ("100m", "256Mi", "1", "512Mi"),
    "wait": ("10m", "128Mi", "500m", "256Mi"),
}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                      "capabilities": {"drop": ["ALL"]}}
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"}}
HEADINGS = {
    "gateway": "The gateway: the only Service behind the Ingress. Token check, routing, rate limits (Redis).",
    "identity": "identity: web (tenants, users, tokens, JWKS), its outbox relay, its consumer (tenant deletions'\n"
                "# confirmations), Celery worker and beat (periodic clean-ups), and the migrations Job.",
    "measurements": "measurements: web, relay, consumer (deletions), Celery worker (imports, exports), beat (periodic\n"
                    "# jobs), migrations Job; uploads and exports on a shared volume or in S3.",
    "analysis": "analysis: the stateless science engine (no database, no events).",
    "reports": "reports: web, relay, consumer, Celery worker (PDF rendering), beat, migrations Job; report files on a "
               "shared\n# volume or in S3.",
    "notifications": "notifications: web, relay, consumer, Celery worker (e-mail, webhooks), beat, migrations Job.",
}
GENERATED = (
    "# Generated by deploy/k8s/generate.py from compose.yaml and the Dockerfiles (same processes, commands and\n"
    "# environment names): change those or the generator and run it, do not edit this file.\n")


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]


def dockerfile(service: str) -> str:
    return (ROOT / ("gateway" if service == "gateway" else f"services/{service}") / "Dockerfile").read_text()


def data_dir(service: str) -> str | None:
    found = re.findall(r"VO2_DATA_DIR=(\S+)", dockerfile(service))
    return found[-1] if found else None


def migrate_and_serve(service: str) -> tuple[str, str]:
    """The Django images' CMD is `sh -c "<migrate> && <serve>"`: Kubernetes runs the halves apart."""
    line = [l for l in dockerfile(service).splitlines() if l.startswith("CMD")][-1]
    script = json.loads(line[3:].strip())[2]
    migrate, serve = script.split(" && ")
    return migrate, serve


def labels(service: str, component: str) -> dict:
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "vo2max"}


def selector(service: str, component: str) -> dict:
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/component": component}


def resources(service: str, component: str) -> dict:
    cpu, memory, cpu_limit, memory_limit = RESOURCES.get((service, component)) or RESOURCES[component]
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def env(service: str, process: str, drop=frozenset()) -> list[dict]:
    out = []
    for name, value in (compose()[process].get("environment") or {}).items():
        if name in drop:
            continue
        if name in CONFIG:
            out.append({"name": name, "valueFrom": {"configMapKeyRef": {"name": "vo2-config", "key": name}}})
        elif name in SERVERS:
            out.append({"name": name, "valueFrom": {"secretKeyRef": {"name": "vo2-servers", "key": name}}})
        elif name in SERVICE_SECRET:
            ref = {"name": f"vo2-{service}", "key": name, **({"optional": True} if name in OPTIONAL_SECRET else {})}
            out.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
        elif name in LITERAL:
            out.append({"name": name, "value": str(value)})
        else:
            raise SystemExit(f"{process} in compose.yaml sets {name}: say in generate.py where it comes from")
    return out


def volumes_and_mounts(service: str, component: str) -> tuple[list, list]:
    volumes = [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if data_dir(service):
        volumes.append({"name": "data", "emptyDir": {"sizeLimit": "256Mi"}})
        mounts.append({"name": "data", "mountPath": data_dir(service)})
    if service in SHARED_VOLUME and component in SHARED_BY:
        name, path = SHARED_VOLUME[service]
        volumes.append({"name": name, "persistentVolumeClaim": {"claimName": f"{service}-{name}"}})
        mounts.append({"name": name, "mountPath": path})
    return volumes, mounts


def wait_for_migrations(service: str) -> dict:
    return {"name": "wait-for-migrations", "image": f"vo2max/{service}",
            # the application role may read django_migrations; it cannot migrate: the Job does that
            "command": ["sh", "-c", "until python manage.py migrate --check >/dev/null; do echo 'waiting for the "
                        f"{service}-migrate Job'; sleep 5; done"],
            "env": env(service, service, drop=ONLY_FOR_MIGRATIONS), "resources": resources(service, "wait"),
            "securityContext": CONTAINER_SECURITY,
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": data_dir(service)}]}


def pod_spec(service: str, component: str, container: dict, *, wait: bool = True, grace: int = 30) -> dict:
    volumes, container["volumeMounts"] = volumes_and_mounts(service, component)
    spec = {"automountServiceAccountToken": False, "enableServiceLinks": False, "securityContext": POD_SECURITY,
            "terminationGracePeriodSeconds": grace}
    if wait and service in DJANGO:
        spec["initContainers"] = [wait_for_migrations(service)]
    spec["containers"] = [container]
    spec["volumes"] = volumes
    return spec


def deployment(service: str, component: str, container: dict, *, replicas: int | None = None,
               grace: int = 30) -> dict:
    spec = {**({"replicas": replicas} if replicas is not None else {}),
            "selector": {"matchLabels": selector(service, component)}}
    if component == "web":
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    if component == "beat":  # never two schedulers during a rollout (a second would only repeat idempotent jobs)
        spec["strategy"] = {"type": "Recreate"}
    container.setdefault("ports", []).append({"name": "metrics", "containerPort": METRICS_PORT})
    spec["template"] = {"metadata": {"labels": labels(service, component), "annotations": SCRAPE_ANNOTATIONS},
                        "spec": pod_spec(service, component, container, grace=grace)}
    name = service if component == "web" else f"{service}-{component}"
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels(service, component)}, "spec": spec}


def http_probe(path: str, period: int, timeout: int, failures: int, port: str = "http") -> dict:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": timeout,
            "failureThreshold": failures}


def loop_probes() -> dict:
    """Relays, consumers, workers and beats listen on their metrics port only: its /healthz answers 200 while every
    loop of the process went round within its allowed seconds (servicekit.metrics heartbeats: the relay's poll,
    the consumer's drain, the worker's consumer timer, the beat's tick), 503 before the loop works or once it
    stalls."""
    return {"startupProbe": http_probe("/healthz", 5, 3, 36, port="metrics"),  # up to 3 minutes to start working
            "readinessProbe": http_probe("/healthz", 15, 3, 2, port="metrics"),
            "livenessProbe": http_probe("/healthz", 30, 5, 3, port="metrics")}


def web(service: str) -> dict:
    container = {"name": service, "image": f"vo2max/{service}"}
    if service in DJANGO:
        container["args"] = ["sh", "-c", migrate_and_serve(service)[1]]
    container.update({
        "ports": [{"name": "http", "containerPort": PORTS[service]}],
        "env": env(service, service, drop=ONLY_FOR_MIGRATIONS),
        "resources": resources(service, "web"),
        "securityContext": CONTAINER_SECURITY,
        "startupProbe": http_probe("/healthz", 2, 3, 60),
        "readinessProbe": http_probe("/readyz", 10, 5, 3),  # the database, broker and cache answer
        "livenessProbe": http_probe("/healthz", 20, 3, 3),  # the process answers, whatever its dependencies do
    })
    return deployment(service, "web", container)


def background(service: str, component: str) -> dict:
    process = f"{service}-{component}"
    container = {"name": component, "image": f"vo2max/{service}", "args": list(compose()[process]["command"]),
                 "env": env(service, process, drop=ONLY_FOR_MIGRATIONS), "resources": resources(service, component),
                 "securityContext": CONTAINER_SECURITY}
    container.update(loop_probes())
    return deployment(service, component, container, replicas=None if component == "worker" else 1,
                      grace=60 if component == "worker" else 30)


def cluster_service(service: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": service, "labels": labels(service, "web")},
            "spec": {"type": "ClusterIP", "selector": selector(service, "web"),
                     "ports": [{"name": "http", "port": PORTS[service], "targetPort": "http"}]}}


def autoscaler(service: str) -> dict:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": service, "labels": labels(service, "web")},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service},
                     "minReplicas": 2, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 70}}}]}}


def disruption_budget(service: str, component: str) -> dict:
    name = service if component == "web" else f"{service}-{component}"
    rule = {"minAvailable": 1} if component == "web" else {"maxUnavailable": 1}
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": labels(service, component)},
            "spec": {**rule, "selector": {"matchLabels": selector(service, component)}}}


def queue_scaler(service: str) -> dict:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
            "metadata": {"name": f"{service}-worker", "labels": labels(service, "worker")},
            "spec": {"scaleTargetRef": {"name": f"{service}-worker"}, "minReplicaCount": 1, "maxReplicaCount": 10,
                     "pollingInterval": 15, "cooldownPeriod": 300,
                     "triggers": [{"type": "rabbitmq", "metadata": {
                         "protocol": "amqp", "queueName": f"{service}.tasks", "mode": "QueueLength", "value": "5",
                         "hostFromEnv": "BROKER_URL"}}]}}


def migrations_job(service: str) -> dict:
    container = {"name": "migrate", "image": f"vo2max/{service}", "args": migrate_and_serve(service)[0].split(),
                 "env": env(service, service), "resources": resources(service, "migrate"),
                 "securityContext": CONTAINER_SECURITY}
    spec = {**pod_spec(service, "migrate", container, wait=False), "restartPolicy": "Never"}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{service}-migrate", "labels": labels(service, "migrate")},
            "spec": {"backoffLimit": 4, "activeDeadlineSeconds": 900, "ttlSecondsAfterFinished": 86400,
                     "template": {"metadata": {"labels": labels(service, "migrate")}, "spec": spec}}}


def shared_claim(service: str) -> dict:
    name = SHARED_VOLUME[service][0]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{service}-{name}", "labels": labels(service, "web")},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "20Gi"}}}}


def calls(service: str) -> list[str]:
    """Whom a service calls: the *_URL settings compose gives any of its processes."""
    names = set()
    for process, spec in compose().items():
        if process == service or process.startswith(service + "-"):
            names |= set(spec.get("environment") or {})
    return sorted({URL_SETTINGS[n] for n in names if n in URL_SETTINGS})


def peer(service: str, component: str | None = None) -> dict:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": service,
                                            **({"app.kubernetes.io/component": component} if component else {})}}}


def in_data_namespace(labels_: dict) -> dict:
    return {"namespaceSelector": {"matchLabels": DATA_NAMESPACE}, "podSelector": {"matchLabels": labels_}}


def policy(name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "vo2max"}}, "spec": spec}


def network_policies() -> list[dict]:
    docs = [
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy("dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    ]
    for service in WEB:
        if service == "gateway":
            sources = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}]
        else:
            sources = [peer(caller) for caller in WEB if service in calls(caller)]
        docs.append(policy(f"{service}-ingress", {
            "podSelector": {"matchLabels": selector(service, "web")}, "policyTypes": ["Ingress"],
            "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": PORTS[service]}]}]}))
    docs.append(policy("metrics-scrape", {
        "podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "vo2max"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": MONITORING},
                               "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
                     "ports": [{"protocol": "TCP", "port": METRICS_PORT}]}]}))
    for service in WEB:
        egress = [{"to": [peer(target, "web")], "ports": [{"protocol": "TCP", "port": PORTS[target]}]}
                  for target in calls(service)]
        if service in DJANGO:
            egress.append({"to": [in_data_namespace({"cnpg.io/cluster": f"vo2-{service}-db"})],
                           "ports": [{"protocol": "TCP", "port": 5432}]})
            egress.append({"to": [in_data_namespace({"app.kubernetes.io/name": "vo2-rabbitmq"})],
                           "ports": [{"protocol": "TCP", "port": 5672}]})
        if service in DJANGO or service == "gateway":
            egress.append({"to": [in_data_namespace({"app.kubernetes.io/name": "vo2-redis"})],
                           "ports": [{"protocol": "TCP", "port": 6379}]})
        if service in CALLS_OUT:
            egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_NETWORKS}}],
                           "ports": [{"protocol": "TCP", "port": 443}]})
        if service == "notifications":  # e-mail to the SMTP relay (EMAIL_HOST); narrow the block to its address
            egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                           "ports": [{"protocol": "TCP", "port": port} for port in (25, 465, 587)]})
        docs.append(policy(f"{service}-egress", {"podSelector": {"matchLabels": {"app.kubernetes.io/name": service}},
                                                 "policyTypes": ["Egress"], "egress": egress}))
    return docs


def dump(docs: list[dict]) -> str:
    return "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=120) for doc in docs)


def render() -> dict[str, str]:
    files, processes = {}, compose()
    for service in WEB:
        docs = [migrations_job(service)] if service in DJANGO else []
        if service in SHARED_VOLUME:
            docs.append(shared_claim(service))
        docs += [web(service), cluster_service(service), autoscaler(service), disruption_budget(service, "web")]
        for component in BACKGROUND:
            if f"{service}-{component}" in processes:
                docs += [background(service, component), disruption_budget(service, component)]
                if component == "worker":
                    docs.append(queue_scaler(service))
        files[f"{service}.yaml"] = f"# {HEADINGS[service]}\n{GENERATED}{dump(docs)}"
    files["networkpolicies.yaml"] = (
        "# Default deny, then what each service needs: the gateway is reached from the ingress controller only; a\n"
        "# service's web pods only from those that call it (read from compose.yaml's *_URL settings: measurements →\n"
        "# identity + analysis, reports → identity + measurements, every service → identity's JWKS); each service's\n"
        "# pods reach only those, their own database, the broker and Redis (namespace vo2-data: see ../README.md for\n"
        "# managed services instead), and DNS; identity (SSO) and notifications (webhooks) also public addresses on\n"
        "# 443. Relays, consumers and workers accept no connections but Prometheus's scrapes (namespace monitoring,\n"
        "# port 9100 only: metrics-scrape).\n"
        f"{GENERATED}{dump(network_policies())}")
    return files


def main(argv: list[str]) -> int:
    stale = []
    for name, text in render().items():
        path = BASE / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run deploy/k8s/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
