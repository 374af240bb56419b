from django.apps import AppConfig


class ErasureConfig(AppConfig):
    name = "measurements.erasure"
    label = "erasure"

    def ready(self):
        # the deletion hooks register on import: every process that deletes (web, worker, consumer) needs them
        from . import actions  # noqa: F401
