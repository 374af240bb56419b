"""PostgreSQL: every statement that writes outbox rows NOTIFYs `events_outbox`, which PostgreSQL delivers when the
writer commits (one per transaction: identical notifications of a transaction are folded), so an idle relay waits
on LISTEN instead of polling (servicekit.events.relay). A trigger rather than a NOTIFY in publish(): no extra round
trip for the writer, and no way to write rows that do not wake the relay. Nothing on SQLite (the relay polls)."""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION events_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('events_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_outbox_notify AFTER INSERT ON events_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION events_outbox_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS events_outbox_notify ON events_outbox;
DROP FUNCTION IF EXISTS events_outbox_notify();
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [("servicekit_events", "0001_initial")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
