"""HTTP layer for two-factor sign-in: a signed-in user enrols, confirms, reads the state and disables; the login's
second step (public: the login's challenge is the credential)."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from servicekit.django import serializers as strict
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django.drf import principal_of
from servicekit.problems import ProblemError

from ..accounts.access import IsVerified, refusal
from ..accounts.queries import user_by_id
from . import actions

PROBLEM = OpenApiResponse(description="application/problem+json")
ENROLMENT = inline_serializer("TotpEnrolment", {"secret": serializers.CharField(),
                                                "otpauth_uri": serializers.CharField(),
                                                "digits": serializers.IntegerField(),
                                                "period": serializers.IntegerField()})


class CodeRequest(strict.Serializer):
    code = serializers.CharField(max_length=32, help_text="the 6 digits the authenticator shows now")


def _user(request):
    user = user_by_id(principal_of(request).user_id)
    if user is None:  # a service token or an API key names no person
        raise ProblemError(403, "forbidden", "Only a person has a second factor.")
    return user


class TotpView(APIView):
    """GET: the caller's second-factor state; POST: start enrolment (a new secret and its otpauth:// URI)."""

    permission_classes = [IsVerified]

    @extend_schema(tags=["auth"], responses={200: inline_serializer("MfaState", {
        "enabled": serializers.BooleanField(), "confirmed_at": serializers.DateTimeField(allow_null=True),
        "recovery_codes_left": serializers.IntegerField(), "required": serializers.BooleanField()})})
    def get(self, request):
        return Response(actions.status_of(_user(request), principal_of(request).tenant_id))

    @extend_schema(request=None, tags=["auth"], responses={201: ENROLMENT, 409: PROBLEM})
    def post(self, request):
        answer = actions.start_enrolment(_user(request), tenant_id=principal_of(request).tenant_id)
        return Response(answer, status=status.HTTP_201_CREATED)


class TotpConfirmView(APIView):
    """The first code from the authenticator turns two-factor sign-in on; answers the recovery codes once."""

    permission_classes = [IsVerified]

    @extend_schema(request=CodeRequest, tags=["auth"], responses={
        200: inline_serializer("RecoveryCodes", {"recovery_codes": serializers.ListField(
            child=serializers.CharField())}), 401: PROBLEM, 409: PROBLEM})
    def post(self, request):
        body = CodeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            codes = actions.confirm_enrolment(_user(request), body.validated_data["code"],
                                              tenant_id=principal_of(request).tenant_id)
        except ProblemError as exc:
            return refusal(exc)
        return Response({"recovery_codes": codes})


class TotpDisableView(APIView):
    """Turn two-factor sign-in off with a fresh code (403 when the tenant requires it for the caller's role)."""

    permission_classes = [IsVerified]

    @extend_schema(request=CodeRequest, tags=["auth"], responses={204: None, 401: PROBLEM, 403: PROBLEM,
                                                                 409: PROBLEM})
    def post(self, request):
        body = CodeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            actions.disable(_user(request), body.validated_data["code"], tenant_id=principal_of(request).tenant_id)
        except ProblemError as exc:
            return refusal(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChallengeRequest(strict.Serializer):
    challenge = serializers.CharField(max_length=200)


class LoginCodeRequest(ChallengeRequest):
    code = serializers.CharField(max_length=32, help_text="the authenticator's code, or a recovery code")


class LoginMfaView(APIView):
    """The login's second step: the challenge of the 401 `mfa-required` (or 403 `mfa-enrolment-required`) and a
    code → the token pair (plus `recovery_codes` when this login finished a required enrolment)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=LoginCodeRequest, auth=[{}], tags=["auth"], responses={200: OpenApiResponse(
        description="{access, refresh, token_type, expires_in[, recovery_codes]}"), 401: PROBLEM})
    def post(self, request):
        body = LoginCodeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            return Response(actions.complete_login(body.validated_data["challenge"], body.validated_data["code"]))
        except ProblemError as exc:
            return refusal(exc)


class LoginMfaEnrolView(APIView):
    """A tenant requires a second factor and the user has none: the login's `enrol` challenge starts enrolment."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=ChallengeRequest, auth=[{}], tags=["auth"], responses={201: ENROLMENT, 401: PROBLEM})
    def post(self, request):
        body = ChallengeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            answer = actions.enrol_with_challenge(body.validated_data["challenge"])
        except ProblemError as exc:
            return refusal(exc)
        return Response(answer, status=status.HTTP_201_CREATED)
