"""Event contracts: one JSON Schema per event type and version in `contracts/events/<type>.v<N>.json`.

Where: `VO2_CONTRACTS_DIR` (one folder, or several joined by os.pathsep, first match wins); otherwise the nearest
`contracts/events` folder found walking up from this file (the repository checkout), then `/app/contracts/events`
(Dockerfiles copy the repository's contracts/ to /app/contracts).
"""
from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

import jsonschema

from ..config import env

SCHEMA_URN = "urn:vo2max:events:{type}.v{version}"
_FILE = re.compile(r"^(?P<type>[a-z0-9_]+(?:\.[a-z0-9_]+)+)\.v(?P<version>\d+)\.json$")
TYPE_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+){2,}$")


class ContractError(ValueError):
    """The event does not match its declared contract (or has none)."""


def contract_dirs() -> list[Path]:
    configured = env("VO2_CONTRACTS_DIR")
    if configured:
        return [Path(p).resolve() for p in configured.split(os.pathsep) if p]
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "contracts" / "events"
        if candidate.is_dir():
            return [candidate]
    return [Path("/app/contracts/events")]


@functools.lru_cache(maxsize=None)
def _catalogue(dirs: tuple[Path, ...]) -> dict[str, dict[int, Path]]:
    found: dict[str, dict[int, Path]] = {}
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            m = _FILE.match(path.name)
            if m:
                found.setdefault(m["type"], {}).setdefault(int(m["version"]), path)
    return found


def catalogue() -> dict[str, dict[int, Path]]:
    return _catalogue(tuple(contract_dirs()))


def latest_version(event_type: str) -> int:
    versions = catalogue().get(event_type)
    if not versions:
        raise ContractError(f"no contract for event type {event_type!r} in {[str(d) for d in contract_dirs()]}")
    return max(versions)


@functools.lru_cache(maxsize=None)
def _validator(path: Path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validator(event_type: str, version: int):
    path = catalogue().get(event_type, {}).get(version)
    if path is None:
        raise ContractError(f"no contract for {event_type} v{version}")
    return _validator(path)


def validate(event_type: str, version: int, data: dict) -> None:
    errors = sorted(validator(event_type, version).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(data)"
        raise ContractError(f"{event_type} v{version}: {where}: {first.message}"
                            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))


def schema_urn(event_type: str, version: int) -> str:
    return SCHEMA_URN.format(type=event_type, version=version)


def version_of(dataschema: str | None) -> int | None:
    m = re.search(r"\.v(\d+)$", dataschema or "")
    return int(m.group(1)) if m else None


def clear_cache() -> None:
    _catalogue.cache_clear()
    _validator.cache_clear()
