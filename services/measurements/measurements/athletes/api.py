"""HTTP layer for athletes: validate, then delegate to actions/queries."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from servicekit.django import serializers as strict

from servicekit.django import idempotency
from servicekit.django.drf import StaffWrites, principal_of

from . import actions, identity
from .models import Athlete
from .queries import visible_athletes


class TenthField(serializers.DecimalField):
    """A measurement kept to 0.1 (cm, kg): a finer number is rounded half up, not refused (the document says
    `number` with a range, and 180.37 cm is a height)."""

    def __init__(self, **kwargs):
        import decimal

        super().__init__(max_digits=5, decimal_places=1, rounding=decimal.ROUND_HALF_UP, coerce_to_string=False,
                         required=False, allow_null=True, **kwargs)

    def validate_precision(self, value):
        return super().validate_precision(self.quantize(value))


class AthleteSerializer(strict.ModelSerializer):
    height_cm = TenthField(min_value=50, max_value=260, help_text="kept to 0.1 cm")
    body_mass_kg = TenthField(min_value=15, max_value=350, help_text="kept to 0.1 kg")

    class Meta:
        model = Athlete
        fields = ("id", "first_name", "last_name", "sex", "birth_date", "height_cm", "body_mass_kg", "sport",
                  "notes", "user_id", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")

    def validate_user_id(self, value):
        """The athlete user this record belongs to: an athlete member of this lab (asked of identity). One answer
        for another lab's user, a non-member and an unknown id, so the check tells nothing about other labs."""
        if value is None or (self.instance is not None and self.instance.user_id == value):
            return value
        tenant = principal_of(self.context["request"]).tenant_id
        if not identity.is_athlete_member(tenant, value):
            raise serializers.ValidationError("not a member of this lab with the athlete role")
        return value

    def validate_birth_date(self, value):
        import datetime

        if value and not (datetime.date(1900, 1, 1) <= value <= datetime.date.today()):
            raise serializers.ValidationError("birth date must be between 1900-01-01 and today")
        return value


class AthleteFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="name contains")
    sex = django_filters.ChoiceFilter(choices=Athlete.Sex.choices)
    sport = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Athlete
        fields = ("sex", "sport")

    def filter_search(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))


class AthleteViewSet(viewsets.ModelViewSet):
    """Athletes of the caller's tenant. Owners, admins and physiologists write; others read."""

    serializer_class = AthleteSerializer
    permission_classes = [StaffWrites]
    filterset_class = AthleteFilter
    lookup_value_converter = "uuid"
    http_method_names = ["get", "post", "patch", "put", "delete", "head", "options"]

    def get_queryset(self):
        return visible_athletes(principal_of(self.request))

    @extend_schema(parameters=[idempotency.openapi_parameter()])
    def create(self, request, *args, **kwargs):
        key = idempotency.key_from(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        athlete, created = actions.create_athlete(principal_of(request), idempotency_key=key,
                                                  **serializer.validated_data)
        return idempotency.created_response(self.get_serializer(athlete).data, f"/api/v1/athletes/{athlete.id}/",
                                            created)

    def perform_update(self, serializer):
        serializer.instance = actions.update_athlete(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_athlete(instance, by=principal_of(self.request).user_id)
