"""HTTP layer of exercise tests: CRUD with filters (samples: samples/api.py; analysis, lactate steps: results/api.py)."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets

from servicekit.django import idempotency
from servicekit.django.drf import StaffWrites, principal_of
from servicekit.django.routers import UUID_REGEX

from ..athletes.queries import visible_athletes
from . import actions, queries
from .models import ExerciseTest


class VisibleAthleteField(serializers.PrimaryKeyRelatedField):
    """An athlete id the caller may see (looked up per request: the tenant comes from the caller's token)."""

    def get_queryset(self):
        return visible_athletes(principal_of(self.context["request"]))


class ExerciseTestSerializer(serializers.ModelSerializer):
    athlete = VisibleAthleteField(pk_field=serializers.UUIDField())
    temperature_c = serializers.FloatField(min_value=-30, max_value=60, required=False, allow_null=True)
    humidity_pct = serializers.FloatField(min_value=0, max_value=100, required=False, allow_null=True)
    pressure_hpa = serializers.FloatField(min_value=500, max_value=1100, required=False, allow_null=True)
    protocol_start = serializers.FloatField(min_value=0, max_value=2000, required=False, allow_null=True)
    protocol_increment = serializers.FloatField(min_value=0, max_value=1000, required=False, allow_null=True)
    protocol_stage_length_s = serializers.FloatField(min_value=0, max_value=7200, required=False, allow_null=True)
    protocol_baseline_s = serializers.FloatField(min_value=0, max_value=3600, required=False, allow_null=True)
    protocol_baseline_load = serializers.FloatField(min_value=0, max_value=2000, required=False, allow_null=True)
    protocol = serializers.ChoiceField(
        choices=[("", "not declared"), *ExerciseTest.Protocol.choices], required=False, allow_blank=True,
        error_messages={"invalid_choice": '"{input}" is not a protocol; valid: '
                                          + ", ".join(ExerciseTest.Protocol.values) + ' (or "" for none)'})
    body_mass_kg = serializers.FloatField(min_value=20, max_value=300, required=False, allow_null=True,
                                          help_text="weighed on the test day (beats the file's and the record's)")

    class Meta:
        model = ExerciseTest
        fields = ("id", "athlete", "date", "modality", "protocol", "protocol_start", "protocol_increment",
                  "protocol_stage_length_s", "protocol_baseline_s", "protocol_baseline_load", "protocol_declared",
                  "body_mass_kg", "body_mass_used_kg", "device", "temperature_c", "humidity_pct", "pressure_hpa",
                  "notes", "status", "insufficient_reasons", "source_format", "sample_count", "created_at",
                  "updated_at")
        extra_kwargs = {"date": {"required": True}}  # may be null (a file without one), never left out
        read_only_fields = ("id", "protocol_declared", "body_mass_used_kg", "status", "insufficient_reasons",
                            "source_format", "sample_count", "created_at", "updated_at")

    def validate_athlete(self, athlete):
        if self.instance is not None and athlete.pk != self.instance.athlete_id:
            raise serializers.ValidationError("a test cannot move to another athlete")
        return athlete

    def validate_date(self, value):
        import datetime

        if value is None:
            return value
        if not datetime.date(1950, 1, 1) <= value <= datetime.date.today() + datetime.timedelta(days=1):
            raise serializers.ValidationError("the test date must be between 1950-01-01 and today")
        return value


class ExerciseTestFilter(django_filters.FilterSet):
    athlete = django_filters.UUIDFilter(field_name="athlete_id")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", label="date on or after")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", label="date on or before")
    modality = django_filters.ChoiceFilter(choices=ExerciseTest.Modality.choices)
    status = django_filters.ChoiceFilter(choices=ExerciseTest.Status.choices)

    class Meta:
        model = ExerciseTest
        fields = ("athlete", "modality", "status")


class ExerciseTestViewSet(viewsets.ModelViewSet):
    """Exercise tests of the tenant's athletes. Owners, admins and physiologists write; athletes see their own."""

    serializer_class = ExerciseTestSerializer
    permission_classes = [StaffWrites]
    filterset_class = ExerciseTestFilter
    lookup_value_regex = UUID_REGEX
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def get_queryset(self):
        return queries.visible_tests(principal_of(self.request))

    @extend_schema(parameters=[idempotency.openapi_parameter()])
    def create(self, request, *args, **kwargs):
        key = idempotency.key_from(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        test, created = actions.create_test_once(principal_of(request), key, **serializer.validated_data)
        return idempotency.created_response(self.get_serializer(test).data, f"/api/v1/tests/{test.id}/", created)

    def perform_update(self, serializer):
        # a changed protocol, date, modality or body mass re-derives the result (a new version, audited)
        serializer.instance = actions.update_test(serializer.instance, by=principal_of(self.request).user_id,
                                                  **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_test(instance, by=principal_of(self.request).user_id)
