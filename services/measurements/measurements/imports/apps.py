from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "measurements.imports"
    label = "imports"
