"""python manage.py run_consumer — handle the events this service subscribes to (its own process; scale freely)."""
import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from servicekit.events import registry
from servicekit.events.consumer import EventConsumer

log = logging.getLogger("vo2.events.consumer")


class Command(BaseCommand):
    help = "Consume <service>.events: inbox dedup, handler, commit, then ack; bounded retries, then dead letters."

    def add_arguments(self, parser):
        parser.add_argument("--name", default=None, help="queue prefix (default: the service name)")
        parser.add_argument("--handlers", action="append", default=[],
                            help="extra module(s) registering handlers (besides settings.EVENT_CONSUMERS)")
        parser.add_argument("--declare-only", action="store_true",
                            help="declare the queue and its bindings, then exit (run before anything publishes, so "
                                 "no event is routed to nowhere)")

    def handle(self, *args, name=None, handlers=(), declare_only=False, **options):
        found = registry.load(list(handlers))
        if not found:
            raise CommandError("no event handlers registered (see settings.EVENT_CONSUMERS)")
        # the service's batch size whatever the queue's name (settings.EVENTS_BATCH_SIZE; 1 when unset)
        consumer = EventConsumer(name or settings.SERVICE_NAME, found,
                                 batch_size=int(getattr(settings, "EVENTS_BATCH_SIZE", 1) or 1))
        if declare_only:
            from servicekit.events import broker

            with broker.connection(consumer.url) as conn:
                queue, _ = consumer.declare(conn.channel())
            self.stdout.write(f"declared {queue.name}")
            return
        from servicekit import metrics, tracing

        tracing.setup(settings.SERVICE_NAME, role="consumer")
        metrics.serve()  # METRICS_PORT: handled, retried, dead-lettered, the dead-letter queue's depth
        consumer.install_signal_handlers()
        consumer.run()
        log.info("consumer stopped: %s", consumer.stats)
