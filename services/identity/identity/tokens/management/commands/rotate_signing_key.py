"""Key rotation: a new active signing key; the previous one stays published (passive) until its tokens expired."""
from django.core.management.base import BaseCommand

from identity.tokens.actions import retire_expired_keys, rotate_signing_key


class Command(BaseCommand):
    help = ("Make a new active signing key. The previous key turns passive and stays in the JWKS until every token it "
            "signed has expired, so nobody is logged out. Passive keys past that point are retired.")

    def add_arguments(self, parser):
        parser.add_argument("--retire-only", action="store_true",
                            help="only retire passive keys whose tokens have all expired; make no new key")

    def handle(self, *args, **opts):
        if opts["retire_only"]:
            retired = retire_expired_keys()
            self.stdout.write(f"Retired {len(retired)} key(s): {', '.join(retired) or '-'}")
            return
        key = rotate_signing_key(actor="command:rotate_signing_key")
        self.stdout.write(f"New active signing key {key.kid}.")
