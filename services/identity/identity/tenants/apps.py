from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "identity.tenants"
    label = "tenants"

    def ready(self):
        from . import metrics

        metrics.watch()  # plan states, read when this process's metrics are scraped
