"""The CloudEvents 1.0 envelope (structured JSON mode) with the `tenantid` extension, and the distributed-tracing
extension `traceparent` (W3C trace context of the span that published it: the consumers' spans are its children)."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

from . import contracts

SPECVERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion", "tenantid", "data")
INTERNAL = ("traceparent", "tracestate")  # our own tracing: never sent outside (webhooks)


def _default(value):
    if isinstance(value, (uuid.UUID,)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if hasattr(value, "__str__") and type(value).__name__ == "Decimal":
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable in an event")


def normalize(data: dict) -> dict:
    """The data as it will travel: plain JSON (UUIDs and datetimes as strings)."""
    return json.loads(json.dumps(data, default=_default))


def make(event_type: str, data: dict, *, source: str, tenant_id, subject: str | None = None,
         version: int | None = None, event_id: str | None = None, time: dt.datetime | None = None,
         traceparent: str | None = None) -> dict:
    """Build and validate an envelope; raises contracts.ContractError for a payload its contract refuses."""
    if not contracts.TYPE_RE.match(event_type):
        raise contracts.ContractError(f"event type {event_type!r} must look like '<service>.<entity>.<verb>'")
    version = version or contracts.latest_version(event_type)
    if not isinstance(data, dict):
        raise contracts.ContractError("event data must be a JSON object")
    data = normalize(data)
    contracts.validate(event_type, version, data)
    envelope = {
        "specversion": SPECVERSION,
        "id": str(event_id or uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": (time or dt.datetime.now(dt.timezone.utc)).isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "datacontenttype": "application/json",
        "dataschema": contracts.schema_urn(event_type, version),
        "tenantid": str(tenant_id) if tenant_id else None,
        "data": data,
    }
    if traceparent:
        envelope["traceparent"] = traceparent
    return envelope


def public(envelope: dict) -> dict:
    """The envelope as it may leave the platform (a tenant's webhook): without our tracing extensions."""
    return {k: v for k, v in envelope.items() if k not in INTERNAL}


class EnvelopeError(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    """What a handler receives. `data` holds the payload; read only the fields you need."""

    id: str
    type: str
    source: str
    tenant_id: str | None
    subject: str | None
    time: str | None
    version: int | None
    data: dict
    raw: dict = field(repr=False, compare=False)

    @property
    def traceparent(self) -> str | None:
        value = self.raw.get("traceparent")
        return value if isinstance(value, str) else None


def parse(body) -> Event:
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body).decode("utf-8")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise EnvelopeError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise EnvelopeError("an envelope is a JSON object")
    missing = [k for k in REQUIRED if k not in body]
    if missing:
        raise EnvelopeError(f"envelope lacks {', '.join(missing)}")
    if body.get("specversion") != SPECVERSION:
        raise EnvelopeError(f"unsupported specversion {body.get('specversion')!r}")
    try:
        event_id = str(uuid.UUID(str(body["id"])))
        tenant = str(uuid.UUID(str(body["tenantid"]))) if body.get("tenantid") else None
    except ValueError as exc:
        raise EnvelopeError(f"bad id or tenantid: {exc}") from exc
    if not isinstance(body["data"], dict):
        raise EnvelopeError("data must be a JSON object")
    return Event(id=event_id, type=str(body["type"]), source=str(body["source"]), tenant_id=tenant,
                 subject=body.get("subject"), time=body.get("time"),
                 version=contracts.version_of(body.get("dataschema")), data=body["data"], raw=body)
