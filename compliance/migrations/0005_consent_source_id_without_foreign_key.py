"""Drop the database foreign key that older schemas kept from consent records to sources.

Consent records hold a plain source id, as events do, so `compliance` holds no relation into
`integrations`. A database migrated before that still has the constraint; it is dropped. A fresh
database has none: no-op. SQLite is left as it is (it could drop a constraint only by copying the
whole table, and the old one fires only for a record of a deleted source, while `integrations`
deletes only sources without events, from which every recorded choice comes).
"""

from django.db import migrations

from cdp_site.db import foreign_keys_drop


def drop_source_foreign_key(apps, schema_editor):
    table = apps.get_model("compliance", "ConsentRecord")._meta.db_table
    foreign_keys_drop(schema_editor, table=table, column="source_id")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0004_audit_log_append_only")]

    operations = [migrations.RunPython(drop_source_foreign_key, migrations.RunPython.noop)]
