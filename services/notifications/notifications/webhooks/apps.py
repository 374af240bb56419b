from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "notifications.webhooks"
    label = "webhooks"
