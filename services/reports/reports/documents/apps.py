from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "reports.documents"
    label = "documents"
