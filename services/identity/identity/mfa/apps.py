from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "identity.mfa"
    label = "mfa"

    def ready(self):
        from . import actions  # noqa: F401  (registers the second-factor check with tokens' login)
