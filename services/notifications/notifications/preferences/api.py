"""GET/PUT /api/v1/notifications/preferences: the caller's channels per kind (in_app, email) and language."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from servicekit.django import serializers as strict
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit.django.drf import principal_of

from . import actions, queries
from .kinds import DEFAULTS


class ChannelsSerializer(strict.Serializer):
    in_app = serializers.BooleanField()
    email = serializers.BooleanField()


class PreferencesSerializer(strict.Serializer):
    # servicekit.django.schema: `kinds` names only the known kinds
    openapi_extra = {"properties": {"kinds": {"type": "object", "propertyNames": {"enum": list(DEFAULTS)},
                                              "additionalProperties": {"$ref": "#/components/schemas/"
                                                                                 "ChannelsRequest"},
                                              "description": f"per kind: {', '.join(DEFAULTS)}"}}}

    language = serializers.ChoiceField(choices=["en", "ru"], allow_null=True, required=False,
                                       help_text="null: the organisation's language")
    kinds = serializers.DictField(child=ChannelsSerializer(), help_text=f"per kind: {', '.join(DEFAULTS)}")

    def validate_kinds(self, value):
        unknown = sorted(set(value) - set(DEFAULTS))
        if unknown:
            raise serializers.ValidationError(f"unknown kinds {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
        return value


def _document(principal):
    return {"language": queries.language(principal.user_id), "kinds": queries.channels(principal.user_id)}


class PreferencesView(APIView):
    """The caller's own notification preferences (every member has them)."""

    @extend_schema(responses=PreferencesSerializer)
    def get(self, request):
        return Response(_document(principal_of(request)))

    @extend_schema(request=PreferencesSerializer, responses=PreferencesSerializer)
    def put(self, request):
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = principal_of(request)
        actions.replace(principal, kinds=serializer.validated_data["kinds"],
                        language=serializer.validated_data.get("language"))
        return Response(_document(principal))
