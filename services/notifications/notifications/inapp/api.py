"""HTTP layer for in-app notifications: list your own (cursor pages, ?unread=true), mark one read."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from servicekit.django import serializers as strict
from rest_framework.decorators import action
from rest_framework.response import Response

from servicekit.django.drf import principal_of

from . import actions
from .models import Notification
from .queries import own_notifications


class NotificationSerializer(strict.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ("id", "kind", "title", "body", "data", "read", "read_at", "created_at")
        read_only_fields = fields

    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class NotificationFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(method="filter_unread", label="only unread (true) or only read (false)")
    kind = django_filters.CharFilter()

    class Meta:
        model = Notification
        fields = ("kind",)

    def filter_unread(self, queryset, name, value):
        return queryset.filter(read_at__isnull=value)


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own notifications; another user's or tenant's id answers 404."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return own_notifications(principal_of(self.request))

    @extend_schema(responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}))
    @action(detail=False, methods=["get"], url_path="unread-count", filterset_class=None, pagination_class=None)
    def unread_count(self, request):
        """How many of the caller's notifications are unread."""
        return Response({"unread": self.get_queryset().filter(read_at__isnull=True).count()})

    @extend_schema(request=None, responses=inline_serializer("MarkedRead", {"marked": serializers.IntegerField()}))
    @action(detail=False, methods=["post"], url_path="read-all", filterset_class=None, pagination_class=None)
    def read_all(self, request):
        """Mark every unread notification of the caller read."""
        return Response({"marked": actions.mark_all_read(principal_of(request).user_id)})

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"], url_path="read")
    def read(self, request, pk=None):
        notification = actions.mark_read(self.get_object())
        return Response(self.get_serializer(notification).data)
