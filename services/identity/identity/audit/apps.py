from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "identity.audit"
    label = "audit"
