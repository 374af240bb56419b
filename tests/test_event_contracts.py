"""Every declared event is published by the service that owns it, and every consumed event is declared."""
import json
import re
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = sorted((ROOT / "contracts" / "events").glob("*.v*.json"))
DECLARED = {re.sub(r"\.v\d+\.json$", "", p.name) for p in CONTRACTS}


def source_of(service: str) -> str:
    package = ROOT / "services" / service / service
    return "\n".join(p.read_text() for p in package.rglob("*.py") if "tests" not in p.parts)


def test_contracts_are_valid_json_schemas_with_a_version():
    assert CONTRACTS
    for path in CONTRACTS:
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema.get("type") == "object" and schema.get("required"), path.name


@pytest.mark.parametrize("event_type", sorted(DECLARED))
def test_each_declared_event_is_published_by_its_owner(event_type):
    owner = event_type.split(".")[0]
    code = source_of(owner)
    # through the outbox (publish), or as an envelope the owner makes for its webhooks only (a ping)
    assert "publish(" in code or "envelope.make(" in code, f"{owner} publishes nothing"
    assert f'"{event_type}"' in code or f"'{event_type}'" in code, f"{owner} never names {event_type}"


def event_names(package: Path) -> dict[str, str]:
    """NAME -> event type, as the service's `<service>/events.py` writes them (its one home for the names)."""
    events = package / "events.py"
    return dict(re.findall(r"""^([A-Z][A-Z0-9_]*)\s*=\s*["']([a-z0-9_.]+)["']""", events.read_text(), re.M)
                ) if events.is_file() else {}


def test_each_consumed_event_is_declared():
    consumed = set()
    for consumers in (ROOT / "services").glob("*/*/consumers.py"):
        names = event_names(consumers.parent)
        for arg in re.findall(r"""@handles\(\s*([^)\s]+)\s*\)""", consumers.read_text()):
            literal = re.fullmatch(r"""["']([a-z0-9_.]+)["']""", arg)
            consumed.add(literal.group(1) if literal else names.get(arg.removeprefix("events."), arg))
    assert consumed, "no service consumes anything?"
    assert consumed <= DECLARED, f"consumed but not declared: {sorted(consumed - DECLARED)}"


def test_progress_events_share_one_shape_and_are_consumed():
    """Live progress (`<service>.<job>.progressed`): each names its job, stage, progress 0-100 and the job's run
    (generation, so a re-run starts over on the stream), and notifications consumes every one of them."""
    progressed = sorted(t for t in DECLARED if t.endswith(".progressed"))
    assert {"measurements.import.progressed", "reports.report.progressed"} <= set(progressed)
    consumed = event_names(ROOT / "services" / "notifications" / "notifications").values()
    for event_type in progressed:
        schema = json.loads((ROOT / "contracts" / "events" / f"{event_type}.v1.json").read_text())
        job = event_type.split(".")[1]
        assert {f"{job}_id", "stage", "progress", "generation"} <= set(schema["required"]), event_type
        assert schema["properties"]["progress"] == {"type": "integer", "minimum": 0, "maximum": 100}, event_type
        assert event_type in consumed, f"notifications does not consume {event_type}"


def consumed_by(service: str) -> set[str]:
    consumers = ROOT / "services" / service / service / "consumers.py"
    if not consumers.is_file():
        return set()
    names = event_names(consumers.parent)
    return {names.get(arg.removeprefix("events."), arg.strip("\"'"))
            for arg in re.findall(r"""@handles\(\s*([^)\s]+)\s*\)""", consumers.read_text())}


# issue 18: who holds data about an athlete, a test or a tenant, and so must erase it and confirm
HOLDERS = {"athlete": ("reports", "notifications"), "test": ("reports", "notifications"),
           "tenant": ("measurements", "reports", "notifications")}
REQUESTS = {"athlete": ("measurements", "measurements.athlete.deleted"),
            "test": ("measurements", "measurements.test.deleted"), "tenant": ("identity", "identity.tenant.deleted")}


@pytest.mark.parametrize("scope", sorted(HOLDERS))
def test_every_deletion_request_is_erased_and_confirmed_by_each_holder(scope):
    asker, request = REQUESTS[scope]
    assert request in DECLARED
    for holder in HOLDERS[scope]:
        assert request in consumed_by(holder), f"{holder} does not act on {request}"
        answer = f"{holder}.deletion.confirmed"
        assert answer in DECLARED and answer in event_names(ROOT / "services" / holder / holder).values()
        assert answer in consumed_by(asker), f"{asker} does not record {answer}"
        schema = json.loads((ROOT / "contracts" / "events" / f"{answer}.v1.json").read_text())
        assert scope in schema["properties"]["scope"]["enum"]
