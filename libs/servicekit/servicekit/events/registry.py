"""Handlers by event type: `@handles("identity.invitation.created")` in a service's consumers module."""
from __future__ import annotations

from typing import Callable

from .envelope import Event

Handler = Callable[[Event], None]
_handlers: dict[str, Handler] = {}


def handles(event_type: str):
    def register(fn: Handler) -> Handler:
        existing = _handlers.get(event_type)
        if existing is not None and existing is not fn and \
                (existing.__module__, existing.__qualname__) != (fn.__module__, fn.__qualname__):
            raise RuntimeError(f"{event_type} already handled by {existing.__module__}.{existing.__qualname__}")
        _handlers[event_type] = fn
        return fn
    return register


def handlers() -> dict[str, Handler]:
    return dict(_handlers)


def load(modules: list[str] | None = None) -> dict[str, Handler]:
    """Import the consumers modules: settings.EVENT_CONSUMERS (default: `<root package>.consumers` of
    ROOT_URLCONF's package, e.g. `notifications.consumers`), plus `modules`."""
    import importlib

    from django.conf import settings

    names = list(getattr(settings, "EVENT_CONSUMERS", None) or [settings.ROOT_URLCONF.split(".")[0] + ".consumers"])
    for name in names + list(modules or []):
        importlib.import_module(name)
    return handlers()
