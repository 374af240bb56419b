"""Deactivate a user everywhere (their refresh tokens are revoked; identity refuses their access tokens at once)."""
from django.core.management.base import BaseCommand, CommandError

from identity.accounts.actions import deactivate_user
from identity.accounts.queries import user_by_email


class Command(BaseCommand):
    help = "Deactivate a user in every tenant and revoke their refresh tokens."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)

    def handle(self, *args, **opts):
        user = user_by_email(opts["email"])
        if user is None:
            raise CommandError("no such user")
        deactivate_user(user)
        self.stdout.write(f"Deactivated {user.email}.")
