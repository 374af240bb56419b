"""HTTP layer for accounts: /me, the members of the caller's tenant, and the platform operator's tenants (each
created with its first owner)."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from servicekit.django import serializers as strict
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit import erasure
from servicekit.django.drf import ManagersOnly, principal_of
from servicekit.principal import TENANT_ROLES
from servicekit.problems import ProblemError

from ..tenants import queries as tenant_queries
from ..tenants.api import OperatorPlanChange, TenantSerializer
from ..tenants.queries import tenants_by_id
from . import actions, queries
from .access import IsOperator, IsService, IsVerified, refusal
from .models import Membership

PROBLEM = OpenApiResponse(description="application/problem+json")


class TenantBrief(strict.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()


class MeSerializer(strict.Serializer):
    user = inline_serializer("MeUser", {"id": serializers.UUIDField(), "email": serializers.EmailField(),
                                        "full_name": serializers.CharField(),
                                        "is_operator": serializers.BooleanField()})
    tenant = inline_serializer("MeTenant", {"id": serializers.UUIDField(), "slug": serializers.CharField(),
                                            "name": serializers.CharField(), "plan": serializers.CharField(),
                                            "settings": serializers.DictField()}, allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    other_tenants = TenantBrief(many=True)


class MeView(APIView):
    """Who the bearer token names: the user, the tenant it acts for, its roles, and the user's other tenants."""

    permission_classes = [IsVerified]

    @extend_schema(responses={200: MeSerializer, 401: PROBLEM, 403: PROBLEM}, tags=["auth"])
    def get(self, request):
        principal = principal_of(request)
        user = queries.user_by_id(principal.user_id)
        if user is None:  # a service token names no user
            raise ProblemError(403, "forbidden", "This token names no user.")
        memberships = queries.active_memberships_of(user.id)
        tenants = tenants_by_id(m.tenant_id for m in memberships)
        current = tenants.get(_uuid(principal.tenant_id))
        return Response({
            "user": {"id": str(user.id), "email": user.email, "full_name": user.full_name,
                     "is_operator": user.is_operator},
            "tenant": {"id": str(current.id), "slug": current.slug, "name": current.name, "plan": current.plan,
                       "settings": current.settings} if current else None,
            "roles": sorted(principal.roles),
            "other_tenants": [{"id": str(m.tenant_id), "slug": tenants[m.tenant_id].slug,
                               "name": tenants[m.tenant_id].name, "role": m.role}
                              for m in memberships if m.tenant_id in tenants and m.tenant_id != _uuid(principal.tenant_id)],
        })


def _uuid(value):
    import uuid

    return uuid.UUID(str(value)) if value else None


# ---- members of the caller's tenant ------------------------------------------------------------------------------

class MemberSerializer(strict.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "user_id", "email", "full_name", "role", "is_active", "created_at", "updated_at")
        read_only_fields = fields


class MemberUpdateRequest(strict.Serializer):
    role = serializers.ChoiceField(choices=TENANT_ROLES, required=False)
    is_active = serializers.BooleanField(required=False)


class MemberFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Membership.ROLE_CHOICES)
    is_active = django_filters.BooleanFilter()
    email = django_filters.CharFilter(field_name="user__email", lookup_expr="icontains", label="e-mail contains")

    class Meta:
        model = Membership
        fields = ("role", "is_active")


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Members of the caller's tenant; owners and admins only. Only an owner may grant or change the owner role;
    the last active owner is protected (409). DELETE deactivates. Adding a member is an invitation the person
    accepts: `invitations.api.MemberViewSet` adds that POST."""

    serializer_class = MemberSerializer
    permission_classes = [ManagersOnly]
    filterset_class = MemberFilter
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return queries.tenant_members()

    @extend_schema(request=MemberUpdateRequest, responses={200: MemberSerializer, 403: PROBLEM, 404: PROBLEM,
                                                           409: PROBLEM})
    def partial_update(self, request, pk=None):
        membership = self.get_object()
        body = MemberUpdateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        membership = actions.change_member(membership, by=principal_of(request), **body.validated_data)
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    def destroy(self, request, pk=None):
        actions.deactivate_member(self.get_object(), by=principal_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- for other services ------------------------------------------------------------------------------------------

class ServiceMemberView(APIView):
    """Is this user an active member of the token's tenant, and with which role? For other services only (a service
    token; measurements checks an athlete record's `user_id`). Not routed by the gateway and not in the public
    document. 404 for anyone who is not an active member here: whether the user exists elsewhere is not told."""

    permission_classes = [IsService]

    @extend_schema(exclude=True)
    def get(self, request, user_id):
        membership = queries.tenant_member(user_id)
        if membership is None:
            raise ProblemError(404, "not-a-member", "No active member of this tenant has this id.")
        return Response({"user_id": str(membership.user_id), "role": membership.role, "is_active": True})


class ServiceConfirmationSerializer(strict.Serializer):
    service = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "confirmed"])
    confirmed_at = serializers.DateTimeField(allow_null=True)
    removed = serializers.DictField(child=serializers.IntegerField(), allow_null=True)
    confirmations = serializers.IntegerField()
    last_removed = serializers.DictField(child=serializers.IntegerField(), allow_null=True,
                                         help_text="what the latest repeated confirmation removed (0s: nothing left)")


class TenantDeletionSerializer(strict.Serializer):
    id = serializers.UUIDField()
    scope = serializers.ChoiceField(choices=["tenant"])
    subject = serializers.UUIDField(help_text="the deleted tenant's id")
    status = serializers.ChoiceField(choices=["pending", "confirmed"])
    requested_at = serializers.DateTimeField()
    requested_by = serializers.UUIDField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    emitted = serializers.IntegerField()
    last_emitted_at = serializers.DateTimeField()
    services = ServiceConfirmationSerializer(many=True)


# ---- every tenant, for the platform operator ----------------------------------------------------------------------

class OperatorTenantViewSet(OperatorPlanChange, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet):
    """Every tenant, for the platform operator: list, read, change its plan, delete it (erased in every service;
    GET /tenants/{id}/deletion shows each one's confirmation). Creating one with its first owner is
    `invitations.api.OperatorTenantViewSet`'s POST (an existing account is invited as owner, not made one)."""

    serializer_class = TenantSerializer
    permission_classes = [IsOperator]
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return tenant_queries.all_tenants()

    @extend_schema(responses={202: TenantDeletionSerializer, 403: PROBLEM, 404: PROBLEM})
    def destroy(self, request, pk=None):
        """The tenant and everything of it, in every service. 202: the deletion, confirmed service by service."""
        row = actions.delete_tenant(self.get_object(), by=principal_of(request))
        return Response(erasure.body(row, own="identity", own_removed=row.removed_here), status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/api/v1/tenants/{row.subject_id}/deletion"})


class TenantDeletionView(APIView):
    """A deleted tenant's erasure: identity's part, and each service's confirmation. Platform operator only."""

    permission_classes = [IsOperator]

    @extend_schema(responses={200: TenantDeletionSerializer, 403: PROBLEM, 404: PROBLEM})
    def get(self, request, tenant_id):
        row = tenant_queries.tenant_deletion(tenant_id)
        if row is None:
            raise ProblemError(404, "not-found", "No deletion of this tenant is known.")
        return Response(erasure.body(row, own="identity", own_removed=row.removed_here))


# ---- password lifecycle ------------------------------------------------------------------------------------------

class PasswordChangeRequest(strict.Serializer):
    current_password = serializers.CharField(max_length=1024, trim_whitespace=False)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


class PasswordChangeView(APIView):
    """Change your own password. Every other session of yours ends (their refresh tokens are revoked); this one
    goes on. Also the one route a session that must change its password first may reach: after the change, refresh
    to get a full access token."""

    permission_classes = [IsVerified]
    accepts_password_change_token = True  # tokens.auth: the restricted audience is honoured here only

    @extend_schema(request=PasswordChangeRequest, responses={204: None, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM},
                   tags=["auth"])
    def post(self, request):
        principal = principal_of(request)
        user = queries.user_by_id(principal.user_id)
        if user is None:
            raise ProblemError(403, "forbidden", "This token names no user.")
        body = PasswordChangeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            actions.change_password(user, keep_family=principal.claims.get("sid"), **body.validated_data)
        except ProblemError as exc:
            return refusal(exc)  # a wrong current password counts towards the lockout: that must commit
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetRequest(strict.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetView(APIView):
    """Ask for a reset link by e-mail. Always 202, whether or not the address has an account."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=PasswordResetRequest, responses={202: None, 400: PROBLEM}, auth=[{}], tags=["auth"])
    def post(self, request):
        body = PasswordResetRequest(data=request.data)
        body.is_valid(raise_exception=True)
        actions.request_password_reset(body.validated_data["email"])
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmRequest(strict.Serializer):
    token = serializers.CharField(max_length=200)
    new_password = serializers.CharField(max_length=1024, trim_whitespace=False)


class PasswordResetConfirmView(APIView):
    """Set a new password with the token from the e-mail (single use, PASSWORD_RESET_TTL_MINUTES); every session of
    the account ends. 400 reset-token-invalid for an unknown, used or expired token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=PasswordResetConfirmRequest, responses={204: None, 400: PROBLEM}, auth=[{}], tags=["auth"])
    def post(self, request):
        body = PasswordResetConfirmRequest(data=request.data)
        body.is_valid(raise_exception=True)
        actions.confirm_password_reset(body.validated_data["token"], body.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- the user's own profile --------------------------------------------------------------------------------------

class ProfileSerializer(strict.Serializer):
    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=["", "en", "ru"], required=False,
                                       help_text="language of e-mails and reports; empty: the organisation's")
    time_zone = serializers.CharField(max_length=64, required=False, help_text="IANA name, e.g. Europe/Moscow")
    must_change_password = serializers.BooleanField(read_only=True)
    password_changed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def validate_time_zone(self, value):
        if not actions.is_time_zone(value):
            raise serializers.ValidationError("not an IANA time zone name")
        return value


class ProfileView(APIView):
    """Your own profile: name, language and time zone (editable); e-mail and password have their own routes."""

    permission_classes = [IsVerified]

    def _user(self, request):
        user = queries.user_by_id(principal_of(request).user_id)
        if user is None:
            raise ProblemError(403, "forbidden", "This token names no user.")
        return user

    @extend_schema(responses={200: ProfileSerializer, 401: PROBLEM, 403: PROBLEM}, tags=["users"])
    def get(self, request):
        return Response(ProfileSerializer(self._user(request)).data)

    @extend_schema(request=ProfileSerializer, responses={200: ProfileSerializer, 400: PROBLEM, 401: PROBLEM,
                                                         403: PROBLEM}, tags=["users"])
    def patch(self, request):
        user = self._user(request)
        body = ProfileSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        return Response(ProfileSerializer(actions.update_profile(user, **body.validated_data)).data)
