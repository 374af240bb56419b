"""HTTP layer for tokens: password login, refresh, logout, service tokens, and the public JWKS."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from servicekit.django import serializers as strict
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.problems import ProblemError

from ..accounts.access import refusal
from . import actions, queries

PROBLEM = OpenApiResponse(description="application/problem+json")
JWKS_MAX_AGE_S = 60  # short: a rotation shows within a minute even to verifiers that honour the cache header


class TokenPairSerializer(strict.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField(default="Bearer")
    expires_in = serializers.IntegerField(help_text="seconds until the access token expires")


class LoginRequest(strict.Serializer):
    email = serializers.EmailField(max_length=254)
    # Bounded: the hasher's cost grows with the input and this endpoint is public.
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    tenant = serializers.SlugField(max_length=63, required=False, allow_blank=True,
                                   help_text="The organisation's slug; needed when the account belongs to several.")


class LoginView(APIView):
    """Password login. A wrong e-mail, a wrong password, a locked or a deactivated account get one and the same
    401 answer; `tenant-required` (400, with the account's tenant slugs) comes only after the password matched."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginRequest, responses={200: TokenPairSerializer, 400: PROBLEM, 401: PROBLEM, 403: PROBLEM},
                   auth=[{}], tags=["auth"])
    def post(self, request):
        body = LoginRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pair = actions.log_in(body.validated_data["email"], body.validated_data["password"],
                                  body.validated_data.get("tenant") or None)
        except ProblemError as exc:
            return refusal(exc)
        return Response(pair.as_dict())


class RefreshRequest(strict.Serializer):
    refresh = serializers.CharField(max_length=200)


class RefreshView(APIView):
    """Rotate a refresh token: it is used up and a new pair answers. A token used twice revokes its whole family."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=RefreshRequest, responses={200: TokenPairSerializer, 401: PROBLEM}, auth=[{}], tags=["auth"])
    def post(self, request):
        body = RefreshRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pair = actions.refresh_session(body.validated_data["refresh"])
        except ProblemError as exc:
            return refusal(exc)
        return Response(pair.as_dict())


class LogoutView(APIView):
    """Revoke the refresh token's family (public: the refresh token is the credential). Always 204."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=RefreshRequest, responses={204: None}, auth=[{}], tags=["auth"])
    def post(self, request):
        body = RefreshRequest(data=request.data)
        body.is_valid(raise_exception=True)
        actions.end_session(body.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ServiceTokenRequest(strict.Serializer):
    client_id = serializers.CharField(max_length=100)
    client_secret = serializers.CharField(max_length=1024, trim_whitespace=False)
    tenant = serializers.CharField(max_length=63, help_text="the tenant's id or slug the service acts for")


class ServiceTokenView(APIView):
    """Client credentials for service-to-service calls (clients from SERVICE_CLIENTS): an access token with roles
    ["service"] acting for one tenant."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=ServiceTokenRequest, auth=[{}], tags=["auth"], responses={
        200: inline_serializer("ServiceToken", {"access": serializers.CharField(),
                                                "token_type": serializers.CharField(),
                                                "expires_in": serializers.IntegerField()}),
        401: PROBLEM, 404: PROBLEM})
    def post(self, request):
        body = ServiceTokenRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            return Response(actions.issue_service_token(**body.validated_data))
        except ProblemError as exc:
            return refusal(exc)


class JWKSView(APIView):
    """The public keys that verify access tokens: the active key and passive keys whose tokens may still live."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(auth=[{}], tags=["keys"], responses={200: inline_serializer(
        "JWKS", {"keys": serializers.ListField(child=serializers.DictField())})})
    def get(self, request):
        actions.active_signing_key()  # a fresh install publishes its first key before anyone logs in
        response = Response(queries.jwks_document())
        response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
        return response
