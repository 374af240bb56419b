"""HTTP layer for deletion requests: GET /api/v1/athletes/{id}/deletion and /api/v1/tests/{id}/deletion."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from servicekit.django import serializers as strict
from rest_framework.response import Response
from rest_framework.views import APIView

from servicekit import erasure
from servicekit.django.drf import roles_allowed
from servicekit.principal import STAFF_ROLES
from servicekit.problems import ProblemError

from . import queries

PROBLEM = OpenApiResponse(description="application/problem+json")


class ServiceConfirmationSerializer(strict.Serializer):
    service = serializers.CharField(help_text="measurements (its own part, done in the deleting transaction), "
                                              "reports, notifications")
    status = serializers.ChoiceField(choices=[erasure.PENDING, erasure.CONFIRMED])
    confirmed_at = serializers.DateTimeField(allow_null=True)
    removed = serializers.DictField(child=serializers.IntegerField(), allow_null=True,
                                    help_text="what the service removed, by kind")
    confirmations = serializers.IntegerField(help_text="how many times it confirmed (a repeated request: again)")
    last_removed = serializers.DictField(child=serializers.IntegerField(), allow_null=True,
                                         help_text="what the latest repeated confirmation removed (0s: nothing left)")


class DeletionSerializer(strict.Serializer):
    id = serializers.UUIDField()
    scope = serializers.ChoiceField(choices=["athlete", "test"])
    subject = serializers.UUIDField(help_text="the deleted athlete's or test's id")
    status = serializers.ChoiceField(choices=[erasure.PENDING, erasure.CONFIRMED],
                                     help_text="confirmed once every service that held data confirmed")
    requested_at = serializers.DateTimeField()
    requested_by = serializers.UUIDField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    emitted = serializers.IntegerField(help_text="times the request was sent (re-sent while unconfirmed)")
    last_emitted_at = serializers.DateTimeField()
    services = ServiceConfirmationSerializer(many=True)


class DeletionView(APIView):
    """The deletion of an athlete (or a test) and each service's confirmation. Owners, admins, physiologists."""

    permission_classes = [roles_allowed(read=STAFF_ROLES, write=STAFF_ROLES)]
    scope = "athlete"

    @extend_schema(responses={200: DeletionSerializer, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM})
    def get(self, request, subject_id):
        row = queries.deletion_of(self.scope, subject_id)
        if row is None:
            raise ProblemError(404, "not-found", f"No deletion of this {self.scope} is known.")
        return Response(erasure.body(row, own="measurements", own_removed=row.removed_here))
