"""The shape of the code, read with ast from the files (nothing is imported, nothing runs; well under a second).

- no import circle between the modules of any package (gateway, each service, the kit);
- inside each Django service, domain folders import only downwards, in the layer order written below;
  the root modules are either foundations every folder may import (settings, events, celery) or entry points
  Django and the worker load by name (urls, consumers), which no module imports;
- no service imports another service's package (their tests neither), and the kit imports no service;
- event type names are written once per service, in `<service>/events.py`.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from . import importgraph

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "measurements", "analysis", "reports", "notifications")
PACKAGES = {"gateway": ROOT / "gateway" / "gateway", "servicekit": ROOT / "libs" / "servicekit" / "servicekit",
            **{name: ROOT / "services" / name / name for name in SERVICES}}
TESTS = {"gateway": ROOT / "gateway" / "tests", "servicekit": ROOT / "libs" / "servicekit" / "tests",
         **{name: ROOT / "services" / name / "tests" for name in SERVICES}}
APPLICATIONS = set(PACKAGES) - {"servicekit"}  # what no other part may import

# Each Django service's domain folders, lowest layer first. A folder imports folders of lower layers only; folders
# in one layer do not import each other.
LAYERS = {
    "identity": [("audit",), ("tenants",), ("accounts",), ("tokens",), ("invitations", "sso", "apikeys", "mfa")],
    "measurements": [("athletes",), ("exercise_tests",), ("samples", "results"), ("imports",), ("exports",),
                     ("erasure",)],
    "reports": [("rendering",), ("documents",)],
    "notifications": [("directory", "preferences"), ("inapp",), ("mail",), ("outcomes",), ("webhooks",), ("erasure",)],
}
FOUNDATIONS = {"settings", "events", "celery", "wsgi"}  # domain folders may import these; they import no folder
ENTRIES = {"urls", "consumers", "tasks", "asgi"}         # loaded by name (tasks: by the Celery factory; asgi: by
#                                                           the web server); they
#                                                           import folders, nobody imports them


def graph(name: str) -> importgraph.Graph:
    return importgraph.read(PACKAGES[name])


def part_of(module: str) -> str:
    """`reports.documents.tasks` → `documents`; `reports.events` → `events`; `reports` → ``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_no_import_circle(name):
    assert graph(name).cycles() == []


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_no_part_imports_another_service(name):
    graph_ = graph(name)
    foreign = {module: sorted(outside & (APPLICATIONS - {name})) for module, outside in graph_.external.items()}
    assert {m: f for m, f in foreign.items() if f} == {}
    tests = importgraph.read(TESTS[name])
    imported = {module: sorted(outside & (APPLICATIONS - {name})) for module, outside in tests.external.items()}
    assert {m: f for m, f in imported.items() if f} == {}, f"{name}'s tests import another service's code"


@pytest.mark.parametrize("service", sorted(LAYERS))
def test_domain_folders_import_only_downwards(service):
    graph_ = graph(service)
    layer_of = {folder: i for i, layer in enumerate(LAYERS[service]) for folder in layer}
    root = PACKAGES[service]
    folders = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == set(layer_of), "every domain folder has its place in LAYERS (and only those exist)"
    root_modules = {p.stem for p in root.glob("*.py")} - {"__init__"}
    assert root_modules <= FOUNDATIONS | ENTRIES, f"root modules beyond the shape: {root_modules - FOUNDATIONS - ENTRIES}"
    wrong = []
    for module, targets in graph_.edges.items():
        source = part_of(module)
        for target in targets:
            into = part_of(target)
            if into == source or source in ENTRIES:
                continue
            if into in ENTRIES:
                wrong.append(f"{module} -> {target} (an entry point)")
            elif source in FOUNDATIONS or source == "":
                if into in layer_of:
                    wrong.append(f"{module} -> {target} (a foundation importing a domain folder)")
            elif into in layer_of and layer_of[into] >= layer_of[source]:
                wrong.append(f"{module} -> {target} ({'sideways' if layer_of[into] == layer_of[source] else 'up'})")
    assert wrong == []


def declared_event_types() -> set[str]:
    return {re.sub(r"\.v\d+\.json$", "", p.name) for p in (ROOT / "contracts" / "events").glob("*.v*.json")}


@pytest.mark.parametrize("service", sorted(LAYERS))
def test_event_type_names_are_written_only_in_events_py(service):
    types = declared_event_types()
    root = PACKAGES[service]
    found = {}
    for path in root.rglob("*.py"):
        if path == root / "events.py" or "migrations" in path.parts:
            continue
        literals = {node.value for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in types}
        if literals:
            found[str(path.relative_to(root))] = sorted(literals)
    assert found == {}, "event types by name from <service>/events.py, not as literals"
    assert (root / "events.py").is_file()


def test_the_kit_imports_no_service():
    outside = set().union(*graph("servicekit").external.values())
    assert outside & APPLICATIONS == set()
