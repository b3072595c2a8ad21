"""Drop the database foreign key that older schemas kept from identities (and events) to sources.

Events and identities hold a plain source id, so `profiles` depends on no other app. A database
migrated before that still has a constraint from `profiles_identity.source_id` to
`integrations_source` (events lost theirs in 0004; both tables are checked all the same). It is
found by its column, whatever its generated name, and dropped. A fresh database has none: no-op.

SQLite is left as it is. It cannot drop a constraint in place, only by copying the whole table,
and the old constraint there can only fire for an identity of a deleted source, while
`integrations` deletes only sources without events, from which every identity is derived.
"""

from django.db import migrations

from cdp_site.db import foreign_keys_drop


def drop_source_foreign_keys(apps, schema_editor):
    for model_name in ("Identity", "Event"):
        table = apps.get_model("profiles", model_name)._meta.db_table
        foreign_keys_drop(schema_editor, table=table, column="source_id")


class Migration(migrations.Migration):
    dependencies = [("profiles", "0007_identity_splits")]

    operations = [migrations.RunPython(drop_source_foreign_keys, migrations.RunPython.noop)]
