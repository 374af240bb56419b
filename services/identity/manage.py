#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")
    from servicekit.django.settings import migrate_url_in_effect

    migrate_url_in_effect()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
