from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "notifications.mail"
    label = "mail"
