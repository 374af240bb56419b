"""HTTP layer for tenants: the caller's own tenant; the request and answer shapes of the platform operator's
tenants (their views are accounts.api.OperatorTenantViewSet: a tenant is created with its first owner)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from servicekit.django import serializers as strict
from rest_framework.response import Response

from servicekit.django.drf import principal_of, roles_allowed
from servicekit.principal import MANAGER_ROLES, TENANT_ROLES

from . import actions, plans, queries
from .models import LANGUAGES, Tenant


class TenantSettingsSerializer(strict.Serializer):
    openapi_extra = {"additionalProperties": False}  # another key is 400 `unknown setting`
    language = serializers.ChoiceField(choices=LANGUAGES, required=False, help_text="report and e-mail language")
    mfa_required_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=TENANT_ROLES), required=False, max_length=len(TENANT_ROLES),
        help_text="roles whose members must sign in with a second factor (all roles: the whole tenant)")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: "unknown setting" for key in unknown})
        return super().to_internal_value(data)


class TenantSerializer(strict.ModelSerializer):
    settings = TenantSettingsSerializer(required=False)
    limits = serializers.SerializerMethodField(help_text="the plan's quotas (null: unlimited) and read-only state")

    class Meta:
        model = Tenant
        fields = ("id", "name", "slug", "plan", "on_trial", "trial_ends", "paid_until", "settings", "limits",
                  "created_at", "updated_at")
        read_only_fields = ("id", "slug", "plan", "on_trial", "trial_ends", "paid_until", "created_at", "updated_at")

    def get_limits(self, tenant) -> dict:
        since = plans.read_only_from(tenant)
        return {"quotas": plans.quotas_of(tenant), "read_only": plans.is_read_only(tenant),
                "read_only_from": since.isoformat() if since else None}


class QuotaOverrides(strict.Serializer):
    members = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    api_keys = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    imports_per_month = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    storage_mb = serializers.IntegerField(min_value=0, allow_null=True, required=False)


class PlanChangeRequest(strict.Serializer):
    """What the platform operator changes on a tenant (PATCH /api/v1/tenants/{id}/)."""

    plan = serializers.ChoiceField(choices=Tenant.Plan.choices, required=False)
    on_trial = serializers.BooleanField(required=False)
    trial_ends = serializers.DateField(required=False, allow_null=True)
    paid_until = serializers.DateField(required=False, allow_null=True)
    quotas = QuotaOverrides(required=False, help_text="per-tenant overrides of the plan's quotas; null: unlimited")


class OperatorPlanChange:
    """Mixed into the operator's tenant views: PATCH changes the plan (tenants.actions.change_plan, audited)."""

    @extend_schema(request=PlanChangeRequest, responses={200: TenantSerializer})
    def partial_update(self, request, pk=None):
        tenant = self.get_object()
        body = PlanChangeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        tenant = actions.change_plan(tenant, by=principal_of(request), **body.validated_data)
        return Response(TenantSerializer(tenant).data)


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


class OwnerRequest(strict.Serializer):
    email = serializers.EmailField(max_length=254)
    full_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=1024, required=False, trim_whitespace=False, write_only=True,
                                     help_text="initial password when the owner has no account yet")


class TenantCreateRequest(strict.ModelSerializer):
    settings = TenantSettingsSerializer(required=False)
    owner = OwnerRequest()

    class Meta:
        model = Tenant
        fields = ("name", "slug", "plan", "on_trial", "trial_ends", "paid_until", "settings", "owner")
