from django.apps import AppConfig


class InappConfig(AppConfig):
    name = "notifications.inapp"
    label = "inapp"
