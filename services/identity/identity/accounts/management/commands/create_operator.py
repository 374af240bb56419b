"""A platform operator (manages tenants; belongs to none). For SaaS installs; idempotent for an existing e-mail."""
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from servicekit.problems import ProblemError

from identity.accounts.actions import create_user, make_operator
from identity.accounts.queries import user_by_email


class Command(BaseCommand):
    help = "Create a platform operator, or make an existing user one."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--full-name", default="")

    def handle(self, *args, **opts):
        try:
            with transaction.atomic():
                user = user_by_email(opts["email"])
                if user is None:
                    user = create_user(opts["email"], opts["password"], full_name=opts["full_name"], is_operator=True)
                else:
                    make_operator(user)
        except ProblemError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"{user.email} is a platform operator.")
