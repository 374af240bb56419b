"""HTTP layer for the audit log: owners and admins read their tenant's security events."""
from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers, viewsets

from servicekit.django.drf import ManagersOnly, principal_of

from .models import AuditEvent
from .queries import tenant_events


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ("id", "kind", "actor", "subject_user_id", "data", "request_id", "created_at")
        read_only_fields = fields


class AuditEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AuditEvent.Kind.choices)
    subject_user_id = django_filters.UUIDFilter()

    class Meta:
        model = AuditEvent
        fields = ("kind", "subject_user_id")


class AuditEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Security events of the caller's tenant, newest first (cursor pages)."""

    serializer_class = AuditEventSerializer
    permission_classes = [ManagersOnly]
    filterset_class = AuditEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return AuditEvent.objects.none()
        return tenant_events(principal_of(self.request))
