"""Send `identity.tenant.deleted` again for tenant deletions a service has not confirmed (identity runs no Celery
worker: schedule this command, or the beat's task, e.g. every few minutes)."""
from django.core.management.base import BaseCommand

from identity.accounts import actions


class Command(BaseCommand):
    help = "re-send unconfirmed tenant deletions"

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=300.0,
                            help="seconds since the request last went out (default 300)")

    def handle(self, *args, older_than: float, **opts):
        sent = actions.reemit_tenant_deletions(older_than_s=older_than)
        self.stdout.write(f"re-sent {sent} tenant deletion request(s)")
