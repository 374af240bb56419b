from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "identity.accounts"
    label = "accounts"
