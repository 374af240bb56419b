"""Tracing (OpenTelemetry, W3C `traceparent`): one trace from the client's request through the gateway, every service
call, the Celery job and the event (its envelope's CloudEvents `traceparent` extension) to its consumers.

    tracing.setup("measurements")                       # once per process (the kit's entry points do it)
    with tracing.span("GET /api/v1/tests/{pk}/", "server", traceparent=incoming) as span: ...
    tracing.traceparent()                               # the header for an outgoing call, a job or an event

Exported by OTLP over HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, with
the SDK's batch processor (its `OTEL_BSP_*` settings apply); nothing is recorded or sent when neither is. Either way
the trace id goes on: the kit binds it for the log lines (servicekit.requestid: `trace_id` beside `request_id`) and
passes it on in `traceparent` — a new span id per hop when nothing records spans.

Spans are made at the kit's own seams only: the Django and FastAPI middleware (server), `servicekit.http` (client),
`servicekit.jobs` (the job's run, consumer), `servicekit.events` (publish, producer; handle, consumer); the gateway
makes its own (server, and a client span per upstream call).
"""
from __future__ import annotations

import contextlib
import random
import threading

from . import requestid
from .config import env

_state = {"provider": None, "tracer": None, "service": None}
_lock = threading.Lock()
KINDS = ("server", "client", "producer", "consumer", "internal")


def endpoint_configured() -> bool:
    return bool(env("OTEL_EXPORTER_OTLP_ENDPOINT") or env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def setup(service: str, *, exporter=None, role: str | None = None) -> bool:
    """Record and export spans for this process when an OTLP endpoint is configured (or `exporter` is given: tests
    pass an in-memory one); returns whether spans are recorded. Safe to call again (the first call wins)."""
    with _lock:
        if _state["provider"] is not None:
            return True
        if exporter is None and not endpoint_configured():
            _state["service"] = service
            return False
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        attributes = {"service.name": service, "service.namespace": "vo2max"}
        if role:
            attributes["vo2.process"] = role
        provider = TracerProvider(resource=Resource.create(attributes))
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, headers, timeout
        provider.add_span_processor(BatchSpanProcessor(exporter))  # forks are handled by the SDK (gunicorn, prefork)
        _state.update(provider=provider, tracer=provider.get_tracer("servicekit"), service=service)
        return True


def enabled() -> bool:
    return _state["tracer"] is not None


def flush(timeout_ms: int = 5000) -> None:
    provider = _state["provider"]
    if provider is not None:
        provider.force_flush(timeout_ms)


def shutdown() -> None:
    """Tests: forget the provider (spans still queued are exported first)."""
    with _lock:
        provider = _state["provider"]
        _state.update(provider=None, tracer=None)
    if provider is not None:
        provider.shutdown()


def _kind(kind: str):
    from opentelemetry.trace import SpanKind

    return {"server": SpanKind.SERVER, "client": SpanKind.CLIENT, "producer": SpanKind.PRODUCER,
            "consumer": SpanKind.CONSUMER}.get(kind, SpanKind.INTERNAL)


def _parent(traceparent: str | None):
    """The OTel context of a `traceparent` header (None: continue the current span, if any)."""
    if not traceparent:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


@contextlib.contextmanager
def span(name: str, kind: str = "internal", *, traceparent: str | None = None, attributes: dict | None = None,
         new_trace_id: str | None = None):
    """A span around the block, current inside it, its trace id bound for the logs. `traceparent` (an incoming
    header, a job's or an event's) makes it that trace's child; without one it continues the current span, or
    starts a trace. Not recording: only the trace id of `traceparent` (or `new_trace_id`) is bound; yields None."""
    tracer = _state["tracer"]
    if tracer is None:
        trace_id = requestid.trace_id_of(traceparent) or new_trace_id or requestid.current_trace_id()
        token = requestid.bind_trace(trace_id)
        try:
            yield None
        finally:
            requestid.unbind_trace(token)
        return
    context = _parent(traceparent)
    with tracer.start_as_current_span(name, context=context, kind=_kind(kind), attributes=attributes,
                                      record_exception=True, set_status_on_exception=True) as current:
        token = requestid.bind_trace(f"{current.get_span_context().trace_id:032x}")
        try:
            yield current
        finally:
            requestid.unbind_trace(token)


def traceparent() -> str:
    """The `traceparent` for something this process starts now (a call, a job, an event): the current span's when
    one records, else the bound trace id (or a new one) with a new span id."""
    if _state["tracer"] is not None:
        from opentelemetry import trace

        current = trace.get_current_span()
        if current.get_span_context().is_valid:
            return header_of(current)
    trace_id = requestid.current_trace_id()
    if not trace_id:
        rid = requestid.current_request_id()
        trace_id = rid if rid and requestid.is_trace_id(rid) else f"{random.getrandbits(128):032x}"
    return f"00-{trace_id}-{random.getrandbits(64) | 1:016x}-01"


def set_status(current, status: int) -> None:
    """HTTP status on a server or client span: 5xx marks it failed."""
    if current is None:
        return
    current.set_attribute("http.response.status_code", status)
    if status >= 500:
        from opentelemetry.trace import Status, StatusCode

        current.set_status(Status(StatusCode.ERROR))


def start_span(name: str, kind: str = "internal", *, traceparent: str | None = None, parent=None,
               attributes: dict | None = None):
    """A span that is NOT made current (asyncio code that passes parents explicitly, like the gateway's hot path):
    child of `parent` (a span) or of `traceparent`; end it with `.end()`. None when tracing does not record."""
    tracer = _state["tracer"]
    if tracer is None:
        return None
    if parent is not None:
        from opentelemetry import trace

        context = trace.set_span_in_context(parent)
    else:
        context = _parent(traceparent)
    return tracer.start_span(name, context=context, kind=_kind(kind), attributes=attributes)


def header_of(current) -> str:
    """The `traceparent` naming `current` as the parent."""
    context = current.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
