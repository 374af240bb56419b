"""HTTP layer for SSO: the tenant's provider (owner/admin), the public start / callback, and login discover."""
from __future__ import annotations

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from servicekit.django import serializers as strict
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django.drf import principal_of, roles_allowed
from servicekit.principal import MANAGER_ROLES
from servicekit.problems import ProblemError

from ..accounts.access import refusal
from . import actions
from .models import SSO_ROLES
from .queries import provider_of

PROBLEM = OpenApiResponse(description="application/problem+json")


class ProviderSerializer(strict.Serializer):
    issuer = serializers.URLField(max_length=500)
    client_id = serializers.CharField(max_length=255)
    client_secret = serializers.CharField(max_length=2000, write_only=True, required=False, trim_whitespace=False,
                                          help_text="stored encrypted; never answered; omit to keep the stored one")
    has_client_secret = serializers.SerializerMethodField()
    scopes = serializers.CharField(max_length=300, default="openid email profile")
    email_domains = serializers.ListField(child=serializers.CharField(max_length=253), max_length=50, default=list,
                                          help_text="e-mail domains whose addresses sign in here (unique platform-wide)")
    default_role = serializers.ChoiceField(choices=[r for r, _ in SSO_ROLES], default="viewer",
                                           help_text="role of members provisioned at their first sign-in")
    password_login_allowed = serializers.BooleanField(default=True)
    redirect_uri = serializers.SerializerMethodField(help_text="register this at the provider")

    def get_has_client_secret(self, provider) -> bool:
        return bool(getattr(provider, "client_secret_encrypted", ""))

    def get_redirect_uri(self, provider) -> str:
        from django.conf import settings

        return settings.SSO_REDIRECT_URL

    def to_representation(self, provider):
        data = super().to_representation(provider)
        data["email_domains"] = sorted(d.domain for d in provider.domains.all())
        return data


class TenantSSOView(APIView):
    """The caller's tenant's OpenID provider, for owners and admins (it names the client): PUT creates or replaces
    it, DELETE removes it."""

    permission_classes = [roles_allowed(read=MANAGER_ROLES, write=MANAGER_ROLES)]

    @extend_schema(responses={200: ProviderSerializer, 403: PROBLEM, 404: PROBLEM}, tags=["sso"])
    def get(self, request):
        provider = provider_of(principal_of(request).tenant_id)
        if provider is None:
            raise actions.NotConfigured()
        return Response(ProviderSerializer(provider).data)

    @extend_schema(request=ProviderSerializer, responses={200: ProviderSerializer, 400: PROBLEM, 403: PROBLEM,
                                                          409: PROBLEM}, tags=["sso"])
    def put(self, request):
        body = ProviderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        provider = actions.configure(by=principal_of(request), client_secret=data.pop("client_secret", None), **data)
        return Response(ProviderSerializer(provider).data)

    @extend_schema(responses={204: None, 403: PROBLEM, 404: PROBLEM}, tags=["sso"])
    def delete(self, request):
        if not actions.remove(by=principal_of(request)):
            raise actions.NotConfigured()
        return Response(status=status.HTTP_204_NO_CONTENT)


class SSOStartView(APIView):
    """Start signing in with the organisation's provider: 302 to its authorization endpoint (code + PKCE S256,
    single-use state and nonce, SSO_STATE_TTL_S)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(auth=[{}], tags=["sso"], parameters=[OpenApiParameter("login_hint", str, required=False)],
                   responses={302: OpenApiResponse(description="to the provider"), 404: PROBLEM, 502: PROBLEM})
    def get(self, request, slug):
        hint = (request.query_params.get("login_hint") or "")[:254] or None
        try:
            url = actions.start(slug, login_hint=hint)
        except ProblemError as exc:
            return refusal(exc)
        return HttpResponseRedirect(url)


class TokenPairAnswer(strict.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class SSOCallbackView(APIView):
    """Where the provider sends the browser back (`code`, `state`): our own tokens, as password login answers them.
    Refusals: sso-state-invalid (400: unknown, replayed or expired state), sso-refused / sso-id-token-invalid
    (401), sso-email-unverified, sso-domain-mismatch, no-membership (403)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(auth=[{}], tags=["sso"], parameters=[OpenApiParameter("state", str), OpenApiParameter("code", str),
                                                        OpenApiParameter("error", str, required=False),
                                                        OpenApiParameter("iss", str, required=False)],
                   responses={200: TokenPairAnswer, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM})
    def get(self, request):
        params = request.query_params
        try:
            signed_in = actions.finish(state=params.get("state", "")[:200], code=params.get("code", "")[:2000] or None,
                                       error=params.get("error") or None, iss=params.get("iss"))
        except ProblemError as exc:
            return refusal(exc)
        return Response(signed_in.tokens.as_dict())


class DiscoverRequest(strict.Serializer):
    email = serializers.EmailField(max_length=254)


class DiscoverView(APIView):
    """Whether an address signs in by SSO (decided by its domain: the same answer for unknown addresses)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(auth=[{}], tags=["auth"], request=DiscoverRequest, responses={200: inline_serializer("Discover", {
        "method": serializers.ChoiceField(choices=["password", "sso"]), "tenant": serializers.CharField(required=False),
        "start_url": serializers.CharField(required=False),
        "password_login_allowed": serializers.BooleanField(required=False)}), 400: PROBLEM})
    def post(self, request):
        body = DiscoverRequest(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(actions.discover(body.validated_data["email"]))
