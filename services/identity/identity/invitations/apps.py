from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    name = "identity.invitations"
    label = "invitations"
