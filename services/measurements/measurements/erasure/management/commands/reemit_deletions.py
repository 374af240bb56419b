"""Send deletion requests again: the periodic job's work now (`reemit_deletions`), or one subject's request even
when confirmed (`--tenant T --subject ID`: an operator checking that every service still finds nothing)."""
from django.core.management.base import BaseCommand, CommandError

from servicekit.tenancy import tenant_transaction

from measurements.erasure import actions, queries, tasks


class Command(BaseCommand):
    help = "re-send unconfirmed deletion requests (or one subject's)"

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="the tenant of --subject")
        parser.add_argument("--subject", help="an athlete's or test's id: send its request again, confirmed or not")

    def handle(self, *args, tenant=None, subject=None, **opts):
        if not subject:
            self.stdout.write(f"re-sent {tasks.reemit_unconfirmed()} deletion request(s)")
            return
        if not tenant:
            raise CommandError("--subject needs --tenant")
        with tenant_transaction(tenant):
            row = queries.deletion_of("athlete", subject) or queries.deletion_of("test", subject)
            if row is None:
                raise CommandError(f"no deletion of {subject} in tenant {tenant}")
            actions.reemit(row.pk, force=True)
        self.stdout.write(f"re-sent the deletion of {row.scope} {subject}")
