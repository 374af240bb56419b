"""python manage.py dead_letters list | replay [--id EVENT_ID ...] [--all]"""
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from servicekit.events import deadletters


class Command(BaseCommand):
    help = "List this service's dead-lettered events, or replay them into its queue."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "replay"])
        parser.add_argument("--id", dest="ids", action="append", default=[], help="event id (repeatable)")
        parser.add_argument("--all", action="store_true", help="replay every dead letter")
        parser.add_argument("--name", default=None, help="queue prefix (default: the service name)")
        parser.add_argument("--json", action="store_true", help="list as JSON lines")

    def handle(self, *args, action, ids, all=False, name=None, json=False, **options):
        service = name or settings.SERVICE_NAME
        if action == "list":
            letters = deadletters.list_dead_letters(service)
            for letter in letters:
                if json:
                    self.stdout.write(_json(letter.as_dict()))
                else:
                    d = letter.as_dict()
                    self.stdout.write(f"{d['id']}  {d['type']}  tenant={d['tenantid']}  reason={d['reason']}  "
                                      f"deliveries={d['deliveries']}")
            self.stderr.write(f"{len(letters)} dead letter(s) in {service}.events.dlq")
            return
        if not ids and not all:
            raise CommandError("replay needs --id EVENT_ID (repeatable) or --all")
        replayed = deadletters.replay(service, ids=None if all else set(ids))
        for event_id in replayed:
            self.stdout.write(f"replayed {event_id}")
        missing = set(ids) - set(replayed)
        if missing:
            raise CommandError(f"not in the dead-letter queue: {', '.join(sorted(missing))}")


def _json(value):
    return json.dumps(value, ensure_ascii=False)
