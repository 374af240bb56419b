"""HTTP layer for the audit log: owners and admins read their tenant's security events."""
from __future__ import annotations

import django_filters
from rest_framework import mixins, viewsets
from servicekit.django import serializers as strict

from servicekit.django.drf import ManagersOnly, principal_of

from .models import AuditEvent
from .queries import tenant_events


class AuditEventSerializer(strict.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ("id", "kind", "actor", "subject_user_id", "data", "request_id", "created_at")
        read_only_fields = fields


class AuditEventFilter(django_filters.FilterSet):
    """`?kind=login.failed&kind=login.locked` (any of), `?category=mfa` (every mfa.* kind), `?actor=` (a user id,
    `api_key:<id>`, `service:<client>`, `anonymous`), `?subject_user_id=`, `?api_key_id=`, `?since=&until=`."""

    kind = django_filters.MultipleChoiceFilter(choices=AuditEvent.Kind.choices)
    category = django_filters.CharFilter(method="of_category", label="kind family: login, mfa, api_key, member, …")
    actor = django_filters.CharFilter()
    subject_user_id = django_filters.UUIDFilter()
    api_key_id = django_filters.UUIDFilter(method="of_api_key")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ("kind", "category", "actor", "subject_user_id", "api_key_id", "since", "until")

    def of_category(self, queryset, name, value):
        kinds = [k for k in AuditEvent.Kind.values if k == value or k.startswith(value + ".")]
        return queryset.filter(kind__in=kinds)

    def of_api_key(self, queryset, name, value):
        return queryset.filter(data__api_key_id=str(value))


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Security events of the caller's tenant, newest first (cursor pages)."""

    serializer_class = AuditEventSerializer
    permission_classes = [ManagersOnly]
    filterset_class = AuditEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return AuditEvent.objects.none()
        return tenant_events(principal_of(self.request))
