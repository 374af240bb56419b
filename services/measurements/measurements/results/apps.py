from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "measurements.results"
    label = "results"

    def ready(self):
        # a test's deletion anonymises its audit through a hook registered on import, in every process
        from . import actions  # noqa: F401
