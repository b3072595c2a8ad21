"""Search inside the local part of e-mails (PostgreSQL only; SQLite scans): "silva" finds
rosa.silva@example.com through a trigram index on the part before the "@" of e-mail identities."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS identity_email_local_trgm ON profiles_identity "
        "USING gin (split_part(value, '@', 1) gin_trgm_ops) WHERE kind = 'email'"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS identity_email_local_trgm")


class Migration(migrations.Migration):
    dependencies = [("profiles", "0015_identity_rule_changes_and_rebuilds")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
