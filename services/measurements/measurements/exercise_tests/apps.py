from django.apps import AppConfig


class ExerciseTestsConfig(AppConfig):
    name = "measurements.exercise_tests"
    label = "exercise_tests"

    def ready(self):
        from . import actions  # noqa: F401  (registers its hook on an athlete's deletion)
