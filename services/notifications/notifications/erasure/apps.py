from django.apps import AppConfig


class ErasureConfig(AppConfig):
    name = "notifications.erasure"
    label = "erasure"
