from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "identity.tenants"
    label = "tenants"
