"""HTTP layer of webhooks (owners and admins): endpoints, the secret shown once (on creation and rotation), the
delivery log, a manual retry, a ping."""
from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from servicekit.django import serializers as strict
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from servicekit.django import idempotency
from servicekit.django.drf import CursorPage, ManagersOnly, principal_of
from servicekit.django.routers import UUID_REGEX

from .. import events
from . import actions, addresses, queries, tasks
from .models import Attempt, Delivery, Endpoint, ManualSend


def event_patterns() -> list[str]:
    """What `events` may hold: each type, `*`, and each type's prefixes with `.*` (fnmatch patterns match more,
    but these are the ones that name something)."""
    found = ["*"]
    for event_type in events.WEBHOOK_EVENT_TYPES:
        parts = event_type.split(".")
        found += [".".join(parts[:n]) + ".*" for n in range(1, len(parts))] + [event_type]
    return list(dict.fromkeys(found))


class EndpointSerializer(strict.ModelSerializer):
    url = serializers.RegexField(r"^https?://[^/?#\s]+([/?#]\S*)?$", max_length=2000, help_text=(
        "http(s)://host/…; the host must resolve (with WEBHOOK_PUBLIC_ONLY: https, to public addresses only)"))
    events = serializers.ListField(child=serializers.ChoiceField(choices=event_patterns()), min_length=1,
                                   max_length=50, help_text="event types or patterns, e.g. reports.report.ready, "
                                                            "reports.*, *")

    class Meta:
        model = Endpoint
        fields = ("id", "url", "events", "description", "enabled", "disabled_reason", "created_at", "updated_at")
        read_only_fields = ("id", "disabled_reason", "created_at", "updated_at")

    def validate_url(self, value):
        try:
            addresses.check(value)
        except addresses.Refused as exc:
            raise serializers.ValidationError(str(exc))
        return value

    def validate_events(self, value):
        unknown = actions.unknown_patterns(value)
        if unknown:
            raise serializers.ValidationError(
                f"no event type matches {', '.join(unknown)}; known: {', '.join(events.WEBHOOK_EVENT_TYPES)}")
        return value


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="shown here only: keep it to verify signatures")

    class Meta(EndpointSerializer.Meta):
        fields = EndpointSerializer.Meta.fields + ("secret",)
        read_only_fields = EndpointSerializer.Meta.read_only_fields + ("secret",)


class AttemptSerializer(strict.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ("at", "status_code", "latency_ms", "response_excerpt", "error")
        read_only_fields = fields


class DeliverySerializer(strict.ModelSerializer):
    status = serializers.CharField(source="public_status", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ("id", "event_id", "event_type", "status", "attempts", "next_attempt_at", "problem", "created_at",
                  "finished_at", "attempt_log")
        read_only_fields = fields


class DeliveryPage(CursorPage):
    page_size = 50


class EndpointViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The tenant's webhook endpoints. Owners and admins only; another tenant's id answers 404."""

    serializer_class = EndpointSerializer
    permission_classes = [ManagersOnly]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = UUID_REGEX

    def get_queryset(self):
        return queries.endpoints()

    @extend_schema(responses={201: EndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        key = idempotency.key_from(request)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = principal_of(request)
        # a replay (same key and body, same caller) answers the first creation again, secret included: the caller
        # lost that answer
        endpoint, created = idempotency.create_once(
            Endpoint, by=principal, key=key, fields=serializer.validated_data,
            create=lambda extra: actions.create_endpoint(principal, **serializer.validated_data, **extra))
        return idempotency.created_response(EndpointWithSecretSerializer(endpoint).data,
                                            f"/api/v1/webhooks/{endpoint.id}", created)

    def perform_update(self, serializer):
        actions.update_endpoint(serializer.instance, principal_of(self.request), **serializer.validated_data)

    def perform_destroy(self, instance):
        actions.delete_endpoint(instance)

    @extend_schema(request=None, responses=EndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret (shown here once); the old one keeps signing beside it during the overlap."""
        endpoint = actions.rotate_secret(self.get_object(), principal_of(request))
        return Response(EndpointWithSecretSerializer(endpoint).data)

    def _send_once(self, request, kind: str, target: str, send):
        """`send()` → the delivery to send now; with an Idempotency-Key, a retry of this request (same caller, key,
        kind and target) answers the first 202 again and sends nothing (servicekit.django.idempotency)."""
        key = idempotency.key_from(request)
        principal = principal_of(request)

        def first(extra):
            delivery = send()
            tasks.send_after_commit(delivery)
            sent = ManualSend(tenant_id=delivery.tenant_id, kind=kind, delivery=delivery,
                              requested_by=principal.user_id, answer=DeliverySerializer(delivery).data, **extra)
            if extra:  # only a keyed request is remembered
                sent.save()
            return sent

        with transaction.atomic():
            sent, created = idempotency.create_once(
                ManualSend, by=principal, key=key, fields={"kind": kind, "target": target},
                scope={"requested_by": principal.user_id}, create=first)
        headers = {} if created else {idempotency.REPLAYED_HEADER: "true"}
        return Response(sent.answer, status=status.HTTP_202_ACCEPTED, headers=headers)

    @extend_schema(request=None, responses={202: DeliverySerializer}, parameters=[idempotency.openapi_parameter()])
    @action(detail=True, methods=["post"], url_path="ping")
    def ping(self, request, pk=None):
        """Send a notifications.webhook.ping event to this endpoint now (even a disabled one); follow it in the log."""
        endpoint = self.get_object()
        return self._send_once(request, ManualSend.Kind.PING, str(endpoint.pk),
                               lambda: actions.ping(endpoint, principal_of(request)))

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"], url_path="deliveries", pagination_class=DeliveryPage)
    def deliveries(self, request, pk=None):
        """Every delivery to this endpoint, newest first, each with every attempt (time, status, latency, excerpt)."""
        page = self.paginate_queryset(queries.deliveries_of(self.get_object()))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: DeliverySerializer}, parameters=[idempotency.openapi_parameter()])
    @action(detail=True, methods=["post"], url_path=rf"deliveries/(?P<delivery_id>{UUID_REGEX})/retry")
    def retry(self, request, pk=None, delivery_id=None):
        """Send this delivery again now (same webhook-id), with a fresh retry schedule."""
        endpoint = self.get_object()
        get_object_or_404(Delivery.objects, endpoint=endpoint, pk=delivery_id)  # 404 before a key is looked at

        def send():
            delivery = get_object_or_404(Delivery.objects.select_for_update(), endpoint=endpoint, pk=delivery_id)
            return actions.retry(delivery)

        return self._send_once(request, ManualSend.Kind.RETRY, str(delivery_id), send)
