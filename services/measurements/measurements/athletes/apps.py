from django.apps import AppConfig


class AthletesConfig(AppConfig):
    name = "measurements.athletes"
    label = "athletes"
