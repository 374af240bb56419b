from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "identity.tokens"
    label = "tokens"

    def ready(self):
        from . import actions  # noqa: F401  (registers the refresh-token revocation when access ends)
