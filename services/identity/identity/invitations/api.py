"""HTTP layer for invitations: owners and admins invite, list and revoke; the invitee accepts (public)."""
from __future__ import annotations

from django.utils import timezone
import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from servicekit.django import serializers as strict
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django import idempotency
from servicekit.django.drf import ManagersOnly, principal_of
from servicekit.principal import TENANT_ROLES
from servicekit.problems import ProblemError

from ..accounts.api import MemberViewSet as MemberReadViewSet
from ..accounts.api import OperatorTenantViewSet as OperatorTenantReadViewSet
from ..accounts.access import refusal
from ..tenants.api import TenantCreateRequest, TenantSerializer
from ..tokens.api import TokenPairSerializer
from . import actions, queries
from .models import Invitation

PROBLEM = OpenApiResponse(description="application/problem+json")


class InvitationSerializer(strict.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ("id", "email", "role", "status", "invited_by", "expires_at", "accepted_at", "accepted_user_id",
                  "revoked_at", "created_at")
        read_only_fields = fields

    def get_status(self, obj) -> str:
        return obj.status_at(timezone.now())


class InvitationCreateRequest(strict.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=TENANT_ROLES)


class InvitationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Invitation.Status.choices, method="filter_status")
    email = django_filters.CharFilter(field_name="email", lookup_expr="icontains", label="e-mail contains")
    role = django_filters.ChoiceFilter(choices=Invitation.ROLE_CHOICES)

    class Meta:
        model = Invitation
        fields = ("role",)

    def filter_status(self, queryset, name, value):
        return queries.with_status(queryset, value, timezone.now())


def invite(request, body_class, *, status: int):
    """Both ways to invite (the invitations POST, 201, and the members POST, 202): validate, create once, answer."""
    body = body_class(data=request.data)
    body.is_valid(raise_exception=True)
    key = idempotency.key_from(request)
    invitation, created = actions.create_invitation(by=principal_of(request), idempotency_key=key,
                                                    **body.validated_data)
    return idempotency.created_response(InvitationSerializer(invitation).data,
                                        f"/api/v1/tenants/current/invitations/{invitation.id}/", created, status=status)


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Invitations to the caller's tenant; owners and admins only. Filters: `status` (pending, accepted, revoked,
    expired), `email` (contains), `role`. Only an owner may invite (or revoke an invitation of) an owner. DELETE
    revokes (204; 409 `invitation-used` once accepted)."""

    serializer_class = InvitationSerializer
    permission_classes = [ManagersOnly]
    filterset_class = InvitationFilter
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return queries.tenant_invitations()

    @extend_schema(request=InvitationCreateRequest, parameters=[idempotency.openapi_parameter()],
                   responses={201: InvitationSerializer, 400: PROBLEM, 403: PROBLEM, 409: PROBLEM})
    def create(self, request):
        return invite(request, InvitationCreateRequest, status=201)

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM})
    def destroy(self, request, pk=None):
        actions.revoke_invitation(self.get_object(), by=principal_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberAddRequest(strict.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=TENANT_ROLES)

    def validate(self, attrs):
        # An account's password is its holder's alone: a manager who sets one would also learn whether the e-mail
        # has an account anywhere on the platform.
        if "password" in self.initial_data:
            raise serializers.ValidationError({"password": "members join through an invitation and choose their "
                                                           "own password; leave it out"})
        return attrs


class MemberViewSet(MemberReadViewSet):
    """Members of the caller's tenant; owners and admins only. Adding one (POST) invites the e-mail: whether or not
    it has an account anywhere, the answer is the same 202 with the pending invitation (no name, no user id); the
    person becomes a member only when they accept it at `POST /api/v1/auth/invitations/accept`. Only an owner may
    invite an owner, grant or change the owner role; the last active owner is protected (409). DELETE deactivates."""

    @extend_schema(request=MemberAddRequest, parameters=[idempotency.openapi_parameter()],
                   responses={202: OpenApiResponse(InvitationSerializer, description=(
                       "The invitation, pending until the invitee accepts; the same answer whether or not the "
                       "e-mail has an account. `Location` names the invitation.")),
                       400: PROBLEM, 403: PROBLEM, 409: PROBLEM})
    def create(self, request):
        return invite(request, MemberAddRequest, status=202)


class AcceptRequest(strict.Serializer):
    token = serializers.CharField(max_length=512, trim_whitespace=True)
    # Bounded: the hasher's cost grows with the input and this endpoint is public.
    password = serializers.CharField(max_length=1024, trim_whitespace=False,
                                     help_text="A new account's password (the usual rules), or the existing "
                                               "account's current password.")
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                      help_text="For a new account; an existing account keeps its name.")


class AcceptInvitationView(APIView):
    """Accept an invitation (public: the token from the e-mail is the credential). Makes the account if the invited
    e-mail has none, or adds the membership to the existing account (then `password` must be its current password),
    and answers 201 with a token pair acting for the invitation's tenant. Problems: 404 `invitation-not-found`,
    409 `invitation-used`, 410 `invitation-expired` (expired or revoked), 401 `invalid-credentials`, 400
    `validation-error`, 409 `already-a-member`."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=AcceptRequest, auth=[{}], tags=["auth"],
                   responses={201: TokenPairSerializer, 400: PROBLEM, 401: PROBLEM, 404: PROBLEM, 409: PROBLEM,
                              410: PROBLEM})
    def post(self, request):
        body = AcceptRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            accepted = actions.accept_invitation(body.validated_data["token"],
                                                 password=body.validated_data["password"],
                                                 full_name=body.validated_data.get("full_name") or "")
        except ProblemError as exc:
            return refusal(exc)  # commits what the refusal recorded (a counted login failure)
        return Response(accepted.tokens.as_dict(), status=status.HTTP_201_CREATED)


class OperatorTenantCreated(TenantSerializer):
    owner_invitation = InvitationSerializer(read_only=True, allow_null=True, help_text=(
        "null: the owner's account was made with the initial password given; else the pending invitation of an "
        "e-mail that has an account already (that person becomes the owner by accepting it)"))

    class Meta(TenantSerializer.Meta):
        fields = TenantSerializer.Meta.fields + ("owner_invitation",)


class OperatorTenantViewSet(OperatorTenantReadViewSet):
    """Every tenant, for the platform operator; POST creates one with its first owner. An e-mail that has an
    account already is invited as owner (the person accepts, as any invitation); it is never made a member of the
    new tenant by the operator's word alone."""

    @extend_schema(request=TenantCreateRequest, responses={201: OperatorTenantCreated, 400: PROBLEM, 403: PROBLEM,
                                                           409: PROBLEM})
    def create(self, request):
        body = TenantCreateRequest(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        owner = data.pop("owner")
        tenant, invitation = actions.create_tenant_with_owner(
            by=principal_of(request), owner_email=owner["email"], owner_full_name=owner.get("full_name", ""),
            owner_password=owner.get("password"), **data)
        tenant.owner_invitation = invitation
        return Response(OperatorTenantCreated(tenant).data, status=status.HTTP_201_CREATED)
