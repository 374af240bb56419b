"""DRF pieces every Django service uses: token authentication (with the tenant set for RLS), role permissions,
problem+json errors, cursor pagination."""
from __future__ import annotations

import json
import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, ValidationError as DjangoValidationError
from django.db import connections, transaction
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.parsers import JSONParser as DRFJSONParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from .. import jwt as kit_jwt
from ..principal import MANAGER_ROLES, STAFF_ROLES, Principal, set_principal
from .. import plans
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
        except kit_jwt.AuthUnavailable as exc:
            raise ProblemError(503, "auth-unavailable", exc.detail,
                               headers={"Retry-After": str(kit_jwt.AUTH_UNAVAILABLE_RETRY_S)}) from exc
        except kit_jwt.InvalidToken as exc:
            raise exceptions.AuthenticationFailed(exc.reason) from exc
        self.check_principal(principal)
        plans.refuse_writes_when_read_only(request.method, request.path, principal.claims)  # 402 when read-only
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


def invalid_cursor() -> ProblemError:
    return ProblemError(400, "invalid-cursor", "This cursor was not made by this list; follow `next` or `previous` "
                        "as given, or leave it out to start from the first page.",
                        errors=[{"field": "cursor", "detail": "not a cursor of this list"}])


class CursorPage(CursorPagination):
    """Cursor pages, newest first; `?page_size=` from 1 to 200. A cursor that does not decode, or whose position is
    not a value of the ordering field (a forged one), is a 400 `invalid-cursor` problem, never a database error."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-created_at", "-id")

    def paginate_queryset(self, queryset, request, view=None):
        self._model = getattr(queryset, "model", None)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ProblemError(400, "validation-error",
                               f"page_size: a whole number from 1 to {self.max_page_size}",
                               errors=[{"field": "page_size",
                                        "detail": f"a whole number from 1 to {self.max_page_size}"}])
        return int(raw)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound as exc:
            raise invalid_cursor() from exc
        if cursor is None or cursor.position is None:
            return cursor
        field = self._ordering_field()
        if field is not None:
            try:
                if field.to_python(cursor.position) is None:
                    raise DjangoValidationError("empty")
            except (DjangoValidationError, TypeError, ValueError, OverflowError) as exc:
                raise invalid_cursor() from exc
        return Cursor(offset=cursor.offset, reverse=cursor.reverse, position=cursor.position)

    def _ordering_field(self):
        model = getattr(self, "_model", None)
        name = self.ordering[0].lstrip("-") if self.ordering else None
        if model is None or not name or "__" in name:
            return None
        try:
            return model._meta.get_field(name)
        except Exception:  # an annotation, not a model field: nothing to check it against
            return None

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size,
                                       "default": self.page_size}
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The `next` or `previous` link's cursor (opaque; 400 if altered)."
        return parameters

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": schema,
            },
        }


MAX_JSON_DEPTH = 32


def json_depth_exceeds(data, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit` (iterative: no recursion on hostile input)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


class JSONParser(DRFJSONParser):
    """DRF's JSON parser with a nesting limit (MAX_JSON_DEPTH levels): deeper documents are a 400 problem, not a
    RecursionError (500) in the parser or later in a serializer. Non-finite numbers (NaN, Infinity, or 1e309,
    which overflows to infinity) are refused too: they are not JSON numbers (RFC 8259) and no field holds them."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        from django.conf import settings

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # DRF reads the stream itself, past Django's own check
        raw = (stream.read(limit + 1) if limit else stream.read()) if stream is not None else b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if limit and len(raw) > limit:
            raise ProblemError(**_problem_args(body_too_large()))
        deep = raw.count(b"[") + raw.count(b"{") > self.max_depth  # fewer brackets cannot nest deeper
        try:
            data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError as exc:
            raise too_deep(self.max_depth) from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        if deep and isinstance(data, (dict, list)) and json_depth_exceeds(data, self.max_depth):
            raise too_deep(self.max_depth)
        return data


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range for a number")
    return value


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _problem_args(body: dict) -> dict:
    return {"status": body["status"], "slug": body["type"].removeprefix("urn:vo2:problem:"), "detail": body["detail"]}


def too_deep(limit: int) -> ProblemError:
    return ProblemError(400, "bad-request", f"The JSON body nests deeper than {limit} levels.")


def problem_response(body: dict, headers: dict | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def body_too_large() -> dict:
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return problem(413, "payload-too-large", f"The request body exceeds {limit} bytes.")


def _database_errors() -> tuple:
    from django.db import InterfaceError, OperationalError

    return (OperationalError, InterfaceError)


DATABASE_DOWN = _database_errors()


# PostgreSQL aborts one of two transactions that wait on each other (deadlock_detected) or that a serializable
# snapshot cannot order (serialization_failure): the database is fine, the same request sent again succeeds.
CONCURRENT_CHANGE_SQLSTATES = frozenset({"40P01", "40001"})


def database_problem(exc) -> tuple[dict, dict]:
    """The answer to a database error, 503 either way and never a 500; the request's transaction was rolled back, so
    nothing of it is stored and the client sends it again. `database-unavailable` (Retry-After 5): the database went
    away (restart, failover) or refused for now. `concurrent-change` (Retry-After 1): PostgreSQL aborted the
    transaction because another one changed the same rows at the same moment; the database is up."""
    from django.db import connection

    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate in CONCURRENT_CHANGE_SQLSTATES:
        log.warning("concurrent change (sqlstate %s): %s", sqlstate, str(exc)[:300])
        return (problem(503, "concurrent-change", "Another change to the same data was being stored at the same "
                        "moment, and this request gave way; nothing of it was stored. Send it again."),
                {"Retry-After": "1"})
    log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc)[:300])
    try:
        connection.close()  # broken: the next request opens a new one
    except Exception:  # noqa: BLE001
        pass
    return (problem(503, "database-unavailable", "The service's database cannot be reached right now; "
                    "nothing was stored. Try again shortly."), {"Retry-After": "5"})


def problem_exception_handler(exc, context):
    """Every DRF error as application/problem+json with a stable type and field errors, and nothing of the request
    stored: the request's transaction (ATOMIC_REQUESTS) is marked for rollback, as DRF's own handler does. A view
    whose refusal must commit what it recorded returns its problem response instead of raising."""
    from rest_framework.views import set_rollback  # rest_framework.views imports this module's authentication

    response = _problem_for(exc)
    if response is not None:
        set_rollback()
    return response


def _problem_for(exc):
    if isinstance(exc, ProblemError):
        return problem_response(exc.body(), exc.headers)
    if isinstance(exc, Http404):
        return problem_response(problem(404, "not-found", "No such object here."))
    if isinstance(exc, RequestDataTooBig):
        return problem_response(body_too_large())
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DATABASE_DOWN):
        return problem_response(*database_problem(exc))
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
