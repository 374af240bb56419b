from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "identity.sso"
    label = "sso"

    def ready(self):
        from . import actions  # noqa: F401  (registers the "password login allowed?" check with tokens)
