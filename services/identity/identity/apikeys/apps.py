from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "identity.apikeys"
    label = "apikeys"

    def ready(self):
        from . import actions  # noqa: F401  (registers how identity honours API-key tokens)
