"""DRF pieces every Django service uses: token authentication (with the tenant set for RLS), role permissions,
problem+json errors, cursor pagination."""
from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import connections, transaction
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from .. import jwt as kit_jwt
from ..principal import MANAGER_ROLES, STAFF_ROLES, Principal, set_principal
from ..problems import PROBLEM_CONTENT_TYPE, SLUG_BY_STATUS, ProblemError, flatten_field_errors, problem
from ..tenancy import database_alias_for, set_database_tenant

log = logging.getLogger(__name__)


class AuthenticatedPrincipal:
    """What `request.user` is: enough for DRF (`is_authenticated`) and our code (`principal`)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, principal: Principal):
        self.principal = principal
        self.pk = self.id = principal.user_id

    def __str__(self):
        return f"user {self.principal.user_id}"


class TokenAuthentication(BaseAuthentication):
    """Bearer access token verified against identity's JWKS. No service trusts the network: identity headers a
    caller might send are never read; only the verified token counts."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        if parts[0].lower() != self.keyword or len(parts) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'")
        try:
            principal = self.verifier().verify(parts[1].decode("ascii", "replace"))
        except kit_jwt.InvalidToken as exc:
            raise exceptions.AuthenticationFailed(exc.reason) from exc
        self.check_principal(principal)
        set_principal(principal)  # reset by RequestContextMiddleware at the end of the request
        alias = database_alias_for(principal.tenant_id)
        if connections[alias].in_atomic_block or not transaction.get_autocommit(alias):
            set_database_tenant(principal.tenant_id, using=alias)
        return AuthenticatedPrincipal(principal), principal

    def verifier(self) -> kit_jwt.TokenVerifier:
        return kit_jwt.verifier_from_env()

    def check_principal(self, principal: Principal) -> None:
        """Hook for a service that knows more (identity checks the user is still active)."""

    def authenticate_header(self, request):
        return 'Bearer realm="vo2max"'


def principal_of(request) -> Principal:
    principal = getattr(request, "auth", None)
    if not isinstance(principal, Principal):
        raise exceptions.NotAuthenticated()
    return principal


class IsTenantMember(BasePermission):
    """Any verified caller acting for a tenant."""

    def has_permission(self, request, view):
        principal = getattr(request, "auth", None)
        if not isinstance(principal, Principal):
            return False
        if not principal.tenant_id:
            raise exceptions.PermissionDenied("this token does not act for a tenant")
        return True


def roles_allowed(read: frozenset | set | None = None, write: frozenset | set | None = None):
    """A permission class: `read` roles for safe methods, `write` roles for the rest (None = any tenant member)."""

    class RolePermission(IsTenantMember):
        def has_permission(self, request, view):
            if not super().has_permission(request, view):
                return False
            allowed = read if request.method in ("GET", "HEAD", "OPTIONS") else write
            if allowed is not None and not request.auth.has_any(allowed):
                raise exceptions.PermissionDenied("your role may not do this")
            return True

    RolePermission.__name__ = "RolePermission"
    return RolePermission


StaffWrites = roles_allowed(read=None, write=STAFF_ROLES)
ManagersOnly = roles_allowed(read=MANAGER_ROLES, write=MANAGER_ROLES)


class CursorPage(CursorPagination):
    """Cursor pages, newest first; `?page_size=` up to 200."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-created_at", "-id")

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


def problem_response(body: dict, headers: dict | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def problem_exception_handler(exc, context):
    """Every DRF error as application/problem+json with a stable type and field errors."""
    if isinstance(exc, ProblemError):
        return problem_response(exc.body(), exc.headers)
    if isinstance(exc, Http404):
        return problem_response(problem(404, "not-found", "No such object here."))
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.ValidationError):
            errors = flatten_field_errors(exc.detail)
            first = errors[0] if errors else {"field": None, "detail": "invalid input"}
            where = f"{first['field']}: " if first.get("field") else ""
            body = problem(400 if status_code == 400 else status_code, "validation-error",
                           f"{where}{first['detail']}", errors=errors)
        else:
            detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
            if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
                status_code = status.HTTP_401_UNAUTHORIZED
                headers.setdefault("WWW-Authenticate", 'Bearer realm="vo2max"')
            body = problem(status_code, SLUG_BY_STATUS.get(status_code, "error"), detail)
        return problem_response(body, headers)
    return None  # unexpected: Django's 500 handler (see views.server_error) answers
