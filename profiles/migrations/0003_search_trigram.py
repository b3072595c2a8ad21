"""Search indexes (PostgreSQL only; SQLite scans): profile names by trigram, identifiers by prefix."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS profile_name_trgm ON profiles_profile "
        "USING gin (lower(traits->>'name') gin_trgm_ops)"
    )
    # LIKE 'prefix%' on any collation.
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS identity_value_prefix ON profiles_identity "
        "(value varchar_pattern_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS profile_name_trgm")
    schema_editor.execute("DROP INDEX IF EXISTS identity_value_prefix")


class Migration(migrations.Migration):
    dependencies = [("profiles", "0002_resolver_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
