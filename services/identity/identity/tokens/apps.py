from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "identity.tokens"
    label = "tokens"
