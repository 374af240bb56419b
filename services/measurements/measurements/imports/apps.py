from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "measurements.imports"
    label = "imports"

    def ready(self):
        from . import actions  # noqa: F401  (registers its hooks on a test's and an athlete's deletion)
