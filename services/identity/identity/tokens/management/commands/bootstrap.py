"""First start: the first tenant and its owner, when there is none yet. Safe to run on every start."""
from django.core.management.base import BaseCommand, CommandError

from servicekit.config import is_local
from servicekit.problems import ProblemError

from identity.tokens.actions import bootstrap


class Command(BaseCommand):
    help = "Create the first tenant and its owner if no tenant exists yet (idempotent); prints the login."

    def add_arguments(self, parser):
        parser.add_argument("--tenant-name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="the owner's password; generated and printed once when omitted")
        parser.add_argument("--full-name", default="")
        parser.add_argument("--operator", action="store_true", help="also make the owner a platform operator")
        parser.add_argument("--plan", help="the tenant's plan (default: 'local' in local mode, else 'starter')")

    def handle(self, *args, **opts):
        try:
            tenant, generated = bootstrap(
                name=opts["tenant_name"], slug=opts["slug"], email=opts["email"], password=opts["password"],
                full_name=opts["full_name"], operator=opts["operator"],
                plan=opts["plan"] or ("local" if is_local() else None))
        except ProblemError as exc:
            raise CommandError(exc.detail) from exc
        if tenant is None:
            self.stdout.write("identity is set up already; nothing changed. "
                              f"Log in with your e-mail and existing password.")
            return
        self.stdout.write(f"Created tenant {tenant.name!r} (slug {tenant.slug}).")
        self.stdout.write(f"Log in: e-mail {opts['email'].strip().lower()}, tenant {tenant.slug}")
        if generated:
            self.stdout.write(f"Password (shown once; you must change it at the first login): {generated}")
        elif opts["password"] is None:
            self.stdout.write("The user existed already and keeps their password.")
