from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "notifications.directory"
    label = "directory"
