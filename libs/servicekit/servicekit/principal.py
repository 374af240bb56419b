"""Who is calling, and for which tenant: set once per request (or per event/task), read everywhere."""
from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Iterator
from contextlib import contextmanager

# Roles within a tenant (ARCHITECTURE.md). `operator` is the platform operator who manages tenants.
OWNER, ADMIN, PHYSIOLOGIST, ATHLETE, VIEWER = "owner", "admin", "physiologist", "athlete", "viewer"
OPERATOR = "operator"
SERVICE = "service"
TENANT_ROLES = (OWNER, ADMIN, PHYSIOLOGIST, ATHLETE, VIEWER)
# Who may change tenant data (athletes, tests, overrides); athletes and viewers read.
STAFF_ROLES = frozenset({OWNER, ADMIN, PHYSIOLOGIST})
MANAGER_ROLES = frozenset({OWNER, ADMIN})


@dataclass(frozen=True)
class Principal:
    user_id: str
    tenant_id: str | None
    roles: frozenset[str]
    token_id: str | None = None
    claims: dict = field(default_factory=dict, compare=False, hash=False)

    def has_any(self, roles) -> bool:
        return bool(self.roles & frozenset(roles))

    @property
    def is_service(self) -> bool:
        return SERVICE in self.roles


_current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)
_current_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant_id", default=None)


def current_principal() -> Principal | None:
    return _current_principal.get()


def current_tenant_id() -> str | None:
    return _current_tenant.get()


def set_principal(principal: Principal | None):
    """Set the caller; returns tokens for `reset_principal`."""
    return _current_principal.set(principal), _current_tenant.set(principal.tenant_id if principal else None)


def reset_principal(tokens) -> None:
    p_token, t_token = tokens
    _current_principal.reset(p_token)
    _current_tenant.reset(t_token)


@contextmanager
def acting_for_tenant(tenant_id: str) -> Iterator[None]:
    """Background work (events, tasks) acts for the tenant named by the event or task, never a global."""
    token = _current_tenant.set(str(tenant_id))
    try:
        yield
    finally:
        _current_tenant.reset(token)
