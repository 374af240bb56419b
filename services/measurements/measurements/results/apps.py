from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "measurements.results"
    label = "results"
