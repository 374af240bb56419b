"""python manage.py run_relay — publish this service's outbox to the broker (its own process; scale freely)."""
import logging

from django.core.management.base import BaseCommand

from servicekit.events.relay import Relay

log = logging.getLogger("vo2.events.relay")


class Command(BaseCommand):
    help = "Publish pending outbox events to vo2.events with publisher confirms (runs until SIGTERM)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--poll", type=float, default=None, help="seconds between polls when idle")
        parser.add_argument("--until-idle", action="store_true", help="exit once the outbox is empty")

    def handle(self, *args, batch_size=None, poll=None, until_idle=False, **options):
        from django.conf import settings

        from servicekit import metrics, tracing

        tracing.setup(settings.SERVICE_NAME, role="relay")
        metrics.serve()  # METRICS_PORT: its pending count, oldest age, published, failures
        relay = Relay(batch_size=batch_size, poll_interval=poll)
        relay.install_signal_handlers()
        log.info("relay started")
        try:
            relay.run(until_idle=until_idle)
        finally:
            relay.close()
            log.info("relay stopped after sending %d event(s)", relay.sent)
