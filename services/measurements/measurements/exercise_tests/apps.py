from django.apps import AppConfig


class ExerciseTestsConfig(AppConfig):
    name = "measurements.exercise_tests"
    label = "exercise_tests"
