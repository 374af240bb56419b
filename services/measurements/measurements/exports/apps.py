from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "measurements.exports"
    label = "exports"

    def ready(self):
        # an athlete's deletion removes its export files through a hook registered on import
        from . import actions  # noqa: F401
