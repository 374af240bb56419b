from django.apps import AppConfig


class ErasureConfig(AppConfig):
    name = "measurements.erasure"
    label = "erasure"
