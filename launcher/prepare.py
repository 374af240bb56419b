"""SaaS mode: one Django service made ready to start, in one process: migrations, then its consumer's queue declared
(local mode does the same in the service's own web process, launcher/local_process.py).

    python launcher/prepare.py [--declare-queue] [-- <management command> <args>…]   (cwd: the service)

The launcher runs this for every service at once (each its own process, so each loads its own settings), instead
of one `manage.py` process per step one after the other: a cold start pays for Django's start once per service.
Migrations run as the owner role (DATABASE_MIGRATE_URL) when one is set, as `manage.py migrate` does; a command
after `--` (the first start's bootstrap) then runs in a fresh process as the application role.
"""
from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    declare = "--declare-queue" in argv
    after = argv[argv.index("--") + 1:] if "--" in argv else []
    app_env = dict(os.environ)
    if os.environ.get("DATABASE_MIGRATE_URL"):
        os.environ["DATABASE_URL"] = os.environ["DATABASE_MIGRATE_URL"]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    if declare:  # queues exist before anything publishes, so no event is routed to nowhere
        call_command("run_consumer", "--declare-only")
    if after:
        if os.environ.get("DATABASE_MIGRATE_URL"):  # the owner role ran the migrations; the rest runs as the app
            sys.stdout.flush()
            return subprocess.run([sys.executable, "manage.py", *after], env=app_env).returncode
        call_command(*after)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
