from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    name = "notifications.preferences"
    label = "preferences"
