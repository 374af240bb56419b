"""HTTP layer for API keys: owners and admins manage their tenant's keys; the gateway exchanges a key for an
access token (client credentials)."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from servicekit.django import serializers as strict
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django.drf import ManagersOnly, principal_of
from servicekit.django.routers import UUID_REGEX
from servicekit.problems import ProblemError

from ..accounts.access import refusal
from . import actions, queries
from .models import ApiKey

PROBLEM = OpenApiResponse(description="application/problem+json")


class ApiKeySerializer(strict.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ("id", "name", "role", "prefix", "created_by", "created_at", "expires_at", "last_used_at",
                  "revoked_at")
        read_only_fields = fields


class ApiKeyCreated(ApiKeySerializer):
    secret = serializers.CharField(help_text="shown this once; send it as `Authorization: Bearer <secret>`")

    class Meta(ApiKeySerializer.Meta):
        fields = ApiKeySerializer.Meta.fields + ("secret",)
        read_only_fields = fields


class ApiKeyRequest(strict.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=actions.KEY_ROLES)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ManagersNotKeys(ManagersOnly):
    """Owners and admins, in person: an API key does not manage API keys."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if actions.CLAIM in request.auth.claims:
            raise ProblemError(403, "forbidden", "An API key cannot manage API keys.")
        return True


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The tenant's API keys (revoked ones too). POST answers the secret once; DELETE revokes (204, again 204)."""

    serializer_class = ApiKeySerializer
    permission_classes = [ManagersNotKeys]
    lookup_value_regex = UUID_REGEX

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        return queries.tenant_keys(principal_of(self.request))

    @extend_schema(request=ApiKeyRequest, responses={201: ApiKeyCreated, 400: PROBLEM, 403: PROBLEM})
    def create(self, request):
        body = ApiKeyRequest(data=request.data)
        body.is_valid(raise_exception=True)
        key, secret = actions.create_key(by=principal_of(request), **body.validated_data)
        key.secret = secret
        return Response(ApiKeyCreated(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM})
    def destroy(self, request, pk=None):
        actions.revoke_key(self.get_object(), by=principal_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExchangeRequest(strict.Serializer):
    client_id = serializers.CharField(max_length=100)
    client_secret = serializers.CharField(max_length=1024, trim_whitespace=False)
    api_key = serializers.CharField(max_length=200, trim_whitespace=False)


class ApiKeyExchangeView(APIView):
    """For the gateway only (a service client in API_KEY_CLIENTS): an API key → a short-lived access token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=ExchangeRequest, auth=[{}], tags=["auth"], responses={
        200: inline_serializer("ApiKeyToken", {"access": serializers.CharField(),
                                               "token_type": serializers.CharField(),
                                               "expires_in": serializers.IntegerField()}),
        401: PROBLEM})
    def post(self, request):
        body = ExchangeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            return Response(actions.exchange(**body.validated_data))
        except ProblemError as exc:
            return refusal(exc)  # the refusal's audit row commits
