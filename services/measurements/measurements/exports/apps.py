from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "measurements.exports"
    label = "exports"
