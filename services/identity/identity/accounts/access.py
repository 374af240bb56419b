"""Who may call identity's views (any verified caller, the platform operator), and answering refusals whose side
effects must commit (failure counts, revoked families, audit rows). Used by the views of accounts and the folders
above it."""
from __future__ import annotations

from rest_framework.permissions import BasePermission

from servicekit.django.drf import problem_response
from servicekit.principal import OPERATOR, SERVICE, Principal
from servicekit.problems import ProblemError


def refusal(exc: ProblemError):
    """The problem response for `exc`, returned by the view rather than raised through DRF, so that the request's
    transaction (ATOMIC_REQUESTS) commits whatever the refusal recorded, whatever an exception handler does."""
    return problem_response(exc.body(), exc.headers)


class IsVerified(BasePermission):
    """Any verified caller, acting for a tenant or not (/me of a platform operator)."""

    def has_permission(self, request, view):
        return isinstance(getattr(request, "auth", None), Principal)


class IsOperator(BasePermission):
    """The platform operator (role `operator` in the token)."""

    message = "only a platform operator may do this"

    def has_permission(self, request, view):
        principal = getattr(request, "auth", None)
        return isinstance(principal, Principal) and OPERATOR in principal.roles


class IsService(BasePermission):
    """Another service acting for a tenant with a service token (client credentials), never a person."""

    message = "only a service may do this"

    def has_permission(self, request, view):
        principal = getattr(request, "auth", None)
        return isinstance(principal, Principal) and SERVICE in principal.roles and bool(principal.tenant_id)
