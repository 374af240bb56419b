"""compose.yaml has the SaaS shape the contract asks for (no Docker engine here, so it is checked as data)."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
APPS = {"gateway": ROOT / "gateway", "identity": ROOT / "services/identity", "measurements": ROOT / "services/measurements",
        "analysis": ROOT / "services/analysis", "reports": ROOT / "services/reports",
        "notifications": ROOT / "services/notifications"}
SERVERS = {"postgres", "rabbitmq", "redis"}
ENV_READ = re.compile(r"""(?:\benv|env_int|env_bool|env_list|secret|environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
                      r"""|environ\[\s*["']([A-Z][A-Z0-9_]+)["']\s*\]""")


def names_read(*folders: Path) -> set[str]:
    names = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            if "tests" in path.parts:
                continue
            for a, b in ENV_READ.findall(path.read_text(errors="replace")):
                names.add(a or b)
    return names


# boto3 reads the S3 credentials itself (servicekit.storage's S3 backend passes none)
KIT_NAMES = names_read(ROOT / "libs/servicekit/servicekit") | {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def test_every_service_and_server_is_a_container():
    assert set(APPS) | SERVERS <= set(SERVICES)


def test_only_the_gateway_publishes_a_port():
    published = {name for name, spec in SERVICES.items() if spec.get("ports")}
    assert published == {"gateway"}


@pytest.mark.parametrize("name", sorted(APPS))
def test_each_service_builds_from_its_own_dockerfile(name):
    build = SERVICES[name]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    assert dockerfile.is_file() and dockerfile.parent == APPS[name]


@pytest.mark.parametrize("name", sorted(set(SERVICES)))
def test_every_container_has_a_healthcheck_and_waits_for_healthy_dependencies(name):
    spec = SERVICES[name]
    assert spec["healthcheck"]["test"]
    for dependency, condition in (spec.get("depends_on") or {}).items():
        assert condition == {"condition": "service_healthy"}, f"{name} → {dependency}"


def test_postgres_init_creates_owner_and_application_roles_per_service():
    mounts = " ".join(SERVICES["postgres"]["volumes"])
    assert "deploy/postgres/init.sh:/docker-entrypoint-initdb.d/" in mounts
    script = (ROOT / "deploy/postgres/init.sh").read_text()
    assert "NOBYPASSRLS" in script and "OWNER ${owner}" in script and "GRANT SELECT, INSERT" in script


@pytest.mark.parametrize("name", sorted(APPS))
def test_service_environment_matches_what_its_settings_read(name):
    environment = set(SERVICES[name].get("environment") or {})
    read = KIT_NAMES | names_read(APPS[name])
    unread = environment - read
    assert not unread, f"{name} is given variables nothing reads: {sorted(unread)}"
    if name not in {"gateway", "analysis"}:
        required = {"DATABASE_URL", "DATABASE_MIGRATE_URL", "DJANGO_SECRET_KEY", "BROKER_URL", "REDIS_URL"}
        assert required <= environment, f"{name} lacks {sorted(required - environment)}"
        dsn = SERVICES[name]["environment"]["DATABASE_URL"]
        assert f"vo2_{name}_app:" in dsn and dsn.endswith(f"/vo2_{name}"), "the service connects as its app role"
        assert f"vo2_{name}_owner:" in SERVICES[name]["environment"]["DATABASE_MIGRATE_URL"]
    secrets_read = set(re.findall(r"""secret\(\s*["']([A-Z0-9_]+)["']""",
                                  "\n".join(p.read_text() for p in APPS[name].rglob("*.py") if "tests" not in p.parts)))
    assert secrets_read <= environment, f"{name} reads secrets compose does not give: {sorted(secrets_read - environment)}"


@pytest.mark.parametrize("name", ["identity", "measurements", "reports", "notifications"])
def test_django_images_carry_the_event_contracts_and_their_requirements(name):
    dockerfile = (APPS[name] / "Dockerfile").read_text()
    assert "COPY contracts /app/contracts" in dockerfile and "VO2_CONTRACTS_DIR=/app/contracts/events" in dockerfile
    for line in (APPS[name] / "requirements.txt").read_text().splitlines():
        if line.startswith("-r ../../requirements/"):
            assert line.split("/")[-1] in dockerfile, f"{name}'s image installs {line}"


def test_background_processes_run_from_their_service_image():
    for name, spec in SERVICES.items():
        if name.endswith(("-relay", "-consumer", "-worker")):
            service = name.rsplit("-", 1)[0]
            assert spec["build"] == SERVICES[service]["build"] and spec["environment"] == SERVICES[service]["environment"]
            assert spec["depends_on"] == {service: {"condition": "service_healthy"}}
