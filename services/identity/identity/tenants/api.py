"""HTTP layer for tenants: the caller's own tenant; the request and answer shapes of the platform operator's
tenants (their views are accounts.api.OperatorTenantViewSet: a tenant is created with its first owner)."""
from __future__ import annotations

from rest_framework import generics, serializers

from servicekit.django.drf import principal_of, roles_allowed
from servicekit.principal import MANAGER_ROLES

from . import actions, queries
from .models import LANGUAGES, Tenant


class TenantSettingsSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=LANGUAGES, required=False, help_text="report and e-mail language")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: "unknown setting" for key in unknown})
        return super().to_internal_value(data)


class TenantSerializer(serializers.ModelSerializer):
    settings = TenantSettingsSerializer(required=False)

    class Meta:
        model = Tenant
        fields = ("id", "name", "slug", "plan", "on_trial", "paid_until", "settings", "created_at", "updated_at")
        read_only_fields = ("id", "slug", "plan", "on_trial", "paid_until", "created_at", "updated_at")


class CurrentTenantView(generics.RetrieveUpdateAPIView):
    """The caller's tenant: every member reads it; owners and admins change its name and settings."""

    serializer_class = TenantSerializer
    permission_classes = [roles_allowed(read=None, write=MANAGER_ROLES)]
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return queries.current_tenant(principal_of(self.request))

    def perform_update(self, serializer):
        serializer.instance = actions.update_tenant(serializer.instance, by=principal_of(self.request),
                                                    **serializer.validated_data)


class OwnerRequest(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=1024, required=False, trim_whitespace=False, write_only=True,
                                     help_text="initial password when the owner has no account yet")


class TenantCreateRequest(serializers.ModelSerializer):
    settings = TenantSettingsSerializer(required=False)
    owner = OwnerRequest()

    class Meta:
        model = Tenant
        fields = ("name", "slug", "plan", "on_trial", "paid_until", "settings", "owner")
